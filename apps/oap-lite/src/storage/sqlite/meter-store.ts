/** MeterStore on SQLite: table metric_values, one row per (metric, entity, minute, label set). */
import { labelsFromKey, labelsKey, mergeMetricValues } from '../metrics';
import type { MeterStore, MetricValueRecord, TimeRange } from '../types';
import { num, str, type SqliteConnection } from './connection';

export class SqliteMeterStore implements MeterStore {
  constructor(private readonly c: SqliteConnection) {}

  async addMetricValues(records: MetricValueRecord[]): Promise<void> {
    const merged = mergeMetricValues(records);
    if (merged.length === 0) return;
    const add = this.c.stmt(
      `INSERT INTO metric_values (metric, entity_id, time_bucket, labels, service_id, summation, cnt)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (metric, entity_id, time_bucket, labels) DO UPDATE SET
         service_id = excluded.service_id,
         summation = summation + excluded.summation,
         cnt = cnt + excluded.cnt`,
    );
    this.c.conn.transaction(() => {
      for (const r of merged) {
        add.run(r.metric, r.entityId, r.timeBucket, labelsKey(r.labels), r.serviceId, r.summation, r.count);
      }
    })();
  }

  async queryMetricValues(metric: string, entityId: string, range: TimeRange): Promise<MetricValueRecord[]> {
    return this.c
      .stmt(
        `SELECT * FROM metric_values WHERE metric = ? AND entity_id = ? AND time_bucket BETWEEN ? AND ?
       ORDER BY time_bucket, labels`,
      )
      .all(metric, entityId, range.start, range.end)
      .map((r) => ({
        metric: str(r.metric),
        entityId: str(r.entity_id),
        serviceId: str(r.service_id),
        timeBucket: num(r.time_bucket),
        labels: labelsFromKey(str(r.labels)),
        summation: num(r.summation),
        count: num(r.cnt),
      }));
  }

  async deleteExpired(before: number): Promise<number> {
    return this.c.stmt('DELETE FROM metric_values WHERE time_bucket < ?').run(before).changes;
  }
}
