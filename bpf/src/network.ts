// Network observation of chosen processes (network.bpf.c), on tracepoints only: connection
// open/close records and the bytes of socket reads/writes the HTTP/1 parser needs arrive through a
// ring buffer; per-connection totals (bytes, counts, syscall time, srtt, retransmits, drops) are
// read from `net_conns`. skipUntil() tells the kernel which body bytes need not be sent;
// setKernelMeters() which HTTP/1 exchanges it meters itself instead of sending their bytes.
// attachTls() adds uprobes on OpenSSL: TLS connections' plaintext arrives on the same ring.
import { LinkGroup, type Link, type LibbpfLogger, type RingBuffer } from '@swlite/libbpf-ts';
import { bpfObjectExists } from './paths.js';
import { LoadedObject } from './core/loaded-object.js';
import { TargetTable } from './core/targets.js';
import {
  decodeNetRecord,
  NET_BUCKET_TABLE,
  NET_BUCKETS,
  NET_CONFIG,
  NET_CONN_KEY,
  NET_CONN_STATS,
  NET_HTTP_KEY,
  NET_HTTP_STATS,
  NET_SKIP,
  NetCounter,
  NetKernelMeters,
  type ConnStats,
  type NetHttpStats,
  type NetRecord,
} from './network-layout.js';

export {
  decodeNetRecord,
  NET_CAPTURE,
  type ConnStats,
  type NetAddress,
  type NetRecord,
  type NetOpenRecord,
  type NetCloseRecord,
  type NetDataRecord,
  type NetHttpStats,
  NetHttpState,
  NetRole,
} from './network-layout.js';

/** The syscalls observed (sys_enter_/sys_exit_ tracepoints of each). */
export const NET_SYSCALLS = [
  'connect',
  'accept',
  'accept4',
  'close',
  'read',
  'recvfrom',
  'readv',
  'recvmsg',
  'write',
  'sendto',
  'writev',
  'sendmsg',
  'sendfile64',
  'recvmmsg',
  'sendmmsg',
] as const;
/** The other tracepoints: [category, name, program]. */
export const NET_TCP_TRACEPOINTS = [
  ['tcp', 'tcp_probe', 'net_tcp_probe'],
  ['tcp', 'tcp_retransmit_skb', 'net_tcp_retransmit'],
  ['skb', 'kfree_skb', 'net_kfree_skb'],
] as const;

/**
 * OpenSSL functions network_tls.h probes (entry and return each). SSL_read and SSL_write are what
 * a file must export to be probed; the others are probed where it exports them.
 */
export const TLS_FUNCTIONS = ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex', 'SSL_do_handshake'] as const;
export type TlsFunction = (typeof TLS_FUNCTIONS)[number];
export const TLS_REQUIRED_FUNCTIONS: readonly TlsFunction[] = ['SSL_read', 'SSL_write'];

/** Every tracepoint the observer attaches to, as `category/name` (for capability checks). */
export const networkTracepoints = (): string[] => [
  ...NET_SYSCALLS.flatMap((s) => [`syscalls/sys_enter_${s}`, `syscalls/sys_exit_${s}`]),
  ...NET_TCP_TRACEPOINTS.map(([c, n]) => `${c}/${n}`),
];

export const networkObjectExists = (dir?: string): boolean => bpfObjectExists('network', dir);

export interface NetworkObserverOptions {
  objectDir?: string;
  logger?: LibbpfLogger | null;
  /**
   * Ring buffer poll interval when it was drained (default 20 ms). A poll hands over at most
   * POLL_BATCH records; when it had more it polls again right after the event loop's other work
   * (timers, sockets: the reports must still go out while the ring is busy).
   */
  pollIntervalMs?: number;
  /**
   * Ring buffer bytes (power of two; default 32 MiB: at 20k HTTP exchanges/s, about 7 MB/s, it
   * holds the seconds a starved consumer may fall behind on a loaded machine).
   */
  ringBytes?: number;
  /**
   * The bucket bounds of the HTTP/1 meters the kernel sums (network_http.h): whole ms of an
   * exchange, bytes of a message, ns of a socket syscall. Without them setKernelMeters() refuses.
   */
  httpBuckets?: HttpBucketBounds;
  /** setKernelMeters() before the first program is attached (default 'off'). */
  kernelMeters?: KernelMeters;
  /** Called for every record, in ring order (records are views valid during the call: copy what you keep). */
  onRecord: (r: NetRecord) => void;
}

/** A tracked connection's totals, from `net_conns`. */
export interface ConnectionTotals extends ConnStats {
  tgid: number;
  fd: number;
}

/**
 * Which HTTP/1 exchanges the kernel meters itself (httpTotals()) instead of sending their bytes as
 * data records: none ('off'), all ('all'), or all but those whose request head carries a trace
 * header (sw8, b3, x-b3-traceid) in the first NET_CAPTURE bytes of its first op ('untraced').
 */
export type KernelMeters = 'off' | 'all' | 'untraced';
const KERNEL_METERS: Record<KernelMeters, NetKernelMeters> = {
  off: NetKernelMeters.Off,
  all: NetKernelMeters.All,
  untraced: NetKernelMeters.Untraced,
};

export interface HttpBucketBounds {
  durationMs: readonly number[];
  size: readonly number[];
  socketNs: readonly number[];
}

/** An HTTP/1 connection metered in the kernel: its totals since it was opened, from `net_http`. */
export interface HttpTotals extends NetHttpStats {
  tgid: number;
  fd: number;
  gen: bigint;
}

export interface NetworkObserverStats {
  /** Records the kernel wrote to the ring buffer. */
  events: number;
  /** Records dropped because the ring buffer was full. */
  ringBufferFull: number;
  /** Socket syscalls of target processes seen. */
  calls: number;
  /** Connections not tracked because `net_conns` was full. */
  connectionsNotTracked: number;
  /** Dropped skbs (skb:kfree_skb) of tracked connections. */
  drops: number;
  /** Data ops sent no record: body bytes skipUntil() said need not be seen. */
  opsSkipped: number;
  /** Data ops of HTTP/1 connections metered in the kernel (no record sent). */
  opsMetered: number;
  /** HTTP/1 connections sent as records because `net_http` was full. */
  httpNotMetered: number;
  /** Exchanges metered in the kernel whose status code found no slot (counted, code lost). */
  statusesLost: number;
  /** Requests of metered connections sent as data records for their trace header ('untraced'). */
  requestsTraced: number;
  /** Records consumed in user space. */
  consumed: number;
}

const DEFAULT_RING_BYTES = 32 << 20;
const ZERO_KEY = Buffer.alloc(4);
/** Records per poll before the event loop gets a turn (a few tens of ms of work). */
const POLL_BATCH = 8192;
const POLL_DRAIN_BATCHES = 16;

export class NetworkObserver {
  #loaded: LoadedObject<'network'> | undefined;
  #rb: RingBuffer | undefined;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #targets = new TargetTable();
  #consumed = 0;

  constructor(private readonly opts: NetworkObserverOptions) {}

  get running(): boolean {
    return this.#loaded !== undefined;
  }

  get targets(): number[] {
    return this.#targets.tgids;
  }

  start(tgids: readonly number[] = []): void {
    if (this.#loaded) throw new Error('NetworkObserver.start: already started');
    const loaded = LoadedObject.load('network', {
      maxEntries: { net_events: this.opts.ringBytes ?? DEFAULT_RING_BYTES },
      objectDir: this.opts.objectDir,
      logger: this.opts.logger,
    });
    try {
      for (const t of tgids) this.#targets.add(t);
      loaded.bindTargets(this.#targets);
      const b = this.opts.httpBuckets;
      if (b) {
        const table = (bounds: readonly number[]): bigint[] => {
          if (bounds.length > NET_BUCKET_TABLE)
            throw new Error(`NetworkObserver: ${bounds.length} bucket bounds, at most ${NET_BUCKET_TABLE}`);
          return Array.from({ length: NET_BUCKET_TABLE }, (_, i) =>
            i < bounds.length ? BigInt(bounds[i]!) : 2n ** 64n - 1n,
          );
        };
        const value = NET_BUCKETS.encode({
          durationMs: table(b.durationMs),
          size: table(b.size),
          socketNs: table(b.socketNs),
        });
        loaded.map('net_buckets').update(ZERO_KEY, value);
      }
      this.#writeKernelMeters(loaded, this.opts.kernelMeters ?? 'off');
      // Borrowed views: no Buffer allocation per record, tens of thousands of them per second.
      this.#rb = loaded.ringBuffer('net_events', (rec) => this.#onRecord(rec), {
        intervalMs: 0,
        maxRecordsPerPoll: POLL_BATCH,
        borrow: true,
        arenaBytes: 1 << 20,
        arenaRecords: 8192,
      });
      for (const sc of NET_SYSCALLS) {
        loaded.attach(loaded.obj.program(`net_enter_${sc}`).attachTracepoint('syscalls', `sys_enter_${sc}`));
        loaded.attach(loaded.obj.program(`net_exit_${sc}`).attachTracepoint('syscalls', `sys_exit_${sc}`));
      }
      for (const [category, name, prog] of NET_TCP_TRACEPOINTS) {
        loaded.attach(loaded.obj.program(prog).attachTracepoint(category, name));
      }
    } catch (e) {
      this.#rb = undefined;
      loaded.close();
      throw e;
    }
    this.#loaded = loaded;
    this.#schedule(this.opts.pollIntervalMs ?? 20);
  }

  #schedule(ms: number): void {
    const next = (): void => {
      this.#timer = undefined;
      if (!this.#rb) return;
      const n = this.#rb.poll();
      this.#schedule(n >= POLL_BATCH ? 0 : (this.opts.pollIntervalMs ?? 20));
    };
    this.#timer = ms === 0 ? setImmediate(next) : setTimeout(next, ms);
    this.#timer.unref();
  }

  #onRecord(rec: Buffer): void {
    this.#consumed++;
    this.opts.onRecord(decodeNetRecord(rec));
  }

  addTarget(tgid: number): void {
    this.#targets.add(tgid);
  }

  removeTarget(tgid: number): void {
    this.#targets.remove(tgid);
  }

  /**
   * Probes OpenSSL in one file (a libssl, or an executable with OpenSSL linked in) for every
   * target process that maps it: uprobes are per file, the programs filter on the targets.
   * `functions` are those of TLS_FUNCTIONS the file exports (SSL_read and SSL_write at least).
   * Throws when one does not attach, with none of the file's probes left attached.
   */
  attachTls(binaryPath: string, functions: readonly TlsFunction[]): void {
    const loaded = this.#loaded;
    if (!loaded) throw new Error('NetworkObserver.attachTls: not started');
    const missing = TLS_REQUIRED_FUNCTIONS.filter((f) => !functions.includes(f));
    if (missing.length) throw new Error(`NetworkObserver.attachTls: ${binaryPath} lacks ${missing.join(', ')}`);
    const links: Link[] = [];
    try {
      for (const fn of functions) {
        for (const retprobe of [false, true]) {
          const prog = loaded.obj.program(`net_tls_${retprobe ? 'exit' : 'enter'}_${fn}`);
          links.push(prog.attachUprobe({ binaryPath, funcName: fn, retprobe }));
        }
      }
    } catch (e) {
      for (const l of links) l.destroy();
      throw e;
    }
    loaded.attach(new LinkGroup(links));
  }

  /**
   * Consumes what the ring buffer holds now, records delivered synchronously (at most
   * POLL_DRAIN_BATCHES batches: a producer faster than the consumer must not hold the caller).
   */
  poll(): void {
    for (let i = 0; i < POLL_DRAIN_BATCHES && this.#rb && this.#rb.poll() >= POLL_BATCH; i++);
  }

  /**
   * From now on, bytes of this connection's direction before stream offset `until` are body the
   * parser only counts: ops that end before it send no record, the one that reaches it sends no
   * bytes of it. Returns false when the connection is not tracked (any more).
   */
  skipUntil(tgid: number, fd: number, gen: number, direction: 'read' | 'write', until: number): boolean {
    const loaded = this.#loaded;
    if (!loaded) return false;
    const key = NET_CONN_KEY.encode({ tgid, fd });
    const map = loaded.map('net_skip');
    const prev = map.lookup(key);
    const was = prev ? NET_SKIP.decode(prev) : undefined;
    const g = BigInt(gen);
    const keep = was && was.gen === g ? was : { gen: g, untilWrite: 0n, untilRead: 0n };
    const value = direction === 'read' ? { ...keep, untilRead: BigInt(until) } : { ...keep, untilWrite: BigInt(until) };
    try {
      map.update(key, NET_SKIP.encode(value));
    } catch {
      return false; // full: the bytes are sent and parsed as before
    }
    return true;
  }

  /**
   * 'all' / 'untraced': connections classified HTTP/1 from now on are metered in the kernel
   * (httpTotals()); their exchanges send no data records, but for 'untraced' one whose request
   * carries a trace header, which sends its request and response as records and is not metered.
   * A metered connection takes a change at its next request start. 'off': metered connections
   * switch to data records for good at their next request.
   */
  setKernelMeters(mode: KernelMeters): void {
    const loaded = this.#loaded;
    if (!loaded) throw new Error('NetworkObserver.setKernelMeters: not started');
    this.#writeKernelMeters(loaded, mode);
  }

  #writeKernelMeters(loaded: LoadedObject<'network'>, mode: KernelMeters): void {
    if (mode !== 'off' && !this.opts.httpBuckets)
      throw new Error('NetworkObserver.setKernelMeters: no httpBuckets given');
    loaded.map('net_config').update(ZERO_KEY, NET_CONFIG.encode({ kernelMeters: KERNEL_METERS[mode] }));
  }

  /** Totals of every HTTP/1 connection metered in the kernel (closed ones until forgetHttp()). */
  httpTotals(): HttpTotals[] {
    const loaded = this.#loaded;
    if (!loaded) return [];
    const { keys, values, count } = loaded.map('net_http').lookupBatch();
    const out: HttpTotals[] = [];
    for (let i = 0; i < count; i++) {
      const key = NET_HTTP_KEY.decode(keys, i * NET_HTTP_KEY.size);
      out.push({ ...NET_HTTP_STATS.decode(values, i * NET_HTTP_STATS.size), ...key });
    }
    return out;
  }

  /** Deletes the kernel's HTTP/1 totals of connections whose last totals were read. */
  forgetHttp(conns: ReadonlyArray<{ tgid: number; fd: number; gen: bigint }>): void {
    const map = this.#loaded?.map('net_http');
    for (const c of conns) map?.delete(NET_HTTP_KEY.encode(c));
  }

  /** Totals of every connection tracked now (opened and not yet closed). */
  connections(): ConnectionTotals[] {
    const loaded = this.#loaded;
    if (!loaded) return [];
    const out: ConnectionTotals[] = [];
    for (const [k, v] of loaded.map('net_conns').entries()) {
      const key = NET_CONN_KEY.decode(k);
      out.push({ ...NET_CONN_STATS.decode(v), tgid: key.tgid, fd: key.fd });
    }
    return out;
  }

  stats(): NetworkObserverStats {
    const totals = this.#loaded?.counters.totals();
    const total = (c: NetCounter): number => Number(totals?.[c] ?? 0n);
    return {
      events: total(NetCounter.Events),
      ringBufferFull: total(NetCounter.RingFull),
      calls: total(NetCounter.Calls),
      connectionsNotTracked: total(NetCounter.ConnFull),
      drops: total(NetCounter.Drops),
      opsSkipped: total(NetCounter.Skipped),
      opsMetered: total(NetCounter.Metered),
      httpNotMetered: total(NetCounter.HttpFull),
      statusesLost: total(NetCounter.StatusFull),
      requestsTraced: total(NetCounter.Traced),
      consumed: this.#consumed,
    };
  }

  /** Consumes what is left, detaches and frees everything. */
  stop(): void {
    const loaded = this.#loaded;
    if (!loaded) return;
    try {
      this.poll();
    } finally {
      if (this.#timer) {
        clearTimeout(this.#timer as NodeJS.Timeout);
        clearImmediate(this.#timer as NodeJS.Immediate);
      }
      this.#rb = undefined;
      loaded.close();
      this.#loaded = undefined;
    }
  }
}
