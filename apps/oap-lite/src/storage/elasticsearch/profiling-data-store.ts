/**
 * ProfilingDataStore on Elasticsearch: daily records indices holding, as in the OAP's merged
 * records index, data records and (interned, see storage/stack-interning.ts) stack documents
 * told apart by record_table. Records go through the connection's bulk processor.
 */
import type { estypes } from '@elastic/elasticsearch';
import type { AnalysisBudget } from '../../analysis/analysis-budget';
import { StackPageWriter } from '../../analysis/flame-forest';
import type { FlameThreads } from '../../analysis/flame-threads';
import { assertValidProfilingBatch, profilingValue, validRanges } from '../profiling';
import { StackInterner, stackHash } from '../stack-interning';
import type {
  AggregatedStack,
  AggregateType,
  ProfilingDataRecord,
  ProfilingDataStore,
  FlameForest,
  StackFrame,
  TimeRange,
} from '../types';
import type { BulkOperation } from './bulk-processor';
import { PAGE, sha256Hex, type EsConnection } from './connection';
import { RECORD_TABLE_DATA, RECORD_TABLE_STACK, secondTimeBucket, utcDay } from './indices';

/** "day|hash" entries of stored stack documents remembered. */
const STORED_STACKS_LIMIT = 200_000;
/** Duplicate groups the fast path handles before the exact composite path is used. */
const DUP_LIMIT = 10_000;
const COMPOSITE_PAGE = 5_000;
/** The stack_hash of the empty frame list, which an analysis leaves out. */
const EMPTY_STACK_HASH = stackHash([]).hash;

/** Data records of the schedules inside any of the ranges (all valid). */
const recordsQuery = (schedules: string[], ranges: TimeRange[]): estypes.QueryDslQueryContainer => ({
  bool: {
    filter: [
      { term: { record_table: RECORD_TABLE_DATA } },
      { terms: { schedule_id: schedules } },
      {
        bool: {
          should: ranges.map((r) => ({ range: { upload_time: { gte: r.start, lte: r.end } } })),
          minimum_should_match: 1,
        },
      },
    ],
  },
});

export class EsProfilingDataStore implements ProfilingDataStore {
  /** Frame lists → the hash their stack document has. */
  private readonly stacks = new StackInterner<string>();
  /** "day|hash" of stack documents known to be stored. */
  private readonly stacksStored = new Set<string>();

  constructor(
    private readonly c: EsConnection,
    private readonly threads: FlameThreads,
  ) {}

  private stackHashOf(frames: readonly StackFrame[]): string {
    const k = this.stacks.key(frames);
    const known = this.stacks.get(k);
    if (known) return known;
    const { hash } = stackHash(frames);
    // A hash is the same whether or not its document is written yet, so it may be kept at once.
    this.stacks.remember(new Map([[k, hash]]));
    return hash;
  }

  async writeProfilingData(records: ProfilingDataRecord[]): Promise<void> {
    assertValidProfilingBatch(records);
    const days: string[] = [];
    for (let i = 0; i < records.length; i++) {
      try {
        days.push(utcDay(records[i]!.uploadTime));
      } catch {
        throw new TypeError(
          `invalid profiling data record #${i}: uploadTime ${records[i]!.uploadTime} is out of range`,
        );
      }
    }
    if (records.length === 0) return;
    const bulk = this.c.bulk;

    const stackOps = new Map<string, BulkOperation>();
    const recordOps = new Map<string, BulkOperation>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const day = days[i]!;
      const index = this.c.names.recordsDay(day);
      const hash = this.stackHashOf(r.frames);
      const stackKey = `${day}|${hash}`;
      if (!this.stacksStored.has(stackKey) && !stackOps.has(stackKey)) {
        stackOps.set(stackKey, {
          action: { create: { _index: index, _id: `${RECORD_TABLE_STACK}_${hash}` } },
          doc: {
            record_table: RECORD_TABLE_STACK,
            stack_hash: hash,
            time_bucket: secondTimeBucket(r.uploadTime),
            frames: r.frames.map((f) => ({ symbol: f.symbol, stackType: f.stackType })),
          },
          records: 0,
          okStatuses: [409],
        });
      }
      const id = `${RECORD_TABLE_DATA}_${sha256Hex(r.scheduleId, r.stackIdList, r.uploadTime)}`;
      const durationValue = profilingValue(r, 'DURATION');
      recordOps.delete(id); // a later duplicate in the batch wins (and keeps its own place)
      recordOps.set(id, {
        action: { index: { _index: index, _id: id } },
        doc: {
          record_table: RECORD_TABLE_DATA,
          schedule_id: r.scheduleId,
          task_id: r.taskId,
          stack_id: r.stackIdList,
          target_type: r.targetType,
          upload_time: r.uploadTime,
          time_bucket: secondTimeBucket(r.uploadTime),
          stack_hash: hash,
          dump_count: r.count,
          duration: r.duration,
          duration_value: durationValue,
          dedupe_count: `${hash}:${r.uploadTime}:${r.count}`,
          dedupe_duration: `${hash}:${r.uploadTime}:${durationValue}`,
        },
        records: 1,
      });
    }
    await bulk.add([...stackOps.values(), ...recordOps.values()]);
    if (this.stacksStored.size + stackOps.size > STORED_STACKS_LIMIT) this.stacksStored.clear();
    for (const k of stackOps.keys()) this.stacksStored.add(k);
  }

  async queryProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
  ): Promise<AggregatedStack[]> {
    const ordered = await this.orderedSums(scheduleIds, ranges, aggregate);
    const out: AggregatedStack[] = [];
    await this.eachStack(ordered, (frames, value) => out.push({ frames, value }));
    return out;
  }

  /**
   * The fetch of queryProfilingStacks fed page by page to an analysis thread. The number of
   * distinct stacks, known before any frame is loaded, is checked first (each ends at an element
   * of its own); past that, the thread's build stops the loading as soon as it passes a limit.
   */
  async analyzeProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
    budget: AnalysisBudget,
  ): Promise<FlameForest> {
    const ordered = await this.orderedSums(scheduleIds, ranges, aggregate);
    budget.checkStacks(ordered.reduce((n, [hash]) => (hash === EMPTY_STACK_HASH ? n : n + 1), 0));
    const build = this.threads.begin(budget);
    try {
      for (let i = 0; i < ordered.length && build.open; i += PAGE) {
        budget.checkAborted();
        const page = new StackPageWriter();
        await this.eachStack(ordered.slice(i, i + PAGE), (frames, value) => page.add(frames, value));
        build.add(page.page());
      }
    } catch (err) {
      build.cancel();
      throw err;
    }
    return build.finish();
  }

  /** Sums per stack hash of the selection, in order of first appearance. */
  private async orderedSums(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
  ): Promise<Array<[string, { value: number; first: number }]>> {
    const valid = validRanges(ranges);
    const schedules = [...new Set(scheduleIds)];
    if (schedules.length === 0 || valid.length === 0) return [];
    const valueField = aggregate === 'COUNT' ? 'dump_count' : 'duration_value';
    const dedupeField = aggregate === 'COUNT' ? 'dedupe_count' : 'dedupe_duration';
    const query = recordsQuery(schedules, valid);
    const sums =
      (await this.aggregateFast(query, valueField, dedupeField)) ?? (await this.aggregateExact(query, valueField));
    return [...sums.entries()].sort((a, b) => a[1].first - b[1].first || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Loads the frames of the summed stacks and hands each on in order; a stack without frames is left out. */
  private async eachStack(
    ordered: Array<[string, { value: number; first: number }]>,
    each: (frames: StackFrame[], value: number) => void,
  ): Promise<void> {
    if (ordered.length === 0) return;
    const frames = await this.loadStacks(ordered.map(([hash, s]) => ({ hash, day: utcDay(s.first) })));
    for (const [hash, s] of ordered) {
      const f = frames.get(hash);
      if (!f) {
        this.c.log.warn({ hash }, `stack ${hash} has records but no stored frames; left out of the analysis`);
        continue;
      }
      each(
        f.map((x) => ({ symbol: x.symbol, stackType: x.stackType })),
        s.value,
      );
    }
  }

  /**
   * Sums per stack in Elasticsearch (composite over stack_hash with sum and min), corrected for the
   * dedupe rule: a terms aggregation over the record's dedupe key ("hash:uploadTime:value",
   * min_doc_count 2) finds every group of n identical records, and (n-1)·value is taken off.
   * A key lives in one daily index (one shard), so its count is exact; when there are as many
   * groups as the aggregation returns at most, null sends the caller to the exact path.
   */
  private async aggregateFast(
    query: estypes.QueryDslQueryContainer,
    valueField: string,
    dedupeField: string,
  ): Promise<Map<string, { value: number; first: number }> | null> {
    const limit = this.c.o.dedupeGroupLimit ?? DUP_LIMIT;
    const dups = await this.c.es.search({
      index: this.c.names.recordsPattern,
      allow_no_indices: true,
      ignore_unavailable: true,
      size: 0,
      query,
      aggs: { d: { terms: { field: dedupeField, min_doc_count: 2, size: limit } } },
    });
    const dupBuckets =
      (dups.aggregations?.d as { buckets: Array<{ key: string; doc_count: number }> } | undefined)?.buckets ?? [];
    if (dupBuckets.length >= limit) return null;
    const correction = new Map<string, number>();
    for (const b of dupBuckets) {
      const [hash, , value] = b.key.split(':');
      correction.set(hash!, (correction.get(hash!) ?? 0) + Number(value) * (b.doc_count - 1));
    }
    const out = new Map<string, { value: number; first: number }>();
    const buckets = this.compositeBuckets<{ key: { h: string }; total: { value: number }; first: { value: number } }>(
      query,
      COMPOSITE_PAGE,
      [{ h: { terms: { field: 'stack_hash' } } }],
      { total: { sum: { field: valueField } }, first: { min: { field: 'upload_time' } } },
    );
    for await (const b of buckets) {
      out.set(b.key.h, { value: b.total.value - (correction.get(b.key.h) ?? 0), first: b.first.value });
    }
    return out;
  }

  /** Every bucket of a composite aggregation over the record indices, page after page. */
  private async *compositeBuckets<B>(
    query: estypes.QueryDslQueryContainer,
    pageSize: number,
    sources: Array<Record<string, estypes.AggregationsCompositeAggregationSource>>,
    subAggs?: Record<string, estypes.AggregationsAggregationContainer>,
  ): AsyncGenerator<B> {
    let after: Record<string, string | number> | undefined;
    for (;;) {
      const r = await this.c.es.search({
        index: this.c.names.recordsPattern,
        allow_no_indices: true,
        ignore_unavailable: true,
        size: 0,
        query,
        aggs: {
          c: {
            composite: { size: pageSize, sources, ...(after ? { after } : {}) },
            ...(subAggs ? { aggs: subAggs } : {}),
          },
        },
      });
      const agg = (r.aggregations?.c ?? { buckets: [] }) as {
        buckets: B[];
        after_key?: Record<string, string | number>;
      };
      yield* agg.buckets;
      if (agg.buckets.length < pageSize || !agg.after_key) return;
      after = agg.after_key;
    }
  }

  /** Exact dedupe: one composite bucket per distinct (stack, uploadTime, value). */
  private async aggregateExact(
    query: estypes.QueryDslQueryContainer,
    valueField: string,
  ): Promise<Map<string, { value: number; first: number }>> {
    const out = new Map<string, { value: number; first: number }>();
    const buckets = this.compositeBuckets<{ key: { h: string; t: number; v: number } }>(query, 10_000, [
      { h: { terms: { field: 'stack_hash' } } },
      { t: { terms: { field: 'upload_time' } } },
      { v: { terms: { field: valueField } } },
    ]);
    for await (const { key } of buckets) {
      const acc = out.get(key.h);
      if (acc) {
        acc.value += key.v;
        acc.first = Math.min(acc.first, key.t);
      } else out.set(key.h, { value: key.v, first: key.t });
    }
    return out;
  }

  /** Frames of stacks, read from the daily index of their first record (any daily index as a fallback). */
  private async loadStacks(wanted: Array<{ hash: string; day: string }>): Promise<Map<string, StackFrame[]>> {
    const out = new Map<string, StackFrame[]>();
    for (let i = 0; i < wanted.length; i += PAGE) {
      const part = wanted.slice(i, i + PAGE);
      const r = await this.c.es.mget<{ frames: StackFrame[] }>({
        docs: part.map((w) => ({
          _index: this.c.names.recordsDay(w.day),
          _id: `${RECORD_TABLE_STACK}_${w.hash}`,
          _source: ['frames'],
        })),
      });
      r.docs.forEach((d, j) => {
        if ('found' in d && d.found && d._source) out.set(part[j]!.hash, d._source.frames);
      });
    }
    const missing = wanted.filter((w) => !out.has(w.hash)).map((w) => `${RECORD_TABLE_STACK}_${w.hash}`);
    for (let i = 0; i < missing.length; i += PAGE) {
      const r = await this.c.es.search<{ stack_hash: string; frames: StackFrame[] }>({
        index: this.c.names.recordsPattern,
        allow_no_indices: true,
        query: { ids: { values: missing.slice(i, i + PAGE) } },
        size: 10_000,
        _source: ['stack_hash', 'frames'],
      });
      for (const h of r.hits.hits) if (h._source) out.set(h._source.stack_hash, h._source.frames);
    }
    return out;
  }

  async deleteExpired(before: number): Promise<number> {
    const n = this.c.names;
    let total = 0;
    // Whole daily indices older than the cut go at once; the day holding the cut loses its expired documents one by one.
    const records = await this.c.dailyIndicesBefore(n.recordsPattern, n.recordsDay(''), before);
    if (records.whole.length > 0) {
      const counted = await this.c.es.count({
        index: records.whole,
        query: { term: { record_table: RECORD_TABLE_DATA } },
      });
      await this.c.es.indices.delete({ index: records.whole });
      total += counted.count;
      this.stacksStored.clear();
    }
    if (records.partial.length > 0) {
      total += await this.c.deleteMatching(records.partial, {
        bool: {
          filter: [{ term: { record_table: RECORD_TABLE_DATA } }, { range: { upload_time: { lt: before } } }],
        },
      });
    }
    return total;
  }
}
