/**
 * ProfilingDataStore on SQLite. A frame list is a row of `stacks` (interned by its hash, see
 * storage/stack-interning.ts), a schedule a row of `profiling_series`, and a record a row of
 * `profiling_data` that refers to both by number.
 */
import type Database from 'better-sqlite3';
import type { AnalysisBudget } from '../../analysis/analysis-budget';
import { buildFlameForest } from '../../analysis/flame-tree';
import { assertValidProfilingBatch } from '../profiling';
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
import { ProfilingWrites } from './profiling-writes';
import type { StackReaders } from './stack-readers';
import { queryStackRows } from './stack-query';

/**
 * Where writes go: the writer thread's connection (write-thread.ts) or, without one, the store's
 * own on this thread.
 */
export interface ProfilingWriteTarget {
  writeProfilingData(records: readonly ProfilingDataRecord[]): Promise<void>;
  deleteExpired(before: number): Promise<number>;
}

/** Writes on the store's own connection (the event loop's thread waits for them). */
class InThreadWrites implements ProfilingWriteTarget {
  private writes: { db: Database.Database; writes: ProfilingWrites } | null = null;

  constructor(private readonly c: SqliteConnection) {}

  /** The writer of the open database, made on first use (and again after a reopen). */
  private get current(): ProfilingWrites {
    const db = this.c.conn;
    if (this.writes?.db !== db) this.writes = { db, writes: new ProfilingWrites(db) };
    return this.writes.writes;
  }

  async writeProfilingData(records: readonly ProfilingDataRecord[]): Promise<void> {
    this.current.write(records);
  }

  async deleteExpired(before: number): Promise<number> {
    return this.current.deleteExpired(before);
  }
}

export class SqliteProfilingDataStore implements ProfilingDataStore {
  private readonly writes: ProfilingWriteTarget;

  constructor(
    private readonly c: SqliteConnection,
    /** Reader threads for queryProfilingStacks; null reads on this thread. */
    private readonly readers: StackReaders | null = null,
    /** The writer thread; null writes on this thread. */
    writer: ProfilingWriteTarget | null = null,
  ) {
    this.writes = writer ?? new InThreadWrites(c);
  }

  async writeProfilingData(records: ProfilingDataRecord[]): Promise<void> {
    assertValidProfilingBatch(records);
    if (records.length === 0) return;
    this.c.checkOpen();
    await this.writes.writeProfilingData(records);
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
    this.c.checkOpen();
    return this.writes.deleteExpired(before);
  }
}
