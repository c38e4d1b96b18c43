/**
 * What rover's network profiler reports, built as rover builds it, for tests that play the rover
 * over real gRPC (AgentClient.sendMeters / sendLogs):
 *
 * - `rover_net_p_*` meters in one MeterDataCollection per (service, instance), service, instance
 *   and timestamp on its first MeterData only (rover's network runner; the OAP copies them on);
 * - sampled HTTP exchanges as LogData tagged LOG_KIND=NET_PROFILING_SAMPLED_TRACE with the JSON
 *   body rover writes (uri, reason, latency, processes, detect point, component, status).
 */
import type { LogData, MeterData, MeterDataCollection } from '@swlite/protocol';

export type NetLabels = Record<string, string>;

/** rover's `profiling.task.network.meter_prefix` ("rover_net_p") with the "_" its code appends. */
export const NET_METER_PREFIX = 'rover_net_p_';

const labelList = (labels: NetLabels) => Object.entries(labels).map(([name, value]) => ({ name, value }));

type NetMeter = Omit<MeterData, 'service' | 'serviceInstance' | 'timestamp'>;

/** A single-value meter, `name` without the prefix (`http1_request_counter`). */
export const netSingle = (name: string, value: number, labels: NetLabels): NetMeter => ({
  singleValue: { name: `${NET_METER_PREFIX}${name}`, labels: labelList(labels), value },
});

/** A histogram meter: [bucket lower bound, count] pairs. */
export const netHistogram = (name: string, buckets: Array<[number, number]>, labels: NetLabels): NetMeter => ({
  histogram: {
    name: `${NET_METER_PREFIX}${name}`,
    labels: labelList(labels),
    values: buckets.map(([bucket, count]) => ({ bucket, count })),
  },
});

/** One report interval's meters of one service instance, as rover's network runner sends them. */
export const netMeterCollection = (
  entity: { service: string; instance: string },
  timestamp: number,
  meters: NetMeter[],
): MeterDataCollection => ({
  meterData: meters.map((m, i) =>
    i === 0 ? { ...m, service: entity.service, serviceInstance: entity.instance, timestamp } : m,
  ),
});

/** One end of a sampled exchange: the profiled process, or what rover knows of the peer. */
export type SampledPeer = { process_id: string } | { local: true } | { address: string };

export interface SampledExchange {
  uri: string;
  reason: 'slow' | 'status_4xx' | 'status_5xx' | string;
  latency: number;
  client_process: SampledPeer;
  server_process: SampledPeer;
  detect_point?: 'client' | 'server';
  component?: string;
  ssl?: boolean;
  status?: number;
  trace_provider?: 'skywalking' | 'zipkin';
}

/** The LogData rover sends for one sampled HTTP exchange (LogReportService.collect). */
export const sampledTraceLog = (
  entity: { service: string; instance: string; layer?: string },
  traceId: string,
  exchange: SampledExchange,
  timestamp = Date.now(),
): LogData => ({
  timestamp,
  service: entity.service,
  serviceInstance: entity.instance,
  layer: entity.layer ?? 'OS_LINUX',
  traceContext: { traceId },
  tags: { data: [{ key: 'LOG_KIND', value: 'NET_PROFILING_SAMPLED_TRACE' }] },
  body: {
    type: 'json',
    json: {
      json: JSON.stringify({
        trace_provider: 'skywalking',
        detect_point: 'client',
        component: 'http',
        ssl: false,
        ...exchange,
      }),
    },
  },
});
