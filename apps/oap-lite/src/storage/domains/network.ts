/**
 * Network profiling data besides its metric values: the process relations seen per minute (the
 * OAP's process_relation_client_side / process_relation_server_side), the sampled HTTP exchanges
 * (sampled_slow_trace_record, sampled_status_4xx_trace_record, sampled_status_5xx_trace_record)
 * and the raw request/response events rover attaches to them (span_attached_event_record).
 */
import type { TimeRange } from './profiling-data';

export type RelationSide = 'CLIENT' | 'SERVER';

export interface ProcessRelationRecord {
  side: RelationSide;
  /** `${sourceProcessId}-${destProcessId}`. */
  entityId: string;
  /** The instance whose rover reported it (where the topology is asked for). */
  instanceId: string;
  serviceId: string;
  /** The client process. */
  sourceProcessId: string;
  /** The server process. */
  destProcessId: string;
  componentId: number;
  /** Epoch ms of the minute. */
  timeBucket: number;
}

export type SampledTraceTable =
  'sampled_slow_trace_record' | 'sampled_status_4xx_trace_record' | 'sampled_status_5xx_trace_record';

export const SAMPLED_TRACE_TABLES: readonly SampledTraceTable[] = [
  'sampled_slow_trace_record',
  'sampled_status_4xx_trace_record',
  'sampled_status_5xx_trace_record',
];

export interface SampledTraceRecord {
  table: SampledTraceTable;
  /** `${processId}-${destProcessId}` (scope PROCESS_RELATION). */
  entityId: string;
  serviceId: string;
  instanceId: string;
  traceId: string;
  /** The URI. */
  statement: string;
  /** Milliseconds. */
  latency: number;
  /** Epoch ms (the log's). */
  timestamp: number;
}

export interface SpanAttachedEventRecord {
  /** SKYWALKING or ZIPKIN. */
  traceRefType: string;
  relatedTraceId: string;
  traceSegmentId: string;
  traceSpanId: string;
  event: string;
  startTimeSecond: number;
  startTimeNanos: number;
  endTimeSecond: number;
  endTimeNanos: number;
  /** The SpanAttachedEvent as received, serialized (the OAP keeps it as data_binary). */
  dataBinary: Buffer;
  /** Epoch ms when received. */
  timestamp: number;
}

export interface NetworkStore {
  /** Stores relations; one per (side, entity, minute): a repeated one changes nothing. */
  upsertRelations(records: ProcessRelationRecord[]): Promise<void>;
  /** The relations reported by one instance's rover in the range (minutes, inclusive). */
  queryRelations(instanceId: string, range: TimeRange): Promise<ProcessRelationRecord[]>;
  /** Stores sampled traces; one per (table, entity, trace, second): a repeated one replaces the older. */
  addSampledTraces(records: SampledTraceRecord[]): Promise<void>;
  /**
   * The `topN` sampled traces of a table with the largest (`DES`) or smallest (`ASC`) latency in
   * the range (timestamps, inclusive), of one entity or of all when entityId is null.
   */
  querySampledTraces(
    table: SampledTraceTable,
    entityId: string | null,
    range: TimeRange,
    topN: number,
    order: 'DES' | 'ASC',
  ): Promise<SampledTraceRecord[]>;
  addSpanAttachedEvents(records: SpanAttachedEventRecord[]): Promise<void>;
  /** The events related to any of these trace ids, by start time. */
  querySpanAttachedEvents(traceIds: string[]): Promise<SpanAttachedEventRecord[]>;
  /** TTL: records (sampled traces, events) before `recordsBefore`, relations before `metricsBefore`. */
  deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number>;
}
