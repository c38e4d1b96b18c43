// The kernel copies at most NET_CAPTURE bytes of a syscall and may send no record at all for
// body bytes it was told to skip; segments then carry the syscall's size, the bytes skipped before
// the copy and the direction's stream offset. The parser must count the missing bytes as body
// where the framing says so and find the next message where it starts: the same exchanges, sizes
// and times as with everything copied, only the kept bodies shorter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Http1Connection } from './connection-parser';
import { messageSize, type Direction, type HttpExchange, type SocketSegment } from './message';

const CAPTURE = 1024;

interface Syscall {
  direction: Direction;
  bytes: Buffer;
}

const sys = (direction: Direction, ...parts: Array<string | Buffer>): Syscall => ({
  direction,
  bytes: Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))),
});

/**
 * What the kernel sends for these syscalls: every one, whole (`full`), or its first CAPTURE bytes
 * with its size and offset; `skip.until` (per direction, a stream offset), set before the call at
 * index `skip.from`, drops the ops that end before it and copies the one that reaches it from
 * there on, as net_skip does.
 */
interface Skip {
  from: number;
  until: Partial<Record<Direction, number>>;
}
function kernel(calls: Syscall[], mode: 'full' | 'cut', skip?: Skip): SocketSegment[] {
  const offsets: Record<Direction, number> = { egress: 0, ingress: 0 };
  const out: SocketSegment[] = [];
  calls.forEach((c, i) => {
    const startNs = 1_000 * (i + 1);
    const base = { direction: c.direction, startNs, endNs: startNs + 100 };
    const off = offsets[c.direction];
    offsets[c.direction] += c.bytes.length;
    if (mode === 'full') return out.push({ ...base, data: c.bytes });
    const until = skip && i >= skip.from ? (skip.until[c.direction] ?? 0) : 0;
    if (until > off + c.bytes.length) return; // inside the skipped body: no record
    const skipped = Math.max(0, Math.min(until - off, c.bytes.length));
    out.push({
      ...base,
      data: c.bytes.subarray(skipped, skipped + CAPTURE),
      size: c.bytes.length,
      skip: skipped,
      offset: off,
    });
  });
  return out;
}

function parse(segments: SocketSegment[]): { exchanges: HttpExchange[]; conn: Http1Connection } {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e));
  for (const s of segments) conn.push(s);
  return { exchanges, conn };
}

const summary = (e: HttpExchange) => ({
  target: e.request.request?.target,
  status: e.response.response?.status,
  side: e.side,
  durationNs: e.durationNs,
  requestSize: messageSize(e.request),
  responseSize: messageSize(e.response),
});

const body = (n: number, c = 'x'): Buffer => Buffer.alloc(n, c);
const request = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: svc\r\n${extra}\r\n`;
const response = (len: number) => `HTTP/1.1 200 OK\r\nContent-Length: ${len}\r\n\r\n`;

/** Both ways must give the same exchanges; returns the cut run. */
function sameAsFull(calls: Syscall[], skip?: Skip) {
  const full = parse(kernel(calls, 'full'));
  const cut = parse(kernel(calls, 'cut', skip));
  assert.deepEqual(cut.exchanges.map(summary), full.exchanges.map(summary));
  return { full, cut };
}

test('keep-alive: bodies longer than the capture in one write each, the next exchange still parses', () => {
  const calls: Syscall[] = [];
  for (let i = 0; i < 3; i++) {
    calls.push(sys('ingress', request(`/big/${i}`)));
    calls.push(sys('egress', response(5000 + i), body(5000 + i, String(i))));
  }
  const { cut } = sameAsFull(calls);
  assert.equal(cut.exchanges.length, 3);
  assert.equal(cut.conn.stats.uncaptured, 0);
  // The body kept is what was copied; the message is marked truncated.
  const r = cut.exchanges[1]!.response;
  assert.equal(r.bodyTruncated, true);
  assert.equal(r.body.length, CAPTURE - r.headerSize);
  assert.equal(r.body.toString('latin1'), '1'.repeat(r.body.length));
  assert.equal(r.bodySize, 5001);
});

test('a long request body in several writes, then pipelined requests answered in order', () => {
  const calls: Syscall[] = [
    sys('ingress', 'POST /upload HTTP/1.1\r\nHost: svc\r\nContent-Length: 7000\r\n\r\n', body(3000)),
    sys('ingress', body(4000)),
    // Two pipelined requests in one read, then their answers, the first longer than the capture.
    sys('ingress', request('/p/1'), request('/p/2')),
    sys('egress', response(2), 'ok'),
    sys('egress', response(3000), body(3000, 'a')),
    sys('egress', response(4), 'done'),
  ];
  const { cut } = sameAsFull(calls);
  assert.deepEqual(
    cut.exchanges.map((e) => e.request.request?.target),
    ['/upload', '/p/1', '/p/2'],
  );
  assert.equal(
    messageSize(cut.exchanges[0]!.request),
    'POST /upload HTTP/1.1\r\nHost: svc\r\nContent-Length: 7000\r\n\r\n'.length + 7000,
  );
});

test('chunked: chunks cut by the capture are counted by their sizes; framing lost inside a size line resyncs', () => {
  const chunk = (n: number, c: string) => `${n.toString(16)}\r\n${c.repeat(n)}\r\n`;
  const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const calls: Syscall[] = [
    sys('ingress', request('/chunked')),
    sys('egress', head, chunk(2000, 'a')),
    sys('egress', chunk(3000, 'b')),
    sys('egress', chunk(10, 'c'), '0\r\n\r\n'),
    sys('ingress', request('/after')),
    sys('egress', response(2), 'ok'),
  ];
  const { cut } = sameAsFull(calls);
  assert.equal(cut.exchanges.length, 2);
  assert.equal(
    cut.exchanges[0]!.response.bodySize,
    chunk(2000, 'a').length + chunk(3000, 'b').length + chunk(10, 'c').length + 5,
  );

  // Many small chunks in one write: the cut falls among chunk-size lines. That message is lost
  // (counted), the next one, in its own syscall, is parsed.
  const many = Array.from({ length: 200 }, () => chunk(8, 'z')).join('');
  const lossy: Syscall[] = [
    sys('ingress', request('/many')),
    sys('egress', head, many, '0\r\n\r\n'),
    sys('ingress', request('/next')),
    sys('egress', response(2), 'ok'),
  ];
  const { exchanges, conn } = parse(kernel(lossy, 'cut'));
  assert.deepEqual(
    exchanges.map((e) => e.request.request?.target),
    ['/next'],
  );
  assert.equal(conn.stats.uncaptured, 1);
});

test('a body the kernel skipped (no records for it) is counted from the offsets; the end time is the last write', () => {
  const len = 100_000;
  const payload = body(len, 'q');
  const calls: Syscall[] = [sys('ingress', request('/huge')), sys('egress', response(len), payload.subarray(0, 9000))];
  for (let at = 9000; at < len; at += 13_000)
    calls.push(sys('egress', payload.subarray(at, Math.min(len, at + 13_000))));
  calls.push(sys('ingress', request('/small')), sys('egress', response(5), 'small'));
  // What rover asks after the first response record: skip to the end of that body.
  const until = response(len).length + len;
  const skip = { from: 2, until: { egress: until } };
  const { full, cut } = sameAsFull(calls, skip);
  const segments = kernel(calls, 'cut', skip);
  assert.ok(segments.length < kernel(calls, 'full').length, 'ops inside the skipped body sent nothing');
  assert.equal(cut.exchanges[0]!.response.endNs, full.exchanges[0]!.response.endNs);
  assert.equal(cut.exchanges[0]!.response.bodySize, len);
  assert.equal(cut.exchanges[1]!.response.body.toString(), 'small');
});

test('an op that ends the skipped body and starts the next message: copied from the message on', () => {
  const calls: Syscall[] = [
    sys('ingress', request('/a'), request('/b')),
    sys('egress', response(20_000), body(9_000)),
    sys('egress', body(11_000), response(3), 'bbb'),
  ];
  const until = response(20_000).length + 20_000;
  const { cut } = sameAsFull(calls, { from: 2, until: { egress: until } });
  assert.equal(cut.exchanges[1]!.response.body.toString(), 'bbb');
});
