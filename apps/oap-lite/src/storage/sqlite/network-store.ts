/** NetworkStore on SQLite: tables process_relations, sampled_traces and span_attached_events. */
import type {
  NetworkStore,
  ProcessRelationRecord,
  RelationSide,
  SampledTraceRecord,
  SampledTraceTable,
  SpanAttachedEventRecord,
  TimeRange,
} from '../types';
import { chunks, num, placeholders, str, type SqliteConnection } from './connection';

export class SqliteNetworkStore implements NetworkStore {
  constructor(private readonly c: SqliteConnection) {}

  async upsertRelations(records: ProcessRelationRecord[]): Promise<void> {
    if (records.length === 0) return;
    const put = this.c.stmt(
      `INSERT OR IGNORE INTO process_relations
       (side, entity_id, time_bucket, instance_id, service_id, source_process_id, dest_process_id, component_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.c.conn.transaction(() => {
      for (const r of records) {
        put.run(
          r.side,
          r.entityId,
          r.timeBucket,
          r.instanceId,
          r.serviceId,
          r.sourceProcessId,
          r.destProcessId,
          r.componentId,
        );
      }
    })();
  }

  async queryRelations(instanceId: string, range: TimeRange): Promise<ProcessRelationRecord[]> {
    return this.c
      .stmt(
        `SELECT * FROM process_relations WHERE instance_id = ? AND time_bucket BETWEEN ? AND ?
         ORDER BY time_bucket, side, entity_id`,
      )
      .all(instanceId, range.start, range.end)
      .map((r) => ({
        side: str(r.side) as RelationSide,
        entityId: str(r.entity_id),
        instanceId: str(r.instance_id),
        serviceId: str(r.service_id),
        sourceProcessId: str(r.source_process_id),
        destProcessId: str(r.dest_process_id),
        componentId: num(r.component_id),
        timeBucket: num(r.time_bucket),
      }));
  }

  async addSampledTraces(records: SampledTraceRecord[]): Promise<void> {
    if (records.length === 0) return;
    const put = this.c.stmt(
      `INSERT OR REPLACE INTO sampled_traces
       (tbl, entity_id, trace_id, time_second, service_id, instance_id, statement, latency, timestamp)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.c.conn.transaction(() => {
      for (const r of records) {
        put.run(
          r.table,
          r.entityId,
          r.traceId,
          Math.floor(r.timestamp / 1000),
          r.serviceId,
          r.instanceId,
          r.statement,
          r.latency,
          r.timestamp,
        );
      }
    })();
  }

  async querySampledTraces(
    table: SampledTraceTable,
    entityId: string | null,
    range: TimeRange,
    topN: number,
    order: 'DES' | 'ASC',
  ): Promise<SampledTraceRecord[]> {
    const dir = order === 'ASC' ? 'ASC' : 'DESC';
    const where = entityId === null ? '' : 'AND entity_id = ?';
    const params: unknown[] = [table, range.start, range.end];
    if (entityId !== null) params.push(entityId);
    params.push(Math.max(0, Math.trunc(topN)));
    return this.c
      .stmt(
        `SELECT * FROM sampled_traces WHERE tbl = ? AND timestamp BETWEEN ? AND ? ${where}
         ORDER BY latency ${dir}, timestamp DESC LIMIT ?`,
      )
      .all(...params)
      .map((r) => ({
        table: str(r.tbl) as SampledTraceTable,
        entityId: str(r.entity_id),
        serviceId: str(r.service_id),
        instanceId: str(r.instance_id),
        traceId: str(r.trace_id),
        statement: str(r.statement),
        latency: num(r.latency),
        timestamp: num(r.timestamp),
      }));
  }

  async addSpanAttachedEvents(records: SpanAttachedEventRecord[]): Promise<void> {
    if (records.length === 0) return;
    const put = this.c.stmt(
      `INSERT INTO span_attached_events (trace_ref_type, related_trace_id, trace_segment_id, trace_span_id, event,
       start_second, start_nanos, end_second, end_nanos, data_binary, timestamp)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.c.conn.transaction(() => {
      for (const r of records) {
        put.run(
          r.traceRefType,
          r.relatedTraceId,
          r.traceSegmentId,
          r.traceSpanId,
          r.event,
          r.startTimeSecond,
          r.startTimeNanos,
          r.endTimeSecond,
          r.endTimeNanos,
          r.dataBinary,
          r.timestamp,
        );
      }
    })();
  }

  async querySpanAttachedEvents(traceIds: string[]): Promise<SpanAttachedEventRecord[]> {
    const out: SpanAttachedEventRecord[] = [];
    for (const part of chunks([...new Set(traceIds)])) {
      const rows = this.c
        .stmt(
          `SELECT * FROM span_attached_events WHERE related_trace_id IN (${placeholders(part.length)})
           ORDER BY start_second, start_nanos, id`,
        )
        .all(...part);
      for (const r of rows) {
        out.push({
          traceRefType: str(r.trace_ref_type),
          relatedTraceId: str(r.related_trace_id),
          traceSegmentId: str(r.trace_segment_id),
          traceSpanId: str(r.trace_span_id),
          event: str(r.event),
          startTimeSecond: num(r.start_second),
          startTimeNanos: num(r.start_nanos),
          endTimeSecond: num(r.end_second),
          endTimeNanos: num(r.end_nanos),
          dataBinary: Buffer.from(r.data_binary as Uint8Array),
          timestamp: num(r.timestamp),
        });
      }
    }
    return out.sort((a, b) => a.startTimeSecond - b.startTimeSecond || a.startTimeNanos - b.startTimeNanos);
  }

  async deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number> {
    let n = this.c.stmt('DELETE FROM sampled_traces WHERE timestamp < ?').run(recordsBefore).changes;
    n += this.c.stmt('DELETE FROM span_attached_events WHERE timestamp < ?').run(recordsBefore).changes;
    n += this.c.stmt('DELETE FROM process_relations WHERE time_bucket < ?').run(metricsBefore).changes;
    return n;
  }
}
