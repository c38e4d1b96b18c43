/**
 * The `rover_net_p_*` meters of a NETWORK task, named and labelled as upstream rover sends them
 * (analyze/base/metrics.go BuildBasicMeterLabels, layer4/listener.go, http1/metrics.go), built
 * into MeterDataCollection messages for MeterReportService.collectBatch: one collection per
 * service instance, whose first MeterData carries service, instance and timestamp.
 *
 * Values are per flush interval: counters are the interval's deltas and are sent only when
 * above zero; `*_exe_time_counter` and `*_avg` are the interval's averages; histograms are sent
 * only when one bucket is non-empty (layer 4: the non-empty buckets; http1: every bucket).
 */
import type { Label, MeterBucketValue, MeterData, MeterDataCollection } from '@swlite/protocol';
import {
  HTTP_DURATION_BUCKETS_MS,
  HTTP_SIZE_BUCKETS,
  SOCKET_BUCKETS_NS,
  SOCKET_BUCKETS_US,
  type Average,
  type Http1Accumulator,
  type Http1SideAccumulator,
  type Layer4Accumulator,
  type OpCounter,
} from './accumulators';
import type { ConnectionRole, RemoteEnd } from './connections';

/** upstream `meter_prefix: rover_net_p` plus the `_` the code appends. */
export const DEFAULT_METER_PREFIX = 'rover_net_p_';

/** What the labels of a traffic's meters need (connections.ts Traffic has it). */
export interface MeterTraffic {
  local: { id: string };
  role: ConnectionRole;
  remote: RemoteEnd;
  protocol: 'http' | 'unknown';
  isSsl: boolean;
}

/** An unknown role reports as client. */
export const meterSide = (role: ConnectionRole): 'client' | 'server' => (role === 'server' ? 'server' : 'client');

/** `<side>_process_id`, the remote end, side, protocol, is_ssl, in upstream's order. */
export function basicLabels(t: MeterTraffic): Label[] {
  const side = meterSide(t.role);
  const peer = side === 'client' ? 'server' : 'client';
  const remote: Label =
    t.remote.kind === 'process'
      ? { name: `${peer}_process_id`, value: t.remote.processId }
      : t.remote.kind === 'local'
        ? { name: `${peer}_local`, value: 'true' }
        : { name: `${peer}_address`, value: t.remote.address };
  return [
    { name: `${side}_process_id`, value: t.local.id },
    remote,
    { name: 'side', value: side },
    { name: 'protocol', value: t.protocol },
    { name: 'is_ssl', value: String(t.isSsl) },
  ];
}

const single = (name: string, labels: Label[], value: number): MeterData => ({ singleValue: { name, labels, value } });
const histogram = (name: string, labels: Label[], values: MeterBucketValue[]): MeterData => ({
  histogram: { name, labels, values },
});

const LAYER4_COUNTER_NAMES: Array<[keyof Layer4Accumulator & string, string]> = [
  ['write', 'write'],
  ['read', 'read'],
  ['writeRtt', 'write_rtt'],
  ['connect', 'connect'],
  ['close', 'close'],
  ['retransmit', 'retransmit'],
  ['drop', 'drop'],
];
const LAYER4_HISTOGRAM_NAMES: Array<[keyof Layer4Accumulator & string, string, readonly number[]]> = [
  ['writeRttHistogram', 'write_rtt', SOCKET_BUCKETS_US],
  ['writeExeTimeHistogram', 'write_exe_time', SOCKET_BUCKETS_NS],
  ['readExeTimeHistogram', 'read_exe_time', SOCKET_BUCKETS_NS],
  ['connectExeTimeHistogram', 'connect_exe_time', SOCKET_BUCKETS_NS],
  ['closeExeTimeHistogram', 'close_exe_time', SOCKET_BUCKETS_NS],
];

/** `<P><side>_<op>_{counts,bytes,exe_time}_counter` and `<P><side>_<op>_histogram`. */
export function layer4Meters(t: MeterTraffic, acc: Layer4Accumulator, prefix = DEFAULT_METER_PREFIX): MeterData[] {
  const side = meterSide(t.role);
  const out: MeterData[] = [];
  for (const [key, name] of LAYER4_COUNTER_NAMES) {
    const c = acc[key] as OpCounter;
    if (c.count <= 0) continue;
    const base = `${prefix}${side}_${name}`;
    out.push(single(`${base}_counts_counter`, basicLabels(t), c.count));
    if (c.bytes > 0) out.push(single(`${base}_bytes_counter`, basicLabels(t), c.bytes));
    if (c.exeTime > 0) out.push(single(`${base}_exe_time_counter`, basicLabels(t), c.exeTime / c.count));
  }
  for (const [key, name, bounds] of LAYER4_HISTOGRAM_NAMES) {
    const counts = acc[key] as number[];
    const values: MeterBucketValue[] = [];
    counts.forEach((count, i) => {
      if (count > 0) values.push({ bucket: bounds[Math.min(i, bounds.length - 1)]!, count, isNegativeInfinity: false });
    });
    if (values.length > 0) out.push(histogram(`${prefix}${side}_${name}_histogram`, basicLabels(t), values));
  }
  return out;
}

const avgOf = (a: Average): number => (a.sum === 0 ? 0 : a.sum / a.count);

function http1Histogram(name: string, labels: Label[], bounds: readonly number[], counts: number[]): MeterData[] {
  if (!counts.some((c) => c > 0)) return [];
  return [
    histogram(
      name,
      labels,
      bounds.map((bucket, i) => ({ bucket, count: counts[i] ?? 0, isNegativeInfinity: false })),
    ),
  ];
}

function http1SideMeters(t: MeterTraffic, s: Http1SideAccumulator, prefix: string, durationOnly: boolean): MeterData[] {
  const side = meterSide(t.role);
  const p = `${prefix}http1_`;
  const labels = basicLabels(t);
  const out: MeterData[] = [];
  // An average of zero is not sent (upstream AvgCounter skips a zero sum).
  if (s.durationMs.sum !== 0) out.push(single(`${p}${side}_duration_avg`, labels, avgOf(s.durationMs)));
  out.push(...http1Histogram(`${p}${side}_duration_histogram`, labels, HTTP_DURATION_BUCKETS_MS, s.durationHistogram));
  if (durationOnly) return out;
  if (s.requests > 0) out.push(single(`${p}request_counter`, labels, s.requests));
  for (const [code, n] of s.statuses) {
    if (n > 0) out.push(single(`${p}response_status_counter`, [...labels, { name: 'code', value: String(code) }], n));
  }
  if (s.requestSize.sum !== 0) out.push(single(`${p}request_package_size_avg`, labels, avgOf(s.requestSize)));
  if (s.responseSize.sum !== 0) out.push(single(`${p}response_package_size_avg`, labels, avgOf(s.responseSize)));
  out.push(...http1Histogram(`${p}request_package_size_histogram`, labels, HTTP_SIZE_BUCKETS, s.requestSizeHistogram));
  out.push(
    ...http1Histogram(`${p}response_package_size_histogram`, labels, HTTP_SIZE_BUCKETS, s.responseSizeHistogram),
  );
  return out;
}

/**
 * The http1 meters of a traffic: all of them from the traffic's own side, plus, when the remote
 * process is monitored too, the duration meters of the other side's accumulator under the same
 * names and labels (upstream does this; normally that side is empty on a connection).
 */
export function http1Meters(
  t: MeterTraffic,
  acc: Http1Accumulator,
  remoteMonitored: boolean,
  prefix = DEFAULT_METER_PREFIX,
): MeterData[] {
  const own = meterSide(t.role);
  const other = own === 'client' ? 'server' : 'client';
  const out = http1SideMeters(t, acc[own], prefix, false);
  if (remoteMonitored) out.push(...http1SideMeters(t, acc[other], prefix, true));
  return out;
}

export interface InstanceMeters {
  service: string;
  instance: string;
  meters: MeterData[];
}

/** One collection per (service, instance) with meters; service/instance/timestamp on the first. */
export function meterCollections(groups: readonly InstanceMeters[], nowMs: number): MeterDataCollection[] {
  const byInstance = new Map<string, InstanceMeters>();
  for (const g of groups) {
    const key = JSON.stringify([g.service, g.instance]);
    const into = byInstance.get(key);
    if (into) into.meters.push(...g.meters);
    else byInstance.set(key, { ...g, meters: [...g.meters] });
  }
  const out: MeterDataCollection[] = [];
  for (const { service, instance, meters } of byInstance.values()) {
    if (meters.length === 0) continue;
    const [first, ...rest] = meters;
    out.push({ meterData: [{ ...first!, service, serviceInstance: instance, timestamp: nowMs }, ...rest] });
  }
  return out;
}
