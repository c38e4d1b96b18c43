/**
 * A network profiling task's result as one object: the instance's process topology with, per
 * edge, its ProcessRelation metrics summed or averaged over the task's window, and its sampled
 * requests. Pure: the answers of getProcessTopology and EdgeMetrics in, the report out.
 *
 * The metrics are per minute (MQE time series over the window's minutes):
 * - counts (`*_cpm`, `*_total_bytes`): summed over the minutes; the rate is that total over the
 *   window's length, so partly covered first and last minutes do not lower it;
 * - HTTP average latency: the minutes' averages weighted by the minute's request count;
 * - p99: the highest minute's p99 (percentiles of different minutes cannot be merged; for a
 *   window within one minute it is that minute's).
 */
import type { AttachedEvent, EdgeMetrics, ProcessTopology, RelationEntity, SamplingRule, TopologyNode } from './api';

export interface ProcessRef {
  id: string;
  name: string;
  /** False for the OAP's virtual processes (UNKNOWN_LOCAL, UNKNOWN_REMOTE, Kubernetes names of remote peers). */
  real: boolean;
  serviceName: string;
  instanceName: string;
}

export interface LatencyStats {
  avgMs: number | null;
  p99Ms: number | null;
}

export type SampleKind = 'slow' | '4xx' | '5xx';

export interface SampledRequest {
  kind: SampleKind;
  uri: string;
  latencyMs: number | null;
  traceId: string | null;
  /**
   * From the request and response rover attached to the trace (null when it attached none: the
   * rule kept no message, or the server shows none for the trace).
   */
  status: number | null;
  /** Epoch ms the request started. */
  time: number | null;
}

export interface EdgeReport {
  id: string;
  source: ProcessRef;
  target: ProcessRef;
  /** Component names: http, https, tls, tcp. */
  protocols: string[];
  /** Which ends reported the edge: CLIENT (the source's rover) and/or SERVER (the target's). */
  detectPoints: string[];
  /** HTTP/1.x requests, or null when no request was parsed on the edge. */
  http: {
    requests: number;
    perMinute: number;
    /** Responses per status code. */
    statusCodes: Record<string, number>;
    client: LatencyStats;
    server: LatencyStats;
  } | null;
  /** Bytes as each side counted them (null: that side did not report). */
  bytes: {
    clientWrite: number | null;
    clientRead: number | null;
    serverWrite: number | null;
    serverRead: number | null;
  };
  /** Socket writes counted by each side, and the client's average RTT (µs). */
  tcp: { clientWrites: number | null; serverWrites: number | null; clientRttUs: number | null };
  records: Record<SampleKind, SampledRequest[]>;
}

export interface NetworkReport {
  task: {
    id: string;
    service: string;
    instance: string;
    instanceId: string;
    /** null: not known (a task read again with --task: the query protocol does not return its rules). */
    samplings: SamplingRule[] | null;
  };
  /** Epoch ms, the server's clock. */
  window: { start: number; end: number; minutes: number };
  nodes: ProcessRef[];
  edges: EdgeReport[];
  /** What the server refused to answer (MQE errors), once each. */
  warnings: string[];
}

type Series = EdgeMetrics['requestCpm'];

const numbers = (values: Array<{ value: string | null }>): Array<number | null> =>
  values.map((v) => (v.value === null || v.value === '' || !Number.isFinite(Number(v.value)) ? null : Number(v.value)));

/** The values of a series without labels, point by point (null where a minute has no data). */
const points = (s: Series): Array<number | null> => numbers(s.results[0]?.values ?? []);

const sum = (values: Array<number | null>): number | null => {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? present.reduce((a, b) => a + b, 0) : null;
};

const max = (values: Array<number | null>): number | null => {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? Math.max(...present) : null;
};

/** The mean of the minutes' values, weighted by the minutes' request counts where there are any. */
const weightedMean = (values: Array<number | null>, weights: Array<number | null>): number | null => {
  let total = 0;
  let weight = 0;
  let plain = 0;
  let count = 0;
  values.forEach((v, i) => {
    if (v === null) return;
    plain += v;
    count++;
    const w = weights[i] ?? 0;
    if (w > 0) {
      total += v * w;
      weight += w;
    }
  });
  if (weight > 0) return total / weight;
  return count ? plain / count : null;
};

/** The service ID's last part says whether the service is normal (".1") or not (".0"). */
const isNormal = (serviceId: string) => !serviceId.endsWith('.0');

/** The MQE / readRecords entity of the edge from `source` to `target`. */
export const relationEntity = (source: TopologyNode, target: TopologyNode): RelationEntity => ({
  serviceName: source.serviceName,
  normal: isNormal(source.serviceId),
  serviceInstanceName: source.serviceInstanceName,
  processName: source.name,
  destServiceName: target.serviceName,
  destNormal: isNormal(target.serviceId),
  destServiceInstanceName: target.serviceInstanceName,
  destProcessName: target.name,
});

const processRef = (node: TopologyNode): ProcessRef => ({
  id: node.id,
  name: node.name,
  real: node.isReal,
  serviceName: node.serviceName,
  instanceName: node.serviceInstanceName,
});

/** A node the topology names in a call but does not list (it should not happen): its ID as its name. */
const unknownNode = (id: string): TopologyNode => ({
  id,
  name: id,
  isReal: false,
  serviceId: '',
  serviceName: '',
  serviceInstanceId: '',
  serviceInstanceName: '',
});

export const nodeOf = (topology: ProcessTopology, id: string): TopologyNode =>
  topology.nodes.find((n) => n.id === id) ?? unknownNode(id);

const records = (kind: SampleKind, rows: EdgeMetrics['slow']): SampledRequest[] =>
  rows.map((r) => ({
    kind,
    uri: r.name,
    latencyMs: r.value === null || !Number.isFinite(Number(r.value)) ? null : Number(r.value),
    traceId: r.refId ?? r.id,
    status: null,
    time: null,
  }));

/**
 * The status code and start time of a sampled exchange from the events rover attached to its
 * trace: the status line of "HTTP Response Sampling" content, the start of "HTTP Request
 * Sampling" (else of the response).
 */
export const exchangeDetails = (events: AttachedEvent[]): { status: number | null; time: number | null } => {
  const ms = (e: AttachedEvent) => Number(e.startTime.seconds) * 1000 + Math.floor(e.startTime.nanos / 1e6);
  const request = events.find((e) => e.event === 'HTTP Request Sampling');
  const response = events.find((e) => e.event === 'HTTP Response Sampling');
  const content = response?.tags.find((t) => t?.key === 'data_content')?.value ?? '';
  const status = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\b/.exec(content)?.[1];
  const first = request ?? response;
  return { status: status ? Number(status) : null, time: first ? ms(first) : null };
};

/** One edge's report from its EdgeMetrics answer; MQE errors go to `warnings`. */
export const edgeReport = (
  topology: ProcessTopology,
  call: ProcessTopology['calls'][number],
  metrics: EdgeMetrics,
  windowMinutes: number,
  warnings: Set<string>,
): EdgeReport => {
  for (const [name, value] of Object.entries(metrics)) {
    if (!Array.isArray(value) && value.error) warnings.add(`${name}: ${value.error}`);
  }
  const requestsPerPoint = points(metrics.requestCpm);
  const requests = sum(requestsPerPoint);
  const statusCodes: Record<string, number> = {};
  for (const s of metrics.statusCpm.results) {
    const code = s.metric.labels.find((l) => l.key === 'code')?.value ?? '?';
    const n = sum(numbers(s.values));
    if (n !== null) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  }
  const latency = (avg: Series, p99: Series): LatencyStats => ({
    avgMs: weightedMean(points(avg), requestsPerPoint),
    p99Ms: max(numbers(p99.results.flatMap((r) => r.values))),
  });
  const http =
    requests !== null || Object.keys(statusCodes).length
      ? {
          requests: requests ?? 0,
          perMinute: windowMinutes > 0 ? (requests ?? 0) / windowMinutes : 0,
          statusCodes: Object.fromEntries(Object.entries(statusCodes).sort(([a], [b]) => a.localeCompare(b))),
          client: latency(metrics.clientDuration, metrics.clientDurationP99),
          server: latency(metrics.serverDuration, metrics.serverDurationP99),
        }
      : null;
  return {
    id: call.id,
    source: processRef(nodeOf(topology, call.source)),
    target: processRef(nodeOf(topology, call.target)),
    protocols: [...new Set([...call.sourceComponents, ...call.targetComponents])].sort(),
    detectPoints: [...call.detectPoints].sort(),
    http,
    bytes: {
      clientWrite: sum(points(metrics.clientWriteBytes)),
      clientRead: sum(points(metrics.clientReadBytes)),
      serverWrite: sum(points(metrics.serverWriteBytes)),
      serverRead: sum(points(metrics.serverReadBytes)),
    },
    tcp: {
      clientWrites: sum(points(metrics.clientWriteCpm)),
      serverWrites: sum(points(metrics.serverWriteCpm)),
      clientRttUs: weightedMean(points(metrics.clientRtt), points(metrics.clientWriteCpm)),
    },
    records: {
      slow: records('slow', metrics.slow),
      '4xx': records('4xx', metrics.status4xx),
      '5xx': records('5xx', metrics.status5xx),
    },
  };
};

/** Edges in a stable order: by source name, then target name. */
export const sortEdges = (edges: EdgeReport[]): EdgeReport[] =>
  [...edges].sort(
    (a, b) =>
      a.source.name.localeCompare(b.source.name) ||
      a.target.name.localeCompare(b.target.name) ||
      a.id.localeCompare(b.id),
  );

export const topologyNodes = (topology: ProcessTopology): ProcessRef[] =>
  topology.nodes.map(processRef).sort((a, b) => Number(b.real) - Number(a.real) || a.name.localeCompare(b.name));

/** Bytes from the client to the server (the client's writes, else the server's reads) and back. */
export const edgeBytes = (e: EdgeReport): { sent: number | null; received: number | null } => ({
  sent: e.bytes.clientWrite ?? e.bytes.serverRead,
  received: e.bytes.clientRead ?? e.bytes.serverWrite,
});
