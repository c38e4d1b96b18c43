/**
 * Incremental HTTP/1.x parser for the bytes of one direction of one connection. It takes the
 * socket segments in order, however the messages are cut (a header split over many reads,
 * several pipelined messages in one write), and frames each body as RFC 9112 section 6 says:
 * chunked (trailers included), Content-Length, no body (requests without either; responses to
 * HEAD, 1xx, 204, 304), or until the connection closes. Memory per direction is bounded: a
 * header section over `maxHeaderBytes` is a malformed message, body bytes past `maxBodyBytes`
 * are counted but not kept. After bytes it cannot parse it drops the rest of that segment and
 * resumes at the next segment that starts with a message, counting what it skipped.
 *
 * Bytes the kernel did not copy (a segment's `size` beyond its data, a `skip` before it, a jump in
 * `offset`) are counted as body where the framing says they are body (Content-Length, chunk data,
 * until close): the next message is then found where it starts. Where they fall in a header
 * section or a chunk-size line the message is lost and the parser resyncs.
 */
import type { Direction, HttpMessage, HttpStatusLine, SocketSegment } from './message';

export interface Http1Limits {
  /** Start line plus header fields (and, separately, chunked trailers). */
  maxHeaderBytes: number;
  /** Body bytes kept per message (for sampled content); the rest is only counted. */
  maxBodyBytes: number;
  /** Requests waiting for their response on one connection; the oldest is dropped beyond. */
  maxPendingRequests: number;
}

export const DEFAULT_HTTP1_LIMITS: Readonly<Http1Limits> = Object.freeze({
  maxHeaderBytes: 32 * 1024,
  maxBodyBytes: 64 * 1024,
  maxPendingRequests: 64,
});

/** What the parser saw but could not turn into messages; cumulative. */
export interface Http1ParseStats {
  messages: number;
  /** Bytes dropped while out of sync (not a message start, or after a malformed message). */
  skippedBytes: number;
  /** Header sections (or trailers) longer than maxHeaderBytes. */
  oversizedHeaders: number;
  /** Bad start lines, header fields, chunk sizes or Content-Length values. */
  malformed: number;
  /** Body bytes not kept because of maxBodyBytes (still counted in the sizes). */
  bodyBytesNotKept: number;
  /** Responses with no request waiting on the connection. */
  orphanResponses: number;
  /** Interim 1xx responses (other than 101); they answer no request on their own. */
  interimResponses: number;
  /** Requests dropped unanswered because of maxPendingRequests. */
  droppedPendingRequests: number;
  /** Messages cut off by the connection closing. */
  incompleteAtClose: number;
  /** Messages lost because bytes of their header section or chunk framing were not copied. */
  uncaptured: number;
  /** Bytes after a protocol switch (101, CONNECT tunnel), not HTTP/1 any more. */
  tunneledBytes: number;
}

export const emptyParseStats = (): Http1ParseStats => ({
  messages: 0,
  skippedBytes: 0,
  oversizedHeaders: 0,
  malformed: 0,
  bodyBytesNotKept: 0,
  orphanResponses: 0,
  interimResponses: 0,
  droppedPendingRequests: 0,
  incompleteAtClose: 0,
  uncaptured: 0,
  tunneledBytes: 0,
});

/** How a response's body is framed, decided by the connection (it knows the request). */
export type ResponseFraming = 'normal' | 'no-body' | 'tunnel';

export interface StreamParserHooks {
  /** A request's header section is complete (the body may still follow). */
  requestHead(msg: HttpMessage): void;
  /** A response's header section is complete: how is its body framed? */
  responseHead(msg: HttpMessage): ResponseFraming;
  /** A message is complete. */
  message(msg: HttpMessage): void;
  /** The stream stops being HTTP/1 after the current message (101, CONNECT). */
  tunnel(): void;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'];
const RESPONSE_PREFIX = 'HTTP/';
const CR = 0x0d;
const LF = 0x0a;
const MAX_CHUNK_LINE = 1024;

/** The words a message starts with, as bytes (compared on every message: no string per call). */
const STARTS = [RESPONSE_PREFIX, ...METHODS.map((m) => `${m} `)].map((w) => Buffer.from(w, 'latin1'));

/** Could `prefix` (the first bytes of a message) start a request or a response? */
export function looksLikeMessageStart(prefix: Uint8Array, at = 0): boolean {
  const n = Math.min(prefix.length - at, 8);
  for (const word of STARTS) {
    const m = Math.min(n, word.length);
    let k = 0;
    while (k < m && prefix[at + k] === word[k]) k++;
    if (k === m) return true;
  }
  return false;
}

/** The ends of a header section: LF LF or LF CR LF (CRLF CRLF holds the latter). */
const HEAD_END_CRLF = Buffer.from('\n\r\n');
const HEAD_END_LF = Buffer.from('\n\n');

type State =
  | 'idle'
  | 'head'
  | 'body-length'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-data-end'
  | 'trailers'
  | 'until-close'
  | 'tunnel'
  | 'resync';

export class Http1StreamParser {
  private state: State = 'idle';
  private msg: HttpMessage | undefined;
  private headParts: Buffer[] = [];
  private headLen = 0;
  /** Progress through the blank line that ends a header section or trailers. */
  private eol = 0;
  private remaining = 0;
  private line: number[] = [];
  private bodyParts: Buffer[] = [];
  private bodyKept = 0;
  private trailerLen = 0;
  private chunkEndSeen = 0;
  private segmentSerial = 0;
  private lastSegmentSeen = -1;
  /** Stream offset just past the last segment (when segments carry offsets). */
  private nextOffset: number | undefined;
  /** Body bytes of the current message were not copied: keep no more of it. */
  private bodyHole = false;

  constructor(
    readonly direction: Direction,
    private readonly limits: Http1Limits,
    private readonly stats: Http1ParseStats,
    private readonly hooks: StreamParserHooks,
  ) {}

  /** True while a response is framed by the connection closing. */
  get readingUntilClose(): boolean {
    return this.state === 'until-close';
  }

  /** Body bytes of the current message still to come whose framing is known (0 when none). */
  get bodyRemaining(): number {
    return this.state === 'body-length' || this.state === 'chunk-data' ? this.remaining : 0;
  }

  push(seg: SocketSegment): void {
    const serial = this.segmentSerial++;
    const data = Buffer.isBuffer(seg.data)
      ? seg.data
      : Buffer.from(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength);
    if (this.state === 'resync') this.state = 'idle';
    let lead = seg.skip ?? 0;
    if (seg.offset !== undefined && this.nextOffset !== undefined && seg.offset > this.nextOffset) {
      lead += seg.offset - this.nextOffset;
    }
    if (seg.offset !== undefined && seg.size !== undefined) this.nextOffset = seg.offset + seg.size;
    if (lead > 0) this.gap(lead, seg, serial);
    this.parse(data, seg, serial);
    const trail = seg.size === undefined ? 0 : seg.size - (seg.skip ?? 0) - data.length;
    if (trail > 0) this.gap(trail, seg, serial);
  }

  private parse(data: Buffer, seg: SocketSegment, serial: number): void {
    let i = 0;
    while (i < data.length) {
      const before = i;
      const stateBefore: State = this.state;
      i = this.step(data, i, seg, serial);
      // Each step consumes bytes or changes state; anything else would loop forever.
      if (i === before && this.state === stateBefore) {
        throw new Error(`http1 parser made no progress in state ${this.state}`);
      }
    }
  }

  /** `n` bytes of the stream were not copied: body where the framing says so, else lost sync. */
  private gap(n: number, seg: SocketSegment, serial: number): void {
    while (n > 0) {
      switch (this.state) {
        case 'body-length':
        case 'chunk-data': {
          const k = Math.min(n, this.remaining);
          this.skipBody(k, seg, serial);
          this.remaining -= k;
          n -= k;
          if (this.remaining > 0) break;
          if (this.state === 'body-length') this.finish();
          else {
            this.state = 'chunk-data-end';
            this.chunkEndSeen = 0;
          }
          break;
        }
        case 'chunk-data-end': {
          // The CRLF after chunk data (assumed: a sender of bare LFs loses sync at the next size line).
          const k = Math.min(n, 2 - this.chunkEndSeen);
          this.touch(seg, serial, k);
          this.chunkEndSeen += k;
          n -= k;
          if (this.chunkEndSeen === 2) {
            this.state = 'chunk-size';
            this.line = [];
          }
          break;
        }
        case 'until-close':
          this.skipBody(n, seg, serial);
          return;
        case 'tunnel':
          this.stats.tunneledBytes += n;
          return;
        case 'idle':
        case 'resync':
          // Unknown bytes between messages: what follows is parsed only if it starts a message.
          this.stats.skippedBytes += n;
          return;
        default:
          this.stats.uncaptured++;
          this.stats.skippedBytes += n;
          this.reset('resync');
          return;
      }
    }
  }

  private skipBody(n: number, seg: SocketSegment, serial: number): void {
    this.touch(seg, serial, n);
    this.msg!.bodyTruncated = true;
    this.bodyHole = true;
    this.stats.bodyBytesNotKept += n;
  }

  /** The connection closed: a response read until close is complete; anything else is cut off. */
  close(): void {
    if (this.state === 'until-close' && this.msg) this.finish();
    else if (this.msg) this.stats.incompleteAtClose++;
    this.reset('idle');
  }

  private step(data: Buffer, i: number, seg: SocketSegment, serial: number): number {
    switch (this.state) {
      case 'idle': {
        // Blank lines between messages are allowed (RFC 9112 2.2).
        while (i < data.length && (data[i] === CR || data[i] === LF)) i++;
        if (i >= data.length) return data.length;
        if (!looksLikeMessageStart(data, i)) return this.resync(data, i);
        this.begin(seg, serial);
        this.state = 'head';
        return i;
      }
      case 'head':
        return this.readHead(data, i, seg, serial);
      case 'body-length': {
        const n = Math.min(this.remaining, data.length - i);
        this.keepBody(data.subarray(i, i + n), seg, serial);
        this.remaining -= n;
        if (this.remaining === 0) this.finish();
        return i + n;
      }
      case 'chunk-size':
        return this.readChunkSize(data, i, seg, serial);
      case 'chunk-data': {
        const n = Math.min(this.remaining, data.length - i);
        this.keepBody(data.subarray(i, i + n), seg, serial);
        this.remaining -= n;
        if (this.remaining === 0) {
          this.state = 'chunk-data-end';
          this.chunkEndSeen = 0;
        }
        return i + n;
      }
      case 'chunk-data-end': {
        // CRLF after the chunk data (a bare LF is tolerated).
        const b = data[i]!;
        this.touch(seg, serial, 1);
        if (b === CR && this.chunkEndSeen === 0) {
          this.chunkEndSeen = 1;
          return i + 1;
        }
        if (b === LF) {
          this.state = 'chunk-size';
          this.line = [];
          return i + 1;
        }
        return this.malformed(data, i);
      }
      case 'trailers':
        return this.readTrailers(data, i, seg, serial);
      case 'until-close': {
        this.keepBody(data.subarray(i), seg, serial);
        return data.length;
      }
      case 'tunnel':
        this.stats.tunneledBytes += data.length - i;
        return data.length;
      case 'resync':
        return this.resync(data, i);
    }
  }

  private begin(seg: SocketSegment, serial: number): void {
    this.msg = {
      direction: this.direction,
      headers: new Map(),
      head: Buffer.alloc(0),
      body: Buffer.alloc(0),
      bodyTruncated: false,
      headerSize: 0,
      bodySize: 0,
      startNs: seg.startNs,
      endNs: seg.endNs,
      segmentCount: 0,
    };
    this.lastSegmentSeen = -1;
    this.touch(seg, serial, 0);
  }

  /** Record that `seg` carried `bytes` more bytes of the current message. */
  private touch(seg: SocketSegment, serial: number, bytes: number): void {
    const msg = this.msg!;
    if (serial !== this.lastSegmentSeen) {
      this.lastSegmentSeen = serial;
      msg.segmentCount++;
      msg.endNs = seg.endNs;
    }
    if (this.state === 'head') msg.headerSize += bytes;
    else msg.bodySize += bytes;
  }

  private readHead(data: Buffer, i: number, seg: SocketSegment, serial: number): number {
    let j = i;
    let done = false;
    if (this.eol === 0) {
      // The usual case, a whole header section in one segment: find its end natively.
      // LF LF is looked for only before the CRLF CRLF (not through the body after it).
      const a = data.indexOf(HEAD_END_CRLF, i);
      const b = (a < 0 ? data : data.subarray(0, a + 1)).indexOf(HEAD_END_LF, i);
      const end = b >= 0 ? b + 2 : a >= 0 ? a + 3 : -1;
      if (end >= 0) {
        j = end;
        done = true;
      }
    }
    while (!done && j < data.length) {
      const b = data[j++]!;
      if (b === LF) {
        if (this.eol >= 1) {
          done = true;
          break;
        }
        this.eol = 1;
      } else if (b === CR) {
        if (this.eol === 1) this.eol = 2;
      } else {
        this.eol = 0;
      }
    }
    const part = data.subarray(i, j);
    if (this.headLen + part.length > this.limits.maxHeaderBytes) {
      this.stats.oversizedHeaders++;
      this.stats.skippedBytes += this.headLen + part.length;
      return this.drop(data, j);
    }
    this.headParts.push(Buffer.from(part));
    this.headLen += part.length;
    this.touch(seg, serial, part.length);
    if (done) return this.headComplete(data, j);
    return j;
  }

  private headComplete(data: Buffer, j: number): number {
    const msg = this.msg!;
    msg.head = this.headParts.length === 1 ? this.headParts[0]! : Buffer.concat(this.headParts, this.headLen);
    this.headParts = [];
    this.headLen = 0;
    this.eol = 0;
    if (!parseHead(msg)) {
      this.stats.malformed++;
      return this.drop(data, j);
    }
    if (msg.request) {
      const framing = bodyFraming(msg.headers);
      if (framing === 'invalid') {
        this.stats.malformed++;
        return this.drop(data, j);
      }
      this.hooks.requestHead(msg);
      if (msg.request.method === 'CONNECT') {
        // The tunnel starts only if the answer is 2xx; the request itself has no body.
        this.finish();
        return j;
      }
      this.startBody(framing === 'until-close' ? 0 : framing);
      return j;
    }
    const { status } = msg.response!;
    const decided = this.hooks.responseHead(msg);
    const bodyless = decided === 'no-body' || (status >= 100 && status < 200) || status === 204 || status === 304;
    if (bodyless || decided === 'tunnel') {
      this.finish();
      if (decided === 'tunnel') this.enterTunnel();
      return j;
    }
    const framing = bodyFraming(msg.headers);
    if (framing === 'invalid') {
      this.stats.malformed++;
      return this.drop(data, j);
    }
    this.startBody(framing);
    return j;
  }

  private startBody(framing: number | 'chunked' | 'until-close'): void {
    this.bodyParts = [];
    this.bodyKept = 0;
    if (framing === 'chunked') {
      this.state = 'chunk-size';
      this.line = [];
    } else if (framing === 'until-close') {
      this.state = 'until-close';
    } else if (framing === 0) {
      this.finish();
    } else {
      this.state = 'body-length';
      this.remaining = framing;
    }
  }

  private readChunkSize(data: Buffer, i: number, seg: SocketSegment, serial: number): number {
    let j = i;
    while (j < data.length && data[j] !== LF) this.line.push(data[j++]!);
    if (this.line.length > MAX_CHUNK_LINE) return this.malformed(data, j);
    if (j >= data.length) {
      this.touch(seg, serial, j - i);
      return j;
    }
    j++; // the LF
    this.touch(seg, serial, j - i);
    const text = Buffer.from(this.line).toString('latin1').replace(/\r$/, '');
    this.line = [];
    // chunk-size [ chunk-ext ]: the extension after ';' is ignored.
    const hex = text.split(';', 1)[0]!.trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return this.malformed(data, j);
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = 'trailers';
      this.eol = 1; // the size line's LF counts: an immediate CRLF ends the trailers
      this.trailerLen = 0;
      return j;
    }
    this.state = 'chunk-data';
    this.remaining = size;
    return j;
  }

  private readTrailers(data: Buffer, i: number, seg: SocketSegment, serial: number): number {
    let j = i;
    let done = false;
    while (j < data.length) {
      const b = data[j++]!;
      if (b === LF) {
        if (this.eol >= 1) {
          done = true;
          break;
        }
        this.eol = 1;
      } else if (b === CR) {
        if (this.eol === 1) this.eol = 2;
      } else {
        this.eol = 0;
      }
    }
    this.trailerLen += j - i;
    this.touch(seg, serial, j - i);
    if (this.trailerLen > this.limits.maxHeaderBytes) {
      this.stats.oversizedHeaders++;
      return this.drop(data, j);
    }
    if (done) {
      this.eol = 0;
      this.finish();
    }
    return j;
  }

  private keepBody(part: Buffer, seg: SocketSegment, serial: number): void {
    this.touch(seg, serial, part.length);
    const room = this.bodyHole ? 0 : this.limits.maxBodyBytes - this.bodyKept;
    if (room >= part.length) {
      this.bodyParts.push(Buffer.from(part));
      this.bodyKept += part.length;
      return;
    }
    if (room > 0) {
      this.bodyParts.push(Buffer.from(part.subarray(0, room)));
      this.bodyKept += room;
    }
    this.msg!.bodyTruncated = true;
    this.stats.bodyBytesNotKept += part.length - Math.max(room, 0);
  }

  private finish(): void {
    const msg = this.msg!;
    msg.body = Buffer.concat(this.bodyParts, this.bodyKept);
    this.bodyParts = [];
    this.bodyKept = 0;
    this.stats.messages++;
    this.reset('idle');
    this.hooks.message(msg);
  }

  private enterTunnel(): void {
    this.state = 'tunnel';
    this.hooks.tunnel();
  }

  /** Switch this direction to tunnel mode (the other direction saw the switch). */
  tunnelNow(): void {
    if (this.state === 'idle' || this.state === 'resync') this.state = 'tunnel';
  }

  private malformed(data: Buffer, at: number): number {
    this.stats.malformed++;
    return this.drop(data, at);
  }

  /** Give up on the current message: skip the rest of this segment. */
  private drop(data: Buffer, at: number): number {
    this.reset('resync');
    return this.resync(data, at);
  }

  private resync(data: Buffer, at: number): number {
    this.stats.skippedBytes += data.length - at;
    this.state = 'resync';
    return data.length;
  }

  private reset(state: State): void {
    this.state = state;
    this.msg = undefined;
    this.headParts = [];
    this.headLen = 0;
    this.eol = 0;
    this.remaining = 0;
    this.line = [];
    this.bodyParts = [];
    this.bodyKept = 0;
    this.bodyHole = false;
    this.trailerLen = 0;
  }
}

/** RFC 9110 tchar, by character code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TCHAR[c.charCodeAt(0)] = 1;

const isToken = (s: string): boolean => {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || !TCHAR[c]) return false;
  }
  return true;
};

/** The text of one line of a header section, from `at` to its LF (a CR before it left out). */
const lineEnd = (text: string, at: number): [end: number, next: number] => {
  const lf = text.indexOf('\n', at);
  const stop = lf < 0 ? text.length : lf;
  return [stop > at && text.charCodeAt(stop - 1) === CR ? stop - 1 : stop, lf < 0 ? text.length : lf + 1];
};

/** Fill the start line and headers of `msg` from `msg.head`; false if malformed. */
function parseHead(msg: HttpMessage): boolean {
  // Every message goes through here: one string, lines found with indexOf, no intermediate arrays.
  const text = msg.head.toString('latin1');
  let [end, next] = lineEnd(text, 0);
  const start = text.slice(0, end);
  const req = /^([A-Z]+) (\S+) (HTTP\/\d\.\d)$/.exec(start);
  if (req && METHODS.includes(req[1]!)) {
    msg.request = { method: req[1]!, target: req[2]!, version: req[3]! };
  } else {
    const res = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(start);
    if (!res) return false;
    msg.response = { version: res[1]!, status: Number(res[2]), reason: res[3] ?? '' } satisfies HttpStatusLine;
  }
  while (next < text.length) {
    const at = next;
    [end, next] = lineEnd(text, at);
    if (end === at) continue;
    const colon = text.indexOf(':', at);
    if (colon <= at || colon >= end) return false;
    const name = text.slice(at, colon);
    if (!isToken(name)) return false;
    const key = name.toLowerCase();
    const value = text.slice(colon + 1, end).trim();
    const prev = msg.headers.get(key);
    msg.headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  return true;
}

/** RFC 9112 6.3: chunked when it is the final transfer coding, else Content-Length. */
function bodyFraming(headers: Map<string, string>): number | 'chunked' | 'until-close' | 'invalid' {
  const te = headers.get('transfer-encoding');
  if (te !== undefined) {
    const codings = te
      .toLowerCase()
      .split(',')
      .map((c) => c.trim());
    return codings[codings.length - 1] === 'chunked' ? 'chunked' : 'until-close';
  }
  const cl = headers.get('content-length');
  if (cl === undefined) return 'until-close';
  if (/^\d{1,15}$/.test(cl)) return Number(cl);
  // Repeated identical values ("5, 5") are allowed; differing ones are not.
  const values = new Set(cl.split(',').map((v) => v.trim()));
  if (values.size !== 1) return 'invalid';
  const [v] = values;
  if (!/^\d{1,15}$/.test(v!)) return 'invalid';
  return Number(v);
}
