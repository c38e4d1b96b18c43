// HTTP/1.x observation of chosen processes on syscall tracepoints (http_observe.bpf.c): the kernel
// side copies the head of every HTTP-looking socket read/write of a target process into a ring
// buffer; this side pairs each request with the next response on the same (process, fd) and
// reports exchanges (URI, status, duration). No kprobes: only syscalls:sys_{enter,exit}_* .
import type { LibbpfLogger, RingBuffer } from '@swlite/libbpf-ts';
import { bpfObjectExists, bpfObjectPath } from './paths.js';
import { LoadedObject } from './core/loaded-object.js';
import { TargetTable } from './core/targets.js';
import { decodeHttpRecord, HttpCounter, type HttpRecord } from './http-layout.js';

export { decodeHttpRecord, HTTP_CAPTURE, type HttpRecord } from './http-layout.js';

export const HTTP_SYSCALLS = ['read', 'recvfrom', 'readv', 'recvmsg', 'write', 'sendto', 'writev', 'sendmsg'] as const;

/** One request and its response, as seen on one socket of one process. */
export interface HttpExchange {
  pid: number;
  fd: number;
  method: string;
  /** Path without the query string (as upstream rover reports it). */
  uri: string;
  status: number;
  /** Wall-clock epoch ms of the request. */
  startMs: number;
  /** From the request read (or write) to the response write (or read), in ms. */
  durationMs: number;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'HEAD']);

/** "GET /a/b?x=1 HTTP/1.1" → { method, uri: "/a/b" }; null when not a request line. */
export const parseRequestLine = (data: Buffer | string): { method: string; uri: string } | null => {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const sp = text.indexOf(' ');
  if (sp <= 0) return null;
  const method = text.slice(0, sp);
  if (!METHODS.has(method)) return null;
  let end = sp + 1;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    if (c === 0x20 /* ' ' */ || c === 0x3f /* ? */ || c === 0x0d || c === 0x0a) break;
    end++;
  }
  // Without the end of the target we may hold a truncated path: keep it (the capture is 255 bytes).
  const uri = text.slice(sp + 1, end);
  return uri ? { method, uri } : null;
};

/** "HTTP/1.1 500 Internal..." → 500; null when not a status line. */
export const parseStatusLine = (data: Buffer | string): number | null => {
  const text = typeof data === 'string' ? data : data.toString('latin1', 0, 16);
  const m = /^HTTP\/1\.[019] (\d{3})[ \r\n]?/.exec(text);
  return m ? Number(m[1]) : null;
};

interface Pending {
  method: string;
  uri: string;
  tsNs: bigint;
}

/**
 * Pairs records into exchanges: a request line opens an exchange on (tgid, fd), the next
 * status line on the same (tgid, fd) closes it. Works for either role (server: read request,
 * write response; client: write request, read response). A new request replaces an unanswered one.
 */
export class HttpExchangeAssembler {
  readonly #pending = new Map<string, Pending>();
  #unpaired = 0;

  constructor(
    private readonly onExchange: (e: HttpExchange) => void,
    private readonly monoToWallMs: (tsNs: bigint) => number = monotonicToWallMs,
    private readonly maxPending = 65_536,
  ) {}

  /** Responses seen without a request before them. */
  get unpaired(): number {
    return this.#unpaired;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  accept(r: HttpRecord): void {
    const key = `${r.tgid}:${r.fd}`;
    if (r.data.length >= 5 && r.data.toString('latin1', 0, 5) === 'HTTP/') {
      const status = parseStatusLine(r.data);
      const req = this.#pending.get(key);
      if (status === null) return;
      if (!req) {
        this.#unpaired++;
        return;
      }
      this.#pending.delete(key);
      const durationNs = r.tsNs > req.tsNs ? r.tsNs - req.tsNs : 0n;
      this.onExchange({
        pid: r.tgid,
        fd: r.fd,
        method: req.method,
        uri: req.uri,
        status,
        startMs: this.monoToWallMs(req.tsNs),
        durationMs: Number(durationNs) / 1e6,
      });
      return;
    }
    const line = parseRequestLine(r.data);
    if (!line) return;
    if (!this.#pending.has(key) && this.#pending.size >= this.maxPending) {
      // Bounded: forget the oldest unanswered request.
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.set(key, { ...line, tsNs: r.tsNs });
  }

  /** Forgets a process's unanswered requests (it is no longer observed). */
  forget(tgid: number): void {
    const prefix = `${tgid}:`;
    for (const key of this.#pending.keys()) if (key.startsWith(prefix)) this.#pending.delete(key);
  }
}

/** bpf_ktime_get_ns() and process.hrtime.bigint() share CLOCK_MONOTONIC on Linux. */
export const monotonicToWallMs = (tsNs: bigint): number =>
  Date.now() - Number(process.hrtime.bigint() - tsNs) / 1e6;

export interface HttpObserverOptions {
  objectDir?: string;
  logger?: LibbpfLogger | null;
  /** Ring buffer poll interval (default 50 ms). */
  pollIntervalMs?: number;
  /** Ring buffer bytes (power of two; default 1 MiB). */
  ringBytes?: number;
  onExchange: (e: HttpExchange) => void;
}

export interface HttpObserverStats {
  /** Records the kernel wrote to the ring buffer. */
  events: number;
  /** Records dropped because the ring buffer was full. */
  ringBufferFull: number;
  /** Data syscalls of target processes that the programs looked at. */
  calls: number;
  /** Records consumed in user space. */
  consumed: number;
  /** Responses that had no request before them on their socket. */
  unpaired: number;
}

export const httpObserveObjectPath = (dir?: string): string => bpfObjectPath('http_observe', dir);
export const httpObserveObjectExists = (dir?: string): boolean => bpfObjectExists('http_observe', dir);

/** The kernel side and the assembler together; targets can change while running. */
export class HttpObserver {
  #loaded: LoadedObject<'http_observe'> | undefined;
  #rb: RingBuffer | undefined;
  readonly #targets = new TargetTable();
  #consumed = 0;
  readonly #assembler: HttpExchangeAssembler;

  constructor(private readonly opts: HttpObserverOptions) {
    this.#assembler = new HttpExchangeAssembler(opts.onExchange);
  }

  get running(): boolean {
    return this.#loaded !== undefined;
  }

  get targets(): number[] {
    return this.#targets.tgids;
  }

  start(tgids: number[] = []): void {
    if (this.#loaded) throw new Error('HttpObserver.start: already started');
    const loaded = LoadedObject.load('http_observe', {
      maxEntries: { http_events: this.opts.ringBytes },
      objectDir: this.opts.objectDir,
      logger: this.opts.logger,
    });
    let rb: RingBuffer;
    try {
      for (const t of tgids) this.#targets.add(t);
      loaded.bindTargets(this.#targets);
      // Borrowed views, not a Buffer per record: two records per exchange at tens of thousands
      // of exchanges a second kept the garbage collector busy. The assembler reads each record
      // whole before it returns (the request keeps strings only), so nothing outlives the view.
      rb = loaded.ringBuffer('http_events', (rec) => this.#onRecord(rec), {
        intervalMs: this.opts.pollIntervalMs ?? 50,
        borrow: true,
      });
      for (const sc of HTTP_SYSCALLS) {
        loaded.attach(loaded.obj.program(`http_enter_${sc}`).attachTracepoint('syscalls', `sys_enter_${sc}`));
        loaded.attach(loaded.obj.program(`http_exit_${sc}`).attachTracepoint('syscalls', `sys_exit_${sc}`));
      }
    } catch (e) {
      loaded.close();
      throw e;
    }
    this.#rb = rb;
    this.#loaded = loaded;
  }

  #onRecord(rec: Buffer): void {
    this.#consumed++;
    this.#assembler.accept(decodeHttpRecord(rec));
  }

  addTarget(tgid: number): void {
    this.#targets.add(tgid);
  }

  removeTarget(tgid: number): void {
    if (this.#targets.remove(tgid)) this.#assembler.forget(tgid);
  }

  /** Consumes what the ring buffer holds now (exchanges are delivered synchronously). */
  poll(): void {
    this.#rb?.poll();
  }

  stats(): HttpObserverStats {
    const totals = this.#loaded?.counters.totals();
    const total = (c: HttpCounter): number => Number(totals?.[c] ?? 0n);
    return {
      events: total(HttpCounter.Events),
      ringBufferFull: total(HttpCounter.RingFull),
      calls: total(HttpCounter.Calls),
      consumed: this.#consumed,
      unpaired: this.#assembler.unpaired,
    };
  }

  stop(): void {
    const loaded = this.#loaded;
    if (!loaded) return;
    try {
      this.#rb?.poll();
    } finally {
      this.#rb = undefined;
      loaded.close();
      this.#loaded = undefined;
    }
  }
}
