/**
 * MeterStore on Elasticsearch: one document per (metric, minute, entity) in daily metrics
 * indices, added to with a compare-and-set per document (see elasticsearch-storage.ts).
 */
import { MAX_TIME_BUCKET, MINUTE_MS, avgValue, labelsFromKey, labelsKey, mergeMetricValues } from '../metrics';
import type { MeterStore, MetricValueRecord, TimeRange } from '../types';
import { docId, sleep, type Doc, type EsConnection } from './connection';
import { minuteTimeBucket, minuteTimeBucketStart, utcDay } from './indices';

/** The metric values going into one metrics document. */
interface MetricDocWrite {
  index: string;
  id: string;
  records: MetricValueRecord[];
}

/**
 * A metrics document with the records added: `summation`/`count`/`value` for the label-less
 * record, the `datatable_*` maps (label-set key → number) for labeled ones; `value` as the OAP
 * calculates it.
 */
const addToMetricDoc = (old: Doc | null, records: readonly MetricValueRecord[]): Doc => {
  const first = records[0]!;
  const doc: Doc = {
    metric_table: first.metric,
    entity_id: first.entityId,
    service_id: records[records.length - 1]!.serviceId,
    time_bucket: minuteTimeBucket(first.timeBucket),
  };
  let summation = old?.count !== undefined ? Number(old.summation) : undefined;
  let count = old?.count !== undefined ? Number(old.count) : undefined;
  const sums: Record<string, number> = { ...((old?.datatable_summation ?? {}) as Record<string, number>) };
  const counts: Record<string, number> = { ...((old?.datatable_count ?? {}) as Record<string, number>) };
  for (const r of records) {
    const key = labelsKey(r.labels);
    if (key === '') {
      summation = (summation ?? 0) + r.summation;
      count = (count ?? 0) + r.count;
    } else {
      sums[key] = (sums[key] ?? 0) + r.summation;
      counts[key] = (counts[key] ?? 0) + r.count;
    }
  }
  if (count !== undefined) Object.assign(doc, { summation, count, value: avgValue(summation ?? 0, count) });
  if (Object.keys(counts).length > 0) {
    const values: Record<string, number> = {};
    for (const key of Object.keys(counts)) values[key] = avgValue(sums[key] ?? 0, counts[key]!);
    Object.assign(doc, { datatable_summation: sums, datatable_count: counts, datatable_value: values });
  }
  return doc;
};

export class EsMeterStore implements MeterStore {
  constructor(private readonly c: EsConnection) {}

  async addMetricValues(records: MetricValueRecord[]): Promise<void> {
    const merged = mergeMetricValues(records);
    // One document per (metric, minute, entity); the label sets of a labeled metric share it.
    const byDoc = new Map<string, MetricDocWrite>();
    for (const r of merged) {
      const index = this.c.names.metricsDay(utcDay(r.timeBucket));
      const id = docId(`${r.metric}_${minuteTimeBucket(r.timeBucket)}_${r.entityId}`);
      const key = `${index}/${id}`;
      const doc = byDoc.get(key);
      if (doc) doc.records.push(r);
      else byDoc.set(key, { index, id, records: [r] });
    }
    let pending = [...byDoc.values()];
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 50) {
        throw new Error(
          `metric values: ${pending.length} documents still conflicting after 50 attempts; not all added`,
        );
      }
      if (attempt > 1) await sleep(Math.floor(Math.random() * 20 * attempt));
      const got = await this.c.es.mget<Doc>({ docs: pending.map((d) => ({ _index: d.index, _id: d.id })) });
      // A day's index another node created a moment ago may have no started primary yet: read again.
      if (got.docs.some((g) => g && 'error' in g && g.error.type === 'no_shard_available_action_exception')) continue;
      const operations: unknown[] = [];
      pending.forEach((d, i) => {
        const g = got.docs[i];
        if (g && 'error' in g && g.error.type !== 'index_not_found_exception') {
          throw new Error(
            `cannot read metric document ${d.id} from ${d.index}: ${g.error.type}: ${g.error.reason ?? ''}`,
          );
        }
        const found = g && 'found' in g && g.found ? g : null;
        operations.push(
          found
            ? { index: { _index: d.index, _id: d.id, if_seq_no: found._seq_no, if_primary_term: found._primary_term } }
            : { create: { _index: d.index, _id: d.id } },
          addToMetricDoc(found?._source ?? null, d.records),
        );
      });
      const items = await this.c.bulkWrite(operations);
      const retry: MetricDocWrite[] = [];
      const failed: string[] = [];
      items.forEach((it, i) => {
        if (!it.error) return;
        // 409: another writer changed (or created) it since the read; 429: rejected, not applied.
        if (it.status === 409 || it.status === 429) retry.push(pending[i]!);
        else failed.push(`${it._index}/${it._id} (status ${it.status}): ${it.error.type}: ${it.error.reason ?? ''}`);
      });
      if (failed.length > 0) {
        throw new Error(`Elasticsearch refused ${failed.length} metric documents, e.g. ${failed[0]}`);
      }
      pending = retry;
    }
  }

  async queryMetricValues(metric: string, entityId: string, range: TimeRange): Promise<MetricValueRecord[]> {
    const start = Math.max(0, Math.ceil(range.start / MINUTE_MS) * MINUTE_MS);
    const end = Math.min(MAX_TIME_BUCKET, Math.floor(range.end / MINUTE_MS) * MINUTE_MS);
    if (!(start <= end)) return [];
    const docs = await this.c.searchAll(
      this.c.names.metricsPattern,
      {
        bool: {
          filter: [
            { term: { metric_table: metric } },
            { term: { entity_id: entityId } },
            { range: { time_bucket: { gte: minuteTimeBucket(start), lte: minuteTimeBucket(end) } } },
          ],
        },
      },
      [{ time_bucket: 'asc' }],
    );
    const out: MetricValueRecord[] = [];
    for (const d of docs) {
      const base = {
        metric,
        entityId,
        serviceId: String(d.service_id ?? ''),
        timeBucket: minuteTimeBucketStart(Number(d.time_bucket)),
      };
      if (d.count !== undefined) {
        out.push({ ...base, labels: {}, summation: Number(d.summation), count: Number(d.count) });
      }
      const sums = (d.datatable_summation ?? {}) as Record<string, number>;
      const counts = (d.datatable_count ?? {}) as Record<string, number>;
      for (const key of Object.keys(counts).sort()) {
        out.push({
          ...base,
          labels: labelsFromKey(key),
          summation: Number(sums[key] ?? 0),
          count: Number(counts[key]),
        });
      }
    }
    return out;
  }

  async deleteExpired(before: number): Promise<number> {
    const n = this.c.names;
    let total = 0;
    const metrics = await this.c.dailyIndicesBefore(n.metricsPattern, n.metricsDay(''), before);
    if (metrics.whole.length > 0) {
      total += (await this.c.es.count({ index: metrics.whole })).count;
      await this.c.es.indices.delete({ index: metrics.whole });
    }
    if (metrics.partial.length > 0) {
      const firstKept = minuteTimeBucket(Math.ceil(before / MINUTE_MS) * MINUTE_MS);
      total += await this.c.deleteMatching(metrics.partial, { range: { time_bucket: { lt: firstKept } } });
    }
    return total;
  }
}
