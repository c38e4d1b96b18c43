/** Prometheus metrics of oap-lite itself, served at /metrics on the REST port. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  processesReported: Counter;
  stacksIngested: Counter;
  profilingStreamsRejected: Counter;
  metersReceived: Counter;
  meterStreamsRejected: Counter;
  graphqlRequests: Counter<'operation' | 'outcome'>;
  analysisSeconds: Histogram;
  analysesRefused: Counter<'setting'>;
  profilingMessagesSkipped: Counter<'reason'>;
  storageBuffered: Gauge;
  storageDropped: Counter;
}

export const createMetrics = (): Metrics => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'oap_lite_' });
  return {
    registry,
    processesReported: new Counter({
      name: 'oap_lite_processes_reported_total',
      help: 'Processes reported by agents (reportProcesses)',
      registers: [registry],
    }),
    stacksIngested: new Counter({
      name: 'oap_lite_profiling_stacks_ingested_total',
      help: 'Profiling stack records stored',
      registers: [registry],
    }),
    profilingStreamsRejected: new Counter({
      name: 'oap_lite_profiling_streams_rejected_total',
      help: 'Profiling upload streams refused or broken (nothing of them stored)',
      registers: [registry],
    }),
    metersReceived: new Counter({
      name: 'oap_lite_meters_received_total',
      help: 'MeterData received in meter report streams that were accepted',
      registers: [registry],
    }),
    meterStreamsRejected: new Counter({
      name: 'oap_lite_meter_streams_rejected_total',
      help: 'Meter report streams refused or broken (nothing of them stored)',
      registers: [registry],
    }),
    graphqlRequests: new Counter({
      name: 'oap_lite_graphql_requests_total',
      help: 'GraphQL operations by name and outcome',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    analysisSeconds: new Histogram({
      name: 'oap_lite_analysis_seconds',
      help: 'analysisEBPFProfilingResult latency',
      buckets: [0.01, 0.05, 0.1, 0.3, 1, 3, 10],
      registers: [registry],
    }),
    analysesRefused: new Counter({
      name: 'oap_lite_analyses_refused_total',
      help: 'Analyses stopped by a limit (by its setting) or cancelled by the client',
      labelNames: ['setting'],
      registers: [registry],
    }),
    profilingMessagesSkipped: new Counter({
      name: 'oap_lite_profiling_messages_skipped_total',
      help: 'Profiling data messages skipped while the rest of their stream was kept (e.g. unknown task)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    storageBuffered: new Gauge({
      name: 'oap_lite_storage_buffered_records',
      help: 'Records waiting for the storage backend',
      registers: [registry],
    }),
    storageDropped: new Counter({
      name: 'oap_lite_storage_dropped_records_total',
      help: 'Records refused because the storage buffer was full',
      registers: [registry],
    }),
  };
};
