import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { describeStorageBehaviour } from '../testing';
import { createStorage } from '../index';
import { aggregateProfilingStacks } from '../profiling';
import type { ProfilingDataRecord, StackFrame, TimeRange } from '../types';
import { SqliteStorage } from './sqlite-storage';
import { SCHEMA_VERSION } from './schema';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'oap-lite-sqlite-'));

describeStorageBehaviour('sqlite', async () => {
  const dataDir = tempDir();
  return {
    storage: new SqliteStorage({ dataDir }),
    reopen: async () => new SqliteStorage({ dataDir }),
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
});

// The same behaviour with the profiling read on two reader threads (their own connections).
describeStorageBehaviour('sqlite, reader threads', async () => {
  const dataDir = tempDir();
  return {
    storage: new SqliteStorage({ dataDir, readThreads: 2 }),
    reopen: async () => new SqliteStorage({ dataDir, readThreads: 2 }),
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
});

// The same behaviour with uploads written by the writer thread (its own connection, group commits).
describeStorageBehaviour('sqlite, writer thread', async () => {
  const dataDir = tempDir();
  return {
    storage: new SqliteStorage({ dataDir, readThreads: 2, writeThread: true }),
    reopen: async () => new SqliteStorage({ dataDir, readThreads: 2, writeThread: true }),
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
});

describe('SqliteStorage specifics', () => {
  const withStorage = async (fn: (s: SqliteStorage, dir: string) => Promise<void>): Promise<void> => {
    const dir = tempDir();
    const s = new SqliteStorage({ dataDir: join(dir, 'nested', 'data') });
    try {
      await s.init();
      await fn(s, dir);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('creates the data directory, uses WAL and records the schema version', () =>
    withStorage(async (s) => {
      assert.ok(s.path.endsWith(join('nested', 'data', 'oap-lite.db')));
      const db = new Database(s.path, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.prepare('SELECT version FROM schema_version').pluck().get(), SCHEMA_VERSION);
      } finally {
        db.close();
      }
    }));

  it('refuses a database from a newer schema', async () => {
    const dir = tempDir();
    try {
      const s = new SqliteStorage({ dataDir: dir });
      await s.init();
      await s.close();
      const db = new Database(join(dir, 'oap-lite.db'));
      db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
      db.close();
      const again = new SqliteStorage({ dataDir: dir });
      await assert.rejects(again.init(), /newer than this build/);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects use before init and after close; close is idempotent', async () => {
    const dir = tempDir();
    try {
      const s = new SqliteStorage({ dataDir: dir });
      await assert.rejects(s.metadata.listServices(), /init/);
      await s.init();
      await s.close();
      await s.close();
      await assert.rejects(s.metadata.listServices(), /closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('interns stacks: a repeated frame list is stored once', () =>
    withStorage(async (s) => {
      const frames: StackFrame[] = Array.from({ length: 20 }, (_, i) => ({ symbol: `f${i}`, stackType: 'USER_SPACE' }));
      const records: ProfilingDataRecord[] = Array.from({ length: 500 }, (_, i) => ({
        scheduleId: 's1',
        taskId: 't1',
        stackIdList: `${i % 3}`,
        targetType: 'ON_CPU',
        uploadTime: 1000 + i,
        frames: i % 2 ? frames : [...frames].reverse(),
        count: 1,
        duration: 0,
      }));
      await s.profilingData.writeProfilingData(records);
      const db = new Database(s.path, { readonly: true });
      try {
        assert.equal(db.prepare('SELECT COUNT(*) FROM stacks').pluck().get(), 2);
        assert.equal(db.prepare('SELECT COUNT(*) FROM profiling_data').pluck().get(), 500);
      } finally {
        db.close();
      }
    }));

  it('stores the frames a record carries when its stackIdList was seen before with other frames', () =>
    withStorage(async (s) => {
      const U = (symbol: string): StackFrame => ({ symbol, stackType: 'USER_SPACE' });
      const K = (symbol: string): StackFrame => ({ symbol, stackType: 'KERNEL_SPACE' });
      const rec = (uploadTime: number, frames: StackFrame[]): ProfilingDataRecord => ({
        scheduleId: 's1',
        taskId: 't1',
        stackIdList: '7_8',
        targetType: 'ON_CPU',
        uploadTime,
        frames,
        count: 1,
        duration: 0,
      });
      const first = [U('main'), U('run'), K('sys_read')];
      await s.profilingData.writeProfilingData([rec(1, first)]);
      // The caller may reuse its objects: what was stored must not follow them.
      first[1]!.symbol = 'walk';
      const variants = [
        [U('main'), U('run'), K('sys_read')],
        [U('main'), U('walk'), K('sys_read')],
        [U('main'), U('run'), U('sys_read')],
        [U('main'), U('run')],
        [U('main'), U('run'), K('sys_read'), K('vfs_read')],
      ];
      for (let i = 0; i < variants.length; i++) await s.profilingData.writeProfilingData([rec(2 + i, variants[i]!)]);
      for (let i = 0; i < variants.length; i++) {
        const got = await s.profilingData.queryProfilingStacks(['s1'], [{ start: 2 + i, end: 2 + i }], 'COUNT');
        assert.deepEqual(got, [{ frames: variants[i], value: 1 }]);
      }
      const all = await s.profilingData.queryProfilingStacks(['s1'], [{ start: 0, end: 100 }], 'COUNT');
      assert.equal(all.length, 5);
    }));

  it('applies records in order across multi-row inserts: the later of two equal keys wins', () =>
    withStorage(async (s) => {
      const frames: StackFrame[] = [{ symbol: 'f', stackType: 'USER_SPACE' }];
      const records: ProfilingDataRecord[] = Array.from({ length: 237 }, (_, i) => ({
        scheduleId: 's1',
        taskId: 't1',
        stackIdList: `${i % 40}`,
        targetType: 'ON_CPU',
        uploadTime: 1000,
        frames,
        count: i,
        duration: 0,
      }));
      await s.profilingData.writeProfilingData(records);
      const db = new Database(s.path, { readonly: true });
      try {
        const rows = db.prepare('SELECT stack_id_list AS k, cnt FROM profiling_data').all() as Array<{
          k: string;
          cnt: number;
        }>;
        const want = new Map<string, number>();
        for (const r of records) want.set(r.stackIdList, r.count);
        assert.deepEqual(new Map(rows.map((r) => [r.k, r.cnt])), want);
      } finally {
        db.close();
      }
    }));

  it('matches the reference aggregation on random data (many schedules, overlapping ranges)', () =>
    withStorage(async (s) => {
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const stacks: StackFrame[][] = Array.from({ length: 30 }, (_, i) =>
        Array.from({ length: 1 + (i % 5) }, (_, j) => ({
          symbol: `sym${(i * 7 + j) % 11}`,
          stackType: j % 2 ? 'KERNEL_SPACE' : 'USER_SPACE',
        })),
      );
      const stored = new Map<string, ProfilingDataRecord>();
      for (let b = 0; b < 20; b++) {
        const batch: ProfilingDataRecord[] = [];
        for (let i = 0; i < 100; i++) {
          const r: ProfilingDataRecord = {
            scheduleId: `s${rnd(6)}`,
            taskId: 't',
            stackIdList: `${rnd(8)}`,
            targetType: rnd(3) ? 'OFF_CPU' : 'ON_CPU',
            uploadTime: rnd(200),
            frames: stacks[rnd(stacks.length)]!,
            count: 1 + rnd(3),
            duration: 10 * (1 + rnd(3)),
          };
          batch.push(r);
          stored.delete(`${r.scheduleId}|${r.stackIdList}|${r.uploadTime}`);
          stored.set(`${r.scheduleId}|${r.stackIdList}|${r.uploadTime}`, r);
        }
        await s.profilingData.writeProfilingData(batch);
      }
      const all = [...stored.values()];
      for (let q = 0; q < 40; q++) {
        const schedules = Array.from({ length: 1 + rnd(4) }, () => `s${rnd(7)}`);
        const ranges: TimeRange[] = Array.from({ length: 1 + rnd(3) }, () => {
          const a = rnd(210);
          return { start: a, end: a + rnd(80) };
        });
        for (const agg of ['COUNT', 'DURATION'] as const) {
          const got = await s.profilingData.queryProfilingStacks(schedules, ranges, agg);
          const want = aggregateProfilingStacks(all, schedules, ranges, agg);
          const norm = (x: typeof got): string[] => x.map((st) => `${JSON.stringify(st.frames)}=${st.value}`).sort();
          assert.deepEqual(norm(got), norm(want), JSON.stringify({ schedules, ranges, agg }));
        }
      }
    }));

  it('aggregates over more schedules than one statement binds (temp-table path)', () =>
    withStorage(async (s) => {
      const records: ProfilingDataRecord[] = [];
      for (let i = 0; i < 1200; i++) {
        records.push({
          scheduleId: `s${i}`,
          taskId: 't',
          stackIdList: '1',
          targetType: 'OFF_CPU',
          uploadTime: 100 + (i % 10),
          frames: [{ symbol: `f${i % 4}`, stackType: 'USER_SPACE' }],
          count: 1 + (i % 3),
          duration: 5 * (i % 7),
        });
      }
      await s.profilingData.writeProfilingData(records);
      const schedules = records
        .map((r) => r.scheduleId)
        .filter((_, i) => i % 2 === 0)
        .concat(['nope']);
      const ranges: TimeRange[] = [
        { start: 100, end: 104 },
        { start: 103, end: 107 },
      ];
      for (const agg of ['COUNT', 'DURATION'] as const) {
        const got = await s.profilingData.queryProfilingStacks(schedules, ranges, agg);
        const want = aggregateProfilingStacks(records, schedules, ranges, agg);
        assert.ok(got.length > 0);
        assert.deepEqual(got, want);
      }
      // and the small-statement path still works afterwards
      assert.equal((await s.profilingData.queryProfilingStacks(['s0'], ranges, 'COUNT')).length, 1);
    }));

  it('createStorage builds sqlite and names what an incomplete configuration lacks', async () => {
    const dir = tempDir();
    try {
      const s = createStorage({ kind: 'sqlite', sqlite: { dataDir: dir } });
      assert.ok(s instanceof SqliteStorage);
      await s.init();
      await s.close();
      assert.throws(() => createStorage({ kind: 'elasticsearch' }), /elasticsearch\.clusterNodes is required/);
      assert.throws(() => createStorage({ kind: 'sqlite' }), /dataDir/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
