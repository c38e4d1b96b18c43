/**
 * The rules of the OAP's meter-analyzer-config/network-profiling.yaml (10.2), written as data:
 * which rover_net_p_* meter makes which process_relation_* metric, and with which meter function.
 *
 * - `sumPerMin` (downsampling SUM_PER_MIN): the minute's value is the sum of what was accepted;
 *   an hour's is that sum over 60, a day's over 1440.
 * - `avg` (the default function): the mean of the accepted values.
 * - `percentile` (histogram().histogram_percentile([50,70,90,99])): per bucket the mean of the
 *   accepted counts; the value for p is the first bucket (by its bound) where the running count
 *   reaches round(total × p / 100). Series are labelled `p`.
 *
 * `code` is the one label kept beside the entity (http1_response_status_cpm).
 */
export type NetworkMeterFunction = 'sumPerMin' | 'avg' | 'percentile';

export interface NetworkMeterRule {
  meter: string;
  metric: string;
  fn: NetworkMeterFunction;
  /** Labels kept as series labels. */
  labels: readonly string[];
}

/** The percentiles of histogram_percentile in 10.2's file. */
export const NETWORK_PERCENTILES: readonly number[] = [50, 70, 90, 99];

const P = 'rover_net_p_';
const M = 'process_relation_';

const sideRules = (side: 'client' | 'server'): NetworkMeterRule[] => {
  const r = (meter: string, metric: string, fn: NetworkMeterFunction): NetworkMeterRule => ({
    meter: `${P}${side}_${meter}`,
    metric: `${M}${side}_${metric}`,
    fn,
    labels: [],
  });
  return [
    r('write_counts_counter', 'write_cpm', 'sumPerMin'),
    r('write_bytes_counter', 'write_total_bytes', 'sumPerMin'),
    r('write_exe_time_counter', 'write_avg_exe_time', 'avg'),
    r('read_counts_counter', 'read_cpm', 'sumPerMin'),
    r('read_bytes_counter', 'read_total_bytes', 'sumPerMin'),
    r('read_exe_time_counter', 'read_avg_exe_time', 'avg'),
    r('write_rtt_exe_time_counter', 'write_avg_rtt_time', 'avg'),
    r('connect_counts_counter', 'connect_cpm', 'sumPerMin'),
    // The OAP names the client's without "avg" and the server's with it.
    r('connect_exe_time_counter', side === 'client' ? 'connect_exe_time' : 'connect_avg_exe_time', 'avg'),
    r('close_counts_counter', 'close_cpm', 'sumPerMin'),
    r('close_exe_time_counter', 'close_avg_exe_time', 'avg'),
    r('retransmit_counts_counter', 'retransmit_cpm', 'sumPerMin'),
    r('drop_counts_counter', 'drop_cpm', 'sumPerMin'),
    r('write_rtt_histogram', 'write_rtt_time_percentile', 'percentile'),
    r('write_exe_time_histogram', 'write_exe_time_percentile', 'percentile'),
    r('read_exe_time_histogram', 'read_exe_time_percentile', 'percentile'),
  ];
};

const http1 = (meter: string, metric: string, fn: NetworkMeterFunction, labels: string[] = []): NetworkMeterRule => ({
  meter: `${P}http1_${meter}`,
  metric: `${M}http1_${metric}`,
  fn,
  labels,
});

export const NETWORK_PROFILING_RULES: readonly NetworkMeterRule[] = [
  ...sideRules('client'),
  ...sideRules('server'),
  http1('request_counter', 'request_cpm', 'sumPerMin'),
  http1('response_status_counter', 'response_status_cpm', 'sumPerMin', ['code']),
  http1('request_package_size_avg', 'request_package_size', 'avg'),
  http1('response_package_size_avg', 'response_package_size', 'avg'),
  http1('request_package_size_histogram', 'request_package_size_percentile', 'percentile'),
  http1('response_package_size_histogram', 'response_package_size_percentile', 'percentile'),
  http1('client_duration_avg', 'client_duration', 'avg'),
  http1('server_duration_avg', 'server_duration', 'avg'),
  http1('client_duration_histogram', 'client_duration_percentile', 'percentile'),
  http1('server_duration_histogram', 'server_duration_percentile', 'percentile'),
];

/** Component ids of component-libraries.yml, and the names getProcessTopology answers with. */
export const NETWORK_COMPONENTS = { http: 49, https: 129, tls: 130, tcp: 110 } as const;
export const COMPONENT_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(NETWORK_COMPONENTS).map(([name, id]) => [id, name]),
);

/** The expPrefix's component: from the protocol and is_ssl labels. */
export const componentOf = (protocol: string | undefined, ssl: string | undefined): number => {
  if (protocol === 'http') return ssl === 'true' ? NETWORK_COMPONENTS.https : NETWORK_COMPONENTS.http;
  return ssl === 'true' ? NETWORK_COMPONENTS.tls : NETWORK_COMPONENTS.tcp;
};

/** The metrics for MQE: process relation scope, the rule's function, `code` or `p` labels. */
export const networkMqeMetrics = (rules: readonly NetworkMeterRule[] = NETWORK_PROFILING_RULES) =>
  rules.map((r) => ({
    name: r.metric,
    labeled: r.labels.length > 0,
    fn: r.fn,
    scope: 'processRelation' as const,
    ...(r.fn === 'percentile' ? { percentiles: NETWORK_PERCENTILES } : {}),
  }));
