/**
 * ProfilingDataStore on SQLite. A frame list is a row of `stacks` (interned by its hash, see
 * storage/stack-interning.ts), a schedule a row of `profiling_series`, and a record a row of
 * `profiling_data` that refers to both by number.
 */
import type Database from 'better-sqlite3';
import type { AnalysisBudget } from '../../analysis/analysis-budget';
import { buildFlameForest } from '../../analysis/flame-tree';
import { targetOf } from '../../core/targets';
import { assertValidProfilingBatch } from '../profiling';
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
import type { SqliteConnection } from './connection';
import type { StackReaders } from './stack-readers';
import { queryStackRows } from './stack-query';

/** Entries kept in the stack hints (see stackHints) before they are dropped. */
const STACK_HINT_LIMIT = 100_000;
/** profiling_data rows per multi-row INSERT, and the columns of one row. */
const DATA_ROWS_PER_INSERT = 50;
const DATA_COLUMNS = 7;

/** A frame list as StackInterner codes, and the stacks.id it was stored as. */
interface StackHint {
  codes: Int32Array;
  stackId: number;
}

type WriteBatch = (records: readonly ProfilingDataRecord[]) => {
  stacks: Map<string, number>;
  series: Map<string, number>;
  hints: Array<[number, string, StackHint]>;
};

export class SqliteProfilingDataStore implements ProfilingDataStore {
  /** Frame lists → stacks.id, for committed rows only. */
  private readonly stacks = new StackInterner<number>();
  /**
   * Fast path before the interner's key: profiling_series.id → stackIdList → the frames last
   * stored under that stackIdList and their stacks.id. A stack id of the kernel names the same
   * frames again and again, so comparing the frames with the hint's (string equality, no
   * hashing) usually settles the stack; a mismatch falls back to the key. Committed rows only.
   */
  private readonly stackHints = new Map<number, Map<string, StackHint>>();
  private stackHintCount = 0;
  /** scheduleId → profiling_series.id (only committed rows). */
  private readonly seriesIds = new Map<string, number>();
  private writeBatch: { db: Database.Database; write: WriteBatch } | null = null;

  constructor(
    private readonly c: SqliteConnection,
    /** Reader threads for queryProfilingStacks; null reads on this thread. */
    private readonly readers: StackReaders | null = null,
  ) {}

  /** The write transaction of the open database, prepared on its first use. */
  private writer(): WriteBatch {
    const db = this.c.conn;
    if (this.writeBatch?.db === db) return this.writeBatch.write;
    const findStack = db.prepare('SELECT id FROM stacks WHERE hash = ?').pluck();
    const insertStack = db.prepare('INSERT INTO stacks (hash, frames_json) VALUES (?, ?) RETURNING id').pluck();
    const findSeries = db.prepare('SELECT id FROM profiling_series WHERE schedule_id = ?').pluck();
    const insertSeries = db
      .prepare('INSERT INTO profiling_series (schedule_id, task_id) VALUES (?, ?) RETURNING id')
      .pluck();
    const insertSql = (rows: number) =>
      `INSERT OR REPLACE INTO profiling_data (series_id, upload_time, stack_id_list, stack_ref, target_type, cnt, dur)
       VALUES ${new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    // Rows go in groups of DATA_ROWS_PER_INSERT (one statement call per group, rows applied in
    // order, so a later duplicate key still replaces an earlier one); the rest one by one.
    const insertGroup = db.prepare(insertSql(DATA_ROWS_PER_INSERT));
    const insertOne = db.prepare(insertSql(1));
    const group: unknown[] = new Array(DATA_ROWS_PER_INSERT * DATA_COLUMNS);
    const tx = db.transaction((records: readonly ProfilingDataRecord[]) => {
      const newStacks = new Map<string, number>();
      const newSeries = new Map<string, number>();
      const newHints: Array<[number, string, StackHint]> = [];
      let at = 0;
      for (const r of records) {
        let seriesId = this.seriesIds.get(r.scheduleId) ?? newSeries.get(r.scheduleId);
        if (seriesId === undefined) {
          seriesId =
            (findSeries.get(r.scheduleId) as number | undefined) ??
            (insertSeries.get(r.scheduleId, r.taskId) as number);
          newSeries.set(r.scheduleId, seriesId);
        }
        const hint = this.stackHints.get(seriesId)?.get(r.stackIdList);
        let stackId = hint && this.stacks.matches(hint.codes, r.frames) ? hint.stackId : undefined;
        if (stackId === undefined) {
          const k = this.stacks.key(r.frames);
          stackId = this.stacks.get(k) ?? newStacks.get(k);
          if (stackId === undefined) {
            const { json, hash } = stackHash(r.frames);
            stackId = (findStack.get(hash) as number | undefined) ?? (insertStack.get(hash, json) as number);
            newStacks.set(k, stackId);
          }
          newHints.push([seriesId, r.stackIdList, { codes: this.stacks.codes(r.frames), stackId }]);
        }
        group[at++] = seriesId;
        group[at++] = r.uploadTime;
        group[at++] = r.stackIdList;
        group[at++] = stackId;
        group[at++] = targetOf(r.targetType).storageCode;
        group[at++] = r.count;
        group[at++] = r.duration;
        if (at === group.length) {
          insertGroup.run(group);
          at = 0;
        }
      }
      for (let i = 0; i < at; i += DATA_COLUMNS) insertOne.run(group.slice(i, i + DATA_COLUMNS));
      return { stacks: newStacks, series: newSeries, hints: newHints };
    });
    const write: WriteBatch = (records) => tx.immediate(records);
    this.writeBatch = { db, write };
    return write;
  }

  private forgetStacks(): void {
    this.stacks.reset();
    this.stackHints.clear();
    this.stackHintCount = 0;
  }

  async writeProfilingData(records: ProfilingDataRecord[]): Promise<void> {
    assertValidProfilingBatch(records);
    if (records.length === 0) return;
    // Ids created inside the transaction only enter the caches once it has committed.
    const { stacks, series, hints } = this.writer()(records);
    if (!this.stacks.remember(stacks)) {
      // The interner started over: the hints' codes name symbols it no longer numbers.
      this.forgetStacks();
    } else {
      if (this.stackHintCount + hints.length > STACK_HINT_LIMIT) {
        this.stackHints.clear();
        this.stackHintCount = 0;
      }
      for (const [seriesId, stackIdList, hint] of hints) {
        let bySeries = this.stackHints.get(seriesId);
        if (!bySeries) this.stackHints.set(seriesId, (bySeries = new Map()));
        if (!bySeries.has(stackIdList)) this.stackHintCount++;
        bySeries.set(stackIdList, hint);
      }
    }
    for (const [k, v] of series) this.seriesIds.set(k, v);
  }

  async queryProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
  ): Promise<AggregatedStack[]> {
    const query = { scheduleIds, ranges, aggregate };
    if (this.readers) return this.readers.read(query);
    const rows = queryStackRows(this.c.conn, query);
    return rows.frames.map((frames, i) => ({ frames: JSON.parse(frames) as StackFrame[], value: rows.values[i]! }));
  }

  async analyzeProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
    budget: AnalysisBudget,
  ): Promise<FlameForest> {
    if (this.readers) return this.readers.analyze({ scheduleIds, ranges, aggregate }, budget);
    return buildFlameForest(await this.queryProfilingStacks(scheduleIds, ranges, aggregate), budget);
  }

  async deleteExpired(before: number): Promise<number> {
    const deleted = this.c.conn
      .transaction(() => {
        let n = 0;
        const delData = this.c.stmt('DELETE FROM profiling_data WHERE series_id = ? AND upload_time < ?');
        for (const r of this.c.stmt('SELECT id FROM profiling_series').all()) n += delData.run(r.id, before).changes;
        if (n > 0) {
          // Interned rows no stored record uses any more (internal, not counted).
          this.c.stmt('DELETE FROM stacks WHERE id NOT IN (SELECT stack_ref FROM profiling_data)').run();
          this.c.stmt('DELETE FROM profiling_series WHERE id NOT IN (SELECT series_id FROM profiling_data)').run();
        }
        return n;
      })
      .immediate();
    if (deleted > 0) {
      this.forgetStacks();
      this.seriesIds.clear();
    }
    return deleted;
  }
}
