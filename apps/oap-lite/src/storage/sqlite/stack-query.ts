/**
 * The profiling-stacks read of the SQLite store, over any open connection: the store's own (in
 * thread) or a reader worker's (stack-readers.ts). Rows come back as stored, frames as their JSON
 * text, in parts read one row at a time (a reader thread never holds a whole 100 MB result):
 * parsing is left to the caller, and text crosses a thread boundary far cheaper than objects.
 */
import type Database from 'better-sqlite3';
import { TARGETS } from '../../core/targets';
import { validRanges } from '../profiling';
import type { AggregateType, TimeRange } from '../types';
import { CHUNK, chunks, placeholders } from './connection';

export interface StackQuery {
  scheduleIds: string[];
  ranges: TimeRange[];
  aggregate: AggregateType;
}

/** Aggregated stacks: frames (JSON, root first) and their values, in the same order. */
export interface StackRows {
  frames: string[];
  values: number[];
}

/** The SQL value a record adds to an aggregate; DURATION per the record's target (codes of core/targets). */
const valueSql = (aggregate: AggregateType): string => {
  if (aggregate === 'COUNT') return 'cnt';
  const byCount = TARGETS.filter((t) => t.durationAggregate === 'count').map((t) => t.storageCode);
  if (byCount.length === 0) return 'dur';
  const test = byCount.length === 1 ? `= ${byCount[0]}` : `IN (${byCount.join(', ')})`;
  return `CASE WHEN target_type ${test} THEN cnt ELSE dur END`;
};

/**
 * The end of both reads: the aggregated stacks (t) ordered by first upload, then joined to their
 * frames in that order. Sorting inside t and scanning it first (CROSS JOIN fixes the loop order,
 * and SQLite sees that the outer ORDER BY is then already met) keeps the frames out of the sort:
 * sorting the joined rows put every frame list of the analysis in a temporary b-tree before the
 * first row (52 MB of a reader's malloc heap for 30,000 stacks of depth 30), and read all of them
 * even when the analysis stopped at its element limit a fifth of the way in.
 */
const ORDERED_REFS = `ORDER BY first, stack_ref
    ) t CROSS JOIN stacks s ON s.id = t.stack_ref
    ORDER BY t.first, t.stack_ref`;

/** Receives the result in parts, in order; a reader thread posts each on as it comes. */
export type OnStackRows = (part: StackRows) => void;

/** Reads the statement's rows one at a time and hands them on `size` at a time. */
const emitRows = (stmt: Database.Statement, params: unknown[], size: number, onPart: OnStackRows): void => {
  let part: StackRows = { frames: [], values: [] };
  for (const row of stmt.raw().iterate(...params) as IterableIterator<[string, number]>) {
    part.frames.push(row[0]);
    part.values.push(row[1]);
    if (part.frames.length >= size) {
      onPart(part);
      part = { frames: [], values: [] };
    }
  }
  if (part.frames.length > 0) onPart(part);
};

/** The whole result at once (the in-thread read). */
export const queryStackRows = (db: Database.Database, query: StackQuery): StackRows => {
  const rows: StackRows = { frames: [], values: [] };
  queryStackParts(db, query, 10_000, (part) => {
    for (const f of part.frames) rows.frames.push(f);
    for (const v of part.values) rows.values.push(v);
  });
  return rows;
};

/**
 * Stacks of the schedules inside any of the ranges, with the upstream analyzer's semantics (see
 * ProfilingDataStore.queryProfilingStacks).
 */
export const queryStackParts = (
  db: Database.Database,
  { scheduleIds, ranges, aggregate }: StackQuery,
  size: number,
  onPart: OnStackRows,
): void => {
  const valid = validRanges(ranges);
  if (scheduleIds.length === 0 || valid.length === 0) return;
  const series: number[] = [];
  for (const part of chunks([...new Set(scheduleIds)])) {
    const ids = db
      .prepare(`SELECT id FROM profiling_series WHERE schedule_id IN (${placeholders(part.length)})`)
      .pluck()
      .all(...part) as number[];
    series.push(...ids);
  }
  if (series.length === 0) return;
  // Dedupe must see all schedules at once; past CHUNK a temp table keeps the statement small.
  if (series.length > CHUNK) return viaTempTables(db, series, valid, aggregate, size, onPart);
  const lo = Math.min(...valid.map((r) => r.start));
  const hi = Math.max(...valid.map((r) => r.end));
  const rangeSql = valid.map(() => '(upload_time BETWEEN ? AND ?)').join(' OR ');
  const sql = `
    SELECT s.frames_json AS frames, t.total AS total FROM (
      SELECT stack_ref, SUM(v) AS total, MIN(upload_time) AS first FROM (
        SELECT DISTINCT upload_time, ${valueSql(aggregate)} AS v, stack_ref FROM profiling_data
        WHERE series_id IN (${placeholders(series.length)})
          AND upload_time BETWEEN ? AND ?
          AND (${rangeSql})
      ) GROUP BY stack_ref ${ORDERED_REFS}`;
  const params: number[] = [...series, lo, hi];
  for (const r of valid) params.push(r.start, r.end);
  emitRows(db.prepare(sql), params, size, onPart);
};

const viaTempTables = (
  db: Database.Database,
  series: number[],
  ranges: TimeRange[],
  aggregate: AggregateType,
  size: number,
  onPart: OnStackRows,
): void => {
  db.exec(
    'CREATE TEMP TABLE IF NOT EXISTS q_series (id INTEGER PRIMARY KEY); CREATE TEMP TABLE IF NOT EXISTS q_ranges (s INTEGER, e INTEGER)',
  );
  db.transaction(() => {
    db.exec('DELETE FROM q_series; DELETE FROM q_ranges');
    const insS = db.prepare('INSERT OR IGNORE INTO q_series (id) VALUES (?)');
    for (const id of series) insS.run(id);
    const insR = db.prepare('INSERT INTO q_ranges (s, e) VALUES (?, ?)');
    for (const r of ranges) insR.run(r.start, r.end);
    const stmt = db.prepare(
      `SELECT s.frames_json AS frames, t.total AS total FROM (
           SELECT stack_ref, SUM(v) AS total, MIN(upload_time) AS first FROM (
             SELECT DISTINCT d.upload_time, ${valueSql(aggregate)} AS v, d.stack_ref FROM q_series q
             JOIN profiling_data d ON d.series_id = q.id
             WHERE EXISTS (SELECT 1 FROM q_ranges r WHERE d.upload_time BETWEEN r.s AND r.e)
           ) GROUP BY stack_ref ${ORDERED_REFS}`,
    );
    emitRows(stmt, [], size, onPart);
    db.exec('DELETE FROM q_series; DELETE FROM q_ranges');
  })();
};
