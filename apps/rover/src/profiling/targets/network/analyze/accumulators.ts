/**
 * Per-connection and per-traffic accumulators of one flush interval: plain objects the kernel
 * side (layer 4) and the HTTP parser (layer 7) fill, merged into traffics and turned into
 * meters by meters.ts. Bucket boundaries are upstream rover's (layer4/metrics.go,
 * http1/analyzer.go), including its 1048 where 1024 was meant: the OAP's percentiles are over
 * these exact bounds.
 */
import type { HttpExchange } from './http1/message';
import { messageSize } from './http1/message';
import { HttpSampler, type SamplingRules } from './sampling';

/** Syscall execution-time buckets (ns): 0, 10 µs, 50 µs, 100 µs, 0.5 ms, 1 ms ... 3 s, 5 s. */
export const SOCKET_BUCKETS_NS: readonly number[] = [
  0, 10_000, 50_000, 100_000, 500_000, 1_000_000, 1_200_000, 1_500_000, 1_700_000, 2_000_000, 2_500_000, 3_000_000,
  5_000_000, 7_000_000, 10_000_000, 13_000_000, 16_000_000, 20_000_000, 25_000_000, 30_000_000, 35_000_000, 40_000_000,
  45_000_000, 50_000_000, 70_000_000, 100_000_000, 150_000_000, 200_000_000, 300_000_000, 500_000_000, 1_000_000_000,
  2_000_000_000, 3_000_000_000, 5_000_000_000,
];
/** The same bounds in µs, for the RTT histogram. */
export const SOCKET_BUCKETS_US: readonly number[] = SOCKET_BUCKETS_NS.map((ns) => ns / 1000);

/** HTTP message size buckets (bytes), 256 B ... 50 MiB. */
export const HTTP_SIZE_BUCKETS: readonly number[] = [
  256, 512, 1048, 1536, 2048, 3072, 5120, 8192, 10240, 15360, 20480, 35840, 51200, 76800, 102400, 204800, 512000,
  819200, 1048576, 1572864, 2097152, 5242880, 10485760, 20971520, 52428800,
];
/** HTTP duration buckets (ms), 1 ... 30000. */
export const HTTP_DURATION_BUCKETS_MS: readonly number[] = [
  1, 2, 5, 10, 15, 20, 25, 30, 40, 45, 50, 60, 65, 70, 80, 90, 100, 110, 130, 150, 170, 200, 230, 260, 290, 330, 380,
  430, 480, 500, 600, 700, 800, 900, 1000, 1100, 1300, 1500, 1800, 2000, 5000, 10000, 15000, 20000, 30000,
];

/**
 * The bucket a value falls in: the last bound not above it, the first bucket for anything
 * below the second bound (upstream's Histogram.Increase).
 */
export function bucketIndex(bounds: readonly number[], value: number): number {
  for (let i = 1; i < bounds.length; i++) if (bounds[i]! > value) return i - 1;
  return bounds.length - 1;
}

/** Operations of one kind in the interval. */
export interface OpCounter {
  count: number;
  bytes: number;
  /** Summed over the operations: ns of syscall time; for writeRtt, µs of smoothed RTT samples. */
  exeTime: number;
}

/**
 * Layer-4 deltas of one connection (or traffic) for the interval. Histograms hold a count per
 * bucket index of SOCKET_BUCKETS_NS (SOCKET_BUCKETS_US for writeRtt), as the kernel side
 * counts them; indexes past the last bucket belong to the last.
 */
export interface Layer4Accumulator {
  write: OpCounter;
  read: OpCounter;
  /** count: RTT samples, exeTime: their sum (µs). */
  writeRtt: OpCounter;
  /** count: 1 for a connection opened in the interval, exeTime: connect/accept time (ns). */
  connect: OpCounter;
  /** count: 1 for a connection closed in the interval, exeTime: close time (ns). */
  close: OpCounter;
  /** count only. */
  retransmit: OpCounter;
  /** count only. */
  drop: OpCounter;
  writeRttHistogram: number[];
  writeExeTimeHistogram: number[];
  readExeTimeHistogram: number[];
  connectExeTimeHistogram: number[];
  closeExeTimeHistogram: number[];
}

export const LAYER4_COUNTERS = ['write', 'read', 'writeRtt', 'connect', 'close', 'retransmit', 'drop'] as const;
export const LAYER4_HISTOGRAMS = [
  'writeRttHistogram',
  'writeExeTimeHistogram',
  'readExeTimeHistogram',
  'connectExeTimeHistogram',
  'closeExeTimeHistogram',
] as const;

const op = (): OpCounter => ({ count: 0, bytes: 0, exeTime: 0 });
const buckets = (): number[] => new Array<number>(SOCKET_BUCKETS_NS.length).fill(0);

export function newLayer4(): Layer4Accumulator {
  return {
    write: op(),
    read: op(),
    writeRtt: op(),
    connect: op(),
    close: op(),
    retransmit: op(),
    drop: op(),
    writeRttHistogram: buckets(),
    writeExeTimeHistogram: buckets(),
    readExeTimeHistogram: buckets(),
    connectExeTimeHistogram: buckets(),
    closeExeTimeHistogram: buckets(),
  };
}

/** Count one observation in a layer-4 histogram by the kernel's bucket index. */
export function addToBucket(histogram: number[], index: number, count = 1): void {
  const i = Math.min(Math.max(0, Math.trunc(index)), histogram.length - 1);
  histogram[i]! += count;
}

/** Add `from` into `into` (connections into their traffic). */
export function mergeLayer4(into: Layer4Accumulator, from: Layer4Accumulator): void {
  for (const k of LAYER4_COUNTERS) {
    into[k].count += from[k].count;
    into[k].bytes += from[k].bytes;
    into[k].exeTime += from[k].exeTime;
  }
  for (const h of LAYER4_HISTOGRAMS) from[h].forEach((v, i) => addToBucket(into[h], i, v));
}

/**
 * The interval's deltas from two readings of cumulative per-connection counters (the kernel's
 * active-connection map holds totals); a counter that went backwards restarted, so its current
 * value is the delta.
 */
export function layer4Delta(current: Layer4Accumulator, previous: Layer4Accumulator | undefined): Layer4Accumulator {
  const out = newLayer4();
  const sub = (c: number, p: number) => (c >= p ? c - p : c);
  for (const k of LAYER4_COUNTERS) {
    const p = previous?.[k] ?? op();
    out[k] = {
      count: sub(current[k].count, p.count),
      bytes: sub(current[k].bytes, p.bytes),
      exeTime: sub(current[k].exeTime, p.exeTime),
    };
  }
  for (const h of LAYER4_HISTOGRAMS) out[h] = current[h].map((v, i) => sub(v, previous?.[h][i] ?? 0));
  return out;
}

/** Sum and count; the meter is their quotient for the interval. */
export interface Average {
  sum: number;
  count: number;
}

/** HTTP/1 exchanges seen from one side (this process as client, or as server). */
export interface Http1SideAccumulator {
  requests: number;
  /** Responses per status code. */
  statuses: Map<number, number>;
  requestSize: Average;
  responseSize: Average;
  /** Counts per HTTP_SIZE_BUCKETS bucket. */
  requestSizeHistogram: number[];
  responseSizeHistogram: number[];
  /** Whole milliseconds per exchange (truncated, as upstream). */
  durationMs: Average;
  /** Counts per HTTP_DURATION_BUCKETS_MS bucket. */
  durationHistogram: number[];
  sampler: HttpSampler;
}

export interface Http1Accumulator {
  client: Http1SideAccumulator;
  server: Http1SideAccumulator;
}

const side = (): Http1SideAccumulator => ({
  requests: 0,
  statuses: new Map(),
  requestSize: { sum: 0, count: 0 },
  responseSize: { sum: 0, count: 0 },
  requestSizeHistogram: new Array<number>(HTTP_SIZE_BUCKETS.length).fill(0),
  responseSizeHistogram: new Array<number>(HTTP_SIZE_BUCKETS.length).fill(0),
  durationMs: { sum: 0, count: 0 },
  durationHistogram: new Array<number>(HTTP_DURATION_BUCKETS_MS.length).fill(0),
  sampler: new HttpSampler(),
});

export const newHttp1 = (): Http1Accumulator => ({ client: side(), server: side() });

/** Count one parsed exchange on its side, and offer it to the sampler. */
export function recordExchange(acc: Http1Accumulator, exchange: HttpExchange, rules: SamplingRules): void {
  const s = acc[exchange.side];
  s.requests++;
  const status = exchange.response.response!.status;
  s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
  const req = messageSize(exchange.request);
  const res = messageSize(exchange.response);
  s.requestSize.sum += req;
  s.requestSize.count++;
  s.responseSize.sum += res;
  s.responseSize.count++;
  s.requestSizeHistogram[bucketIndex(HTTP_SIZE_BUCKETS, req)]!++;
  s.responseSizeHistogram[bucketIndex(HTTP_SIZE_BUCKETS, res)]!++;
  const ms = Math.floor(exchange.durationNs / 1e6);
  s.durationMs.sum += ms;
  s.durationMs.count++;
  s.durationHistogram[bucketIndex(HTTP_DURATION_BUCKETS_MS, ms)]!++;
  s.sampler.consider(rules, exchange);
}

/** Move `from` into `into` (connections into their traffic); `from` is left empty. */
export function mergeHttp1(into: Http1Accumulator, from: Http1Accumulator): void {
  for (const k of ['client', 'server'] as const) {
    const a = into[k];
    const b = from[k];
    a.requests += b.requests;
    for (const [code, n] of b.statuses) a.statuses.set(code, (a.statuses.get(code) ?? 0) + n);
    for (const avg of ['requestSize', 'responseSize', 'durationMs'] as const) {
      a[avg].sum += b[avg].sum;
      a[avg].count += b[avg].count;
    }
    for (const h of ['requestSizeHistogram', 'responseSizeHistogram', 'durationHistogram'] as const) {
      b[h].forEach((v, i) => (a[h][i]! += v));
    }
    a.sampler.mergeFrom(b.sampler);
    const fresh = side();
    fresh.sampler = b.sampler;
    Object.assign(b, fresh);
  }
}

/** What the kernel counted of one connection's exchanges since the last reading (network_http.h). */
export interface KernelExchanges {
  exchanges: number;
  /** Exchanges per status code. */
  statuses: ReadonlyMap<number, number>;
  requestBytes: number;
  responseBytes: number;
  /** Whole milliseconds summed over the exchanges. */
  durationMs: number;
  /** Counts per HTTP_DURATION_BUCKETS_MS / HTTP_SIZE_BUCKETS bucket. */
  durationHistogram: readonly number[];
  requestSizeHistogram: readonly number[];
  responseSizeHistogram: readonly number[];
}

/** Adds exchanges counted in the kernel to a side, as recordExchange would have one by one. */
export function addKernelExchanges(s: Http1SideAccumulator, k: KernelExchanges): void {
  s.requests += k.exchanges;
  for (const [code, n] of k.statuses) s.statuses.set(code, (s.statuses.get(code) ?? 0) + n);
  s.requestSize.sum += k.requestBytes;
  s.requestSize.count += k.exchanges;
  s.responseSize.sum += k.responseBytes;
  s.responseSize.count += k.exchanges;
  s.durationMs.sum += k.durationMs;
  s.durationMs.count += k.exchanges;
  k.durationHistogram.forEach((v, i) => (s.durationHistogram[i]! += v));
  k.requestSizeHistogram.forEach((v, i) => (s.requestSizeHistogram[i]! += v));
  k.responseSizeHistogram.forEach((v, i) => (s.responseSizeHistogram[i]! += v));
}
