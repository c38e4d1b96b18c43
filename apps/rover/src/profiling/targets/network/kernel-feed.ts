/**
 * network.bpf.o's records and connection totals into NetworkAnalyzer calls: open/close records
 * open and close connections (key: pid, fd and the kernel's generation), data records feed the
 * HTTP/1 parsers and the exe-time histograms, and the kernel's per-connection totals become the
 * interval's layer-4 deltas (so counters stay right when data records are lost on a full ring).
 * When a parser is in a body that extends well past what it has seen, the kernel is told to skip
 * it (records then carry the stream offsets the parser needs to count the bytes it did not see).
 * On a TLS connection the parsers get the plaintext of the SSL_read/SSL_write records (offsets of
 * the plaintext stream) and none of the syscalls' bytes (ciphertext); the syscalls still time the
 * exe-time histograms. Plaintext bodies are not skipped: net_skip's offsets count syscall bytes.
 * HTTP/1 exchanges the kernel meters itself (network_http.h: all of them without a sampling rule,
 * those whose request carries no trace header with rules) send no data records: their exchanges,
 * status codes, sizes, durations and syscall-time histograms come as totals, whose increase since
 * the last reading goes to the interval. A traced exchange on such a connection comes as records
 * and is counted by the parser only: the kernel leaves it out of its totals.
 */
import { NetRole, type ConnStats, type ConnectionTotals, type HttpTotals, type NetRecord } from '@swlite/bpf';
import { addToBucket, bucketIndex, SOCKET_BUCKETS_NS } from './analyze/accumulators';
import type { NetworkAnalyzer } from './analyze/analyzer';
import type { ConnectionKey } from './analyze/connections';

type Totals = Pick<
  ConnStats,
  | 'writeBytes'
  | 'writeCount'
  | 'writeExeNs'
  | 'readBytes'
  | 'readCount'
  | 'readExeNs'
  | 'rttSumUs'
  | 'rttCount'
  | 'retransmits'
  | 'drops'
>;

const ZERO: Totals = {
  writeBytes: 0n,
  writeCount: 0n,
  writeExeNs: 0n,
  readBytes: 0n,
  readCount: 0n,
  readExeNs: 0n,
  rttSumUs: 0n,
  rttCount: 0n,
  retransmits: 0n,
  drops: 0n,
};

/** Asks the kernel to send nothing of a direction's bytes before `until` (see NetworkObserver.skipUntil). */
export type SkipBody = (pid: number, fd: number, gen: number, direction: 'read' | 'write', until: number) => void;

/** Body bytes worth a map update to skip: below this, copying them costs less than telling the kernel. */
export const SKIP_MIN_BYTES = 4096;

const connId = (pid: number, fd: number, gen: bigint | number): string => `${pid}:${fd}:${gen}`;

/**
 * A TLS record header (content type 20-23, version 3.x): the ciphertext of a connection whose
 * SSL calls are not probed yet (the handshake, or Node, whose socket syscalls happen outside them).
 * An HTTP/1 message never starts with these bytes.
 */
export const looksLikeTlsRecord = (b: Uint8Array): boolean =>
  b.length >= 3 && b[0]! >= 0x14 && b[0]! <= 0x17 && b[1] === 0x03 && b[2]! <= 0x04;

export class KernelFeed {
  /** Totals already given to the analyzer, per connection. */
  readonly #seen = new Map<string, Totals>();
  /** Per connection and direction, the skip offset last asked of the kernel. */
  readonly #skipping = new Map<string, number>();
  /** Connections that carry TLS: their syscall bytes are ciphertext. */
  readonly #tls = new Set<string>();
  /** The kernel's HTTP/1 totals already given to the analyzer, per metered connection. */
  readonly #httpSeen = new Map<string, HttpTotals>();
  /** Connections whose close record came: their kernel HTTP/1 totals are final once read. */
  readonly #closed = new Set<string>();

  constructor(
    private readonly analyzer: NetworkAnalyzer,
    private readonly skipBody?: SkipBody,
  ) {}

  record(r: NetRecord): void {
    const key: ConnectionKey = { pid: r.tgid, fd: r.fd, id: r.gen };
    switch (r.kind) {
      case 'open': {
        const addresses = { ...(r.local ? { local: r.local } : {}), ...(r.remote ? { remote: r.remote } : {}) };
        // A connection first seen by its data was opened before the task: no connect to count.
        if (r.role === 'unknown') this.analyzer.connections.open(key, { role: 'unknown', ...addresses });
        else this.analyzer.connectionOpened(key, r.role, addresses, r.exeNs);
        return;
      }
      case 'data': {
        const id = connId(r.tgid, r.fd, r.gen);
        if (!r.tls) {
          const l4 = this.analyzer.layer4(key);
          const histogram = r.direction === 'read' ? l4.readExeTimeHistogram : l4.writeExeTimeHistogram;
          addToBucket(histogram, bucketIndex(SOCKET_BUCKETS_NS, r.tsNs - r.startNs));
          if (this.#tls.has(id)) return;
          // a skipped body's bytes are not a stream's first ones
          if (r.skip === 0 && looksLikeTlsRecord(r.data)) {
            this.#tls.add(id);
            this.analyzer.tlsSeen(key);
            return;
          }
        } else {
          this.#tls.add(id);
        }
        const direction = r.direction === 'read' ? 'ingress' : 'egress';
        // The parser copies what it keeps: the record's view is enough.
        this.analyzer.socketData(
          key,
          {
            direction,
            data: r.data,
            startNs: r.startNs,
            endNs: r.tsNs,
            size: r.size,
            skip: r.skip,
            offset: r.offset,
          },
          r.tls,
        );
        if (r.tls || !this.skipBody) return;
        const remaining = this.analyzer.bodyRemaining(key, direction);
        if (remaining < SKIP_MIN_BYTES) return;
        const until = r.offset + r.size + remaining;
        const skipId = `${id}:${r.direction}`;
        if ((this.#skipping.get(skipId) ?? 0) >= until) return;
        this.#skipping.set(skipId, until);
        this.skipBody(r.tgid, r.fd, r.gen, r.direction, until);
        return;
      }
      case 'close':
        this.#closed.add(connId(r.tgid, r.fd, r.gen));
        this.#add(key, r.stats);
        this.#seen.delete(connId(r.tgid, r.fd, r.gen));
        this.#skipping.delete(`${connId(r.tgid, r.fd, r.gen)}:read`);
        this.#skipping.delete(`${connId(r.tgid, r.fd, r.gen)}:write`);
        this.#tls.delete(connId(r.tgid, r.fd, r.gen));
        this.analyzer.connectionClosed(key, r.exeNs);
    }
  }

  /** The live connections' totals read from the kernel: their increase goes to the interval. */
  totals(conns: readonly ConnectionTotals[]): void {
    for (const c of conns) this.#add({ pid: c.tgid, fd: c.fd, id: c.gen }, c);
  }

  /**
   * The kernel's HTTP/1 totals of the metered connections: their increase goes to the interval.
   * Returns the entries read for the last time (their connection closed), for the kernel to drop.
   */
  http(conns: readonly HttpTotals[]): HttpTotals[] {
    const done: HttpTotals[] = [];
    for (const now of conns) {
      const id = connId(now.tgid, now.fd, now.gen);
      const prev = this.#httpSeen.get(id);
      if (this.#closed.delete(id)) {
        this.#httpSeen.delete(id);
        done.push(now);
      } else {
        this.#httpSeen.set(id, now);
      }
      if (!now.side) continue; // no request yet
      const key: ConnectionKey = { pid: now.tgid, fd: now.fd, id: Number(now.gen) };
      const n64 = (k: 'exchanges' | 'reqBytesSum' | 'respBytesSum' | 'durationMsSum'): number =>
        Number(now[k] - (prev?.[k] ?? 0n));
      // bucket and status counts are __u32 in the kernel: they wrap
      const n32 = (k: 'durationHist' | 'reqSizeHist' | 'respSizeHist' | 'readExeHist' | 'writeExeHist'): number[] =>
        now[k].map((v, i) => (v - (prev?.[k][i] ?? 0)) >>> 0);
      const exchanges = n64('exchanges');
      const statuses = new Map<number, number>();
      now.statusCodes.forEach((code, i) => {
        const n = (now.statusCounts[i]! - (prev?.statusCounts[i] ?? 0)) >>> 0;
        if (code && n) statuses.set(code, (statuses.get(code) ?? 0) + n);
      });
      const l4 = this.analyzer.layer4(key);
      n32('readExeHist').forEach((v, i) => v && addToBucket(l4.readExeTimeHistogram, i, v));
      n32('writeExeHist').forEach((v, i) => v && addToBucket(l4.writeExeTimeHistogram, i, v));
      this.analyzer.kernelExchanges(key, now.side === NetRole.Server ? 'server' : 'client', {
        exchanges,
        statuses,
        requestBytes: n64('reqBytesSum'),
        responseBytes: n64('respBytesSum'),
        durationMs: n64('durationMsSum'),
        durationHistogram: n32('durationHist'),
        requestSizeHistogram: n32('reqSizeHist'),
        responseSizeHistogram: n32('respSizeHist'),
      });
    }
    return done;
  }

  #add(key: ConnectionKey, now: Totals): void {
    const id = connId(key.pid, key.fd, BigInt(key.id));
    const prev = this.#seen.get(id) ?? ZERO;
    const d = (k: keyof Totals): number => Number(now[k] >= prev[k] ? now[k] - prev[k] : 0n);
    const l4 = this.analyzer.layer4(key);
    l4.write.count += d('writeCount');
    l4.write.bytes += d('writeBytes');
    l4.write.exeTime += d('writeExeNs');
    l4.read.count += d('readCount');
    l4.read.bytes += d('readBytes');
    l4.read.exeTime += d('readExeNs');
    l4.writeRtt.count += d('rttCount');
    l4.writeRtt.exeTime += d('rttSumUs');
    l4.retransmit.count += d('retransmits');
    l4.drop.count += d('drops');
    this.#seen.set(id, { ...now });
  }

  /** Forgets the totals of a process's connections (it left the task). */
  forget(pid: number): void {
    for (const id of this.#seen.keys()) if (id.startsWith(`${pid}:`)) this.#seen.delete(id);
    for (const id of this.#skipping.keys()) if (id.startsWith(`${pid}:`)) this.#skipping.delete(id);
    for (const id of this.#tls) if (id.startsWith(`${pid}:`)) this.#tls.delete(id);
    for (const id of this.#httpSeen.keys()) if (id.startsWith(`${pid}:`)) this.#httpSeen.delete(id);
    for (const id of this.#closed) if (id.startsWith(`${pid}:`)) this.#closed.delete(id);
  }
}
