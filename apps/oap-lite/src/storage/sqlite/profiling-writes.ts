/**
 * The write side of the SQLite profiling store over one connection: the writer thread's
 * (write-thread.ts) or the store's own when it writes on the event loop's thread. It keeps the
 * caches that make a write cheap (stack interning, series ids), which only ever hold rows that
 * have committed, so they live with the connection that writes them.
 *
 * Writes come in groups (group commit): one transaction takes every upload waiting when the
 * previous one finished, each upload in a savepoint of its own, so a failing upload rolls back
 * alone and the others still commit together.
 */
import type Database from 'better-sqlite3';
import { targetOf } from '../../core/targets';
import { StackInterner, stackHash } from '../stack-interning';
import type { ProfilingDataRecord } from '../types';

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

/** Ids one write created: they enter the caches only once its transaction committed. */
interface NewIds {
  stacks: Map<string, number>;
  series: Map<string, number>;
  hints: Array<[number, string, StackHint]>;
}

const noIds = (): NewIds => ({ stacks: new Map(), series: new Map(), hints: [] });

/** One write of a group: profiling records, or one statement of another store. */
export type GroupWrite = { records: readonly ProfilingDataRecord[] } | { sql: string; params: unknown[] };

export class ProfilingWrites {
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
  private readonly statements = new Map<string, Database.Statement>();
  private readonly findStack: Database.Statement;
  private readonly insertStack: Database.Statement;
  private readonly findSeries: Database.Statement;
  private readonly insertSeries: Database.Statement;
  private readonly insertGroup: Database.Statement;
  private readonly insertOne: Database.Statement;
  private readonly group: unknown[] = new Array(DATA_ROWS_PER_INSERT * DATA_COLUMNS);

  constructor(private readonly db: Database.Database) {
    this.findStack = db.prepare('SELECT id FROM stacks WHERE hash = ?').pluck();
    this.insertStack = db.prepare('INSERT INTO stacks (hash, frames_json) VALUES (?, ?) RETURNING id').pluck();
    this.findSeries = db.prepare('SELECT id FROM profiling_series WHERE schedule_id = ?').pluck();
    this.insertSeries = db
      .prepare('INSERT INTO profiling_series (schedule_id, task_id) VALUES (?, ?) RETURNING id')
      .pluck();
    const insertSql = (rows: number) =>
      `INSERT OR REPLACE INTO profiling_data (series_id, upload_time, stack_id_list, stack_ref, target_type, cnt, dur)
       VALUES ${new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
    // Rows go in groups of DATA_ROWS_PER_INSERT (one statement call per group, rows applied in
    // order, so a later duplicate key still replaces an earlier one); the rest one by one.
    this.insertGroup = db.prepare(insertSql(DATA_ROWS_PER_INSERT));
    this.insertOne = db.prepare(insertSql(1));
  }

  /** One batch in its own transaction (all or nothing). */
  write(records: readonly ProfilingDataRecord[]): void {
    const [failure] = this.commitGroup([{ records }]);
    if (failure) throw failure;
  }

  /**
   * The writes in one transaction, each in a savepoint: per write, null when it committed or the
   * error that rolled it back. Throws (nothing committed) when the transaction itself fails.
   */
  commitGroup(writes: readonly GroupWrite[]): Array<Error | null> {
    const outcomes: Array<Error | null> = [];
    // What the committed writes created, in one piece: the interner may start over when it takes
    // them, and keys made before that must not enter it after.
    const pending = noIds();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const w of writes) {
        this.db.exec('SAVEPOINT one_write');
        try {
          const ids = 'records' in w ? this.insert(w.records, pending) : (this.run(w.sql, w.params), noIds());
          this.db.exec('RELEASE one_write');
          // Later writes of the group find what this one created.
          for (const [k, v] of ids.stacks) pending.stacks.set(k, v);
          for (const [k, v] of ids.series) pending.series.set(k, v);
          for (const h of ids.hints) pending.hints.push(h);
          outcomes.push(null);
        } catch (err) {
          this.db.exec('ROLLBACK TO one_write');
          this.db.exec('RELEASE one_write');
          outcomes.push(err as Error);
        }
      }
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
    this.remember(pending);
    return outcomes;
  }

  private run(sql: string, params: unknown[]): void {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= 64) this.statements.clear();
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    stmt.run(...params);
  }

  private insert(records: readonly ProfilingDataRecord[], pending: NewIds): NewIds {
    const ids = noIds();
    const group = this.group;
    let at = 0;
    for (const r of records) {
      let seriesId =
        this.seriesIds.get(r.scheduleId) ?? pending.series.get(r.scheduleId) ?? ids.series.get(r.scheduleId);
      if (seriesId === undefined) {
        seriesId =
          (this.findSeries.get(r.scheduleId) as number | undefined) ??
          (this.insertSeries.get(r.scheduleId, r.taskId) as number);
        ids.series.set(r.scheduleId, seriesId);
      }
      const hint = this.stackHints.get(seriesId)?.get(r.stackIdList);
      let stackId = hint && this.stacks.matches(hint.codes, r.frames) ? hint.stackId : undefined;
      if (stackId === undefined) {
        const k = this.stacks.key(r.frames);
        stackId = this.stacks.get(k) ?? pending.stacks.get(k) ?? ids.stacks.get(k);
        if (stackId === undefined) {
          const { json, hash } = stackHash(r.frames);
          stackId = (this.findStack.get(hash) as number | undefined) ?? (this.insertStack.get(hash, json) as number);
          ids.stacks.set(k, stackId);
        }
        ids.hints.push([seriesId, r.stackIdList, { codes: this.stacks.codes(r.frames), stackId }]);
      }
      group[at++] = seriesId;
      group[at++] = r.uploadTime;
      group[at++] = r.stackIdList;
      group[at++] = stackId;
      group[at++] = targetOf(r.targetType).storageCode;
      group[at++] = r.count;
      group[at++] = r.duration;
      if (at === group.length) {
        this.insertGroup.run(group);
        at = 0;
      }
    }
    for (let i = 0; i < at; i += DATA_COLUMNS) this.insertOne.run(group.slice(i, i + DATA_COLUMNS));
    return ids;
  }

  /** Takes a committed write's ids into the caches. */
  private remember({ stacks, series, hints }: NewIds): void {
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

  private forgetStacks(): void {
    this.stacks.reset();
    this.stackHints.clear();
    this.stackHintCount = 0;
  }

  /** TTL: deletes the records uploaded before `before` (and what only they used); returns how many. */
  deleteExpired(before: number): number {
    const deleted = this.db
      .transaction(() => {
        let n = 0;
        const delData = this.db.prepare('DELETE FROM profiling_data WHERE series_id = ? AND upload_time < ?');
        for (const r of this.db.prepare('SELECT id FROM profiling_series').all() as Array<{ id: number }>)
          n += delData.run(r.id, before).changes;
        if (n > 0) {
          // Interned rows no stored record uses any more (internal, not counted).
          this.db.prepare('DELETE FROM stacks WHERE id NOT IN (SELECT stack_ref FROM profiling_data)').run();
          this.db.prepare('DELETE FROM profiling_series WHERE id NOT IN (SELECT series_id FROM profiling_data)').run();
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
