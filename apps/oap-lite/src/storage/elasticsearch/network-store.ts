/**
 * NetworkStore on Elasticsearch. Relations are documents of the daily metrics indices
 * (metric_table process_relation_client_side / _server_side, id `<minute>_<instance>_<entity>`: the
 * OAP's metrics id and the reporting instance), so the metrics TTL drops them with their day; sampled traces
 * (record_table sampled_*_trace_record, id `<second>_<entity>_<trace>`) and attached events
 * (record_table span_attached_event_record) are documents of the daily records indices.
 */
import { createHash } from 'node:crypto';
import type {
  NetworkStore,
  ProcessRelationRecord,
  RelationSide,
  SampledTraceRecord,
  SampledTraceTable,
  SpanAttachedEventRecord,
  TimeRange,
} from '../types';
import { docId, PAGE, type Doc, type EsConnection } from './connection';
import {
  METRIC_TABLE_RELATION,
  RECORD_TABLE_SPAN_ATTACHED_EVENT,
  minuteTimeBucket,
  minuteTimeBucketStart,
  secondTimeBucket,
  utcDay,
} from './indices';

const SIDE_OF_TABLE: Record<string, RelationSide> = {
  [METRIC_TABLE_RELATION.CLIENT]: 'CLIENT',
  [METRIC_TABLE_RELATION.SERVER]: 'SERVER',
};

export class EsNetworkStore implements NetworkStore {
  constructor(private readonly c: EsConnection) {}

  async upsertRelations(records: ProcessRelationRecord[]): Promise<void> {
    if (records.length === 0) return;
    const operations: unknown[] = [];
    for (const r of records) {
      const table = METRIC_TABLE_RELATION[r.side];
      const bucket = minuteTimeBucket(r.timeBucket);
      operations.push(
        {
          index: {
            _index: this.c.names.metricsDay(utcDay(r.timeBucket)),
            _id: docId(`${table}_${bucket}_${r.instanceId}_${r.entityId}`),
          },
        },
        {
          metric_table: table,
          entity_id: r.entityId,
          service_id: r.serviceId,
          instance_id: r.instanceId,
          side: r.side,
          source_process_id: r.sourceProcessId,
          dest_process_id: r.destProcessId,
          component_id: r.componentId,
          time_bucket: bucket,
        },
      );
    }
    this.c.throwItemErrors(await this.c.bulkWrite(operations));
  }

  async queryRelations(instanceId: string, range: TimeRange): Promise<ProcessRelationRecord[]> {
    const docs = await this.c.searchAll(
      this.c.names.metricsPattern,
      {
        bool: {
          filter: [
            { terms: { metric_table: Object.values(METRIC_TABLE_RELATION) } },
            { term: { instance_id: instanceId } },
            {
              range: {
                time_bucket: {
                  gte: minuteTimeBucket(Math.max(0, range.start + 59_999)),
                  lte: minuteTimeBucket(range.end),
                },
              },
            },
          ],
        },
      },
      [{ time_bucket: 'asc' }, { entity_id: 'asc' }, { metric_table: 'asc' }],
    );
    return docs.map((d) => ({
      side: SIDE_OF_TABLE[String(d.metric_table)] ?? 'CLIENT',
      entityId: String(d.entity_id),
      instanceId: String(d.instance_id),
      serviceId: String(d.service_id),
      sourceProcessId: String(d.source_process_id),
      destProcessId: String(d.dest_process_id),
      componentId: Number(d.component_id),
      timeBucket: minuteTimeBucketStart(Number(d.time_bucket)),
    }));
  }

  async addSampledTraces(records: SampledTraceRecord[]): Promise<void> {
    if (records.length === 0) return;
    const operations: unknown[] = [];
    for (const r of records) {
      const second = secondTimeBucket(r.timestamp);
      operations.push(
        {
          index: {
            _index: this.c.names.recordsDay(utcDay(r.timestamp)),
            _id: docId(`${r.table}_${second}_${r.entityId}_${r.traceId}`),
          },
        },
        {
          record_table: r.table,
          entity_id: r.entityId,
          service_id: r.serviceId,
          instance_id: r.instanceId,
          trace_id: r.traceId,
          statement: r.statement,
          latency: r.latency,
          timestamp: r.timestamp,
          time_bucket: second,
        },
      );
    }
    this.c.throwItemErrors(await this.c.bulkWrite(operations));
  }

  async querySampledTraces(
    table: SampledTraceTable,
    entityId: string | null,
    range: TimeRange,
    topN: number,
    order: 'DES' | 'ASC',
  ): Promise<SampledTraceRecord[]> {
    const size = Math.max(0, Math.min(Math.trunc(topN), PAGE * 10));
    if (size === 0) return [];
    const filter: unknown[] = [
      { term: { record_table: table } },
      { range: { timestamp: { gte: range.start, lte: range.end } } },
    ];
    if (entityId !== null) filter.push({ term: { entity_id: entityId } });
    const r = await this.c.es.search<Doc>({
      index: this.c.names.recordsPattern,
      query: { bool: { filter } } as never,
      sort: [{ latency: order === 'ASC' ? 'asc' : 'desc' }, { timestamp: 'desc' }],
      size,
      track_total_hits: false,
      allow_no_indices: true,
      ignore_unavailable: true,
    });
    return r.hits.hits.flatMap((h) => {
      const d = h._source;
      if (!d) return [];
      return [
        {
          table,
          entityId: String(d.entity_id),
          serviceId: String(d.service_id ?? ''),
          instanceId: String(d.instance_id ?? ''),
          traceId: String(d.trace_id),
          statement: String(d.statement ?? ''),
          latency: Number(d.latency),
          timestamp: Number(d.timestamp),
        },
      ];
    });
  }

  async addSpanAttachedEvents(records: SpanAttachedEventRecord[]): Promise<void> {
    if (records.length === 0) return;
    const operations: unknown[] = [];
    for (const r of records) {
      const data = r.dataBinary.toString('base64');
      // The OAP gives each event a random id; hashing the content makes a resent event one document.
      const key = [r.relatedTraceId, r.traceSegmentId, r.traceSpanId, r.event, r.startTimeSecond, r.startTimeNanos];
      const id = createHash('sha256').update(JSON.stringify(key)).update(data).digest('hex');
      operations.push(
        {
          index: {
            _index: this.c.names.recordsDay(utcDay(r.timestamp)),
            _id: `${RECORD_TABLE_SPAN_ATTACHED_EVENT}_${id}`,
          },
        },
        {
          record_table: RECORD_TABLE_SPAN_ATTACHED_EVENT,
          trace_ref_type: r.traceRefType,
          related_trace_id: r.relatedTraceId,
          trace_segment_id: r.traceSegmentId,
          trace_span_id: r.traceSpanId,
          event: r.event,
          start_time_second: r.startTimeSecond,
          start_time_nanos: r.startTimeNanos,
          end_time_second: r.endTimeSecond,
          end_time_nanos: r.endTimeNanos,
          data_binary: data,
          timestamp: r.timestamp,
          time_bucket: secondTimeBucket(r.timestamp),
        },
      );
    }
    this.c.throwItemErrors(await this.c.bulkWrite(operations));
  }

  async querySpanAttachedEvents(traceIds: string[]): Promise<SpanAttachedEventRecord[]> {
    if (traceIds.length === 0) return [];
    const docs = await this.c.searchAll(
      this.c.names.recordsPattern,
      {
        bool: {
          filter: [
            { term: { record_table: RECORD_TABLE_SPAN_ATTACHED_EVENT } },
            { terms: { related_trace_id: [...new Set(traceIds)] } },
          ],
        },
      },
      [{ start_time_second: 'asc' }, { start_time_nanos: 'asc' }, { timestamp: 'asc' }],
    );
    return docs.map((d) => ({
      traceRefType: String(d.trace_ref_type),
      relatedTraceId: String(d.related_trace_id),
      traceSegmentId: String(d.trace_segment_id),
      traceSpanId: String(d.trace_span_id),
      event: String(d.event),
      startTimeSecond: Number(d.start_time_second),
      startTimeNanos: Number(d.start_time_nanos),
      endTimeSecond: Number(d.end_time_second),
      endTimeNanos: Number(d.end_time_nanos),
      dataBinary: Buffer.from(String(d.data_binary), 'base64'),
      timestamp: Number(d.timestamp),
    }));
  }

  /**
   * Whole days went with the profiling data's and metrics' TTL (same daily indices); what is left
   * are the expired records of the partly expired day.
   */
  async deleteExpired(recordsBefore: number): Promise<number> {
    const n = this.c.names;
    const records = await this.c.dailyIndicesBefore(n.recordsPattern, n.recordsDay(''), recordsBefore);
    if (records.partial.length === 0) return 0;
    return this.c.deleteMatching(records.partial, { range: { timestamp: { lt: recordsBefore } } });
  }
}
