import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { migrations } from './schema';
import { CHUNK } from './connection';
import { queryStackParts, type StackQuery } from './stack-query';

/**
 * The frames of an analysis are its bulk (1.7 KB a stack at depth 30): the read must not sort them
 * (SQLite would hold them all in a temporary b-tree before the first row) and must hand them on as
 * it reads, so an analysis that stops at its limit reads only part of them.
 */
describe('stack query', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oap-lite-stack-query-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Database(join(dir, 'db'));
  for (const m of migrations) db.exec(m);
  const STACKS = 2_000;
  const FEW_STACKS = 1_500;
  db.transaction(() => {
    // More series than one statement binds: the second read goes through the temp tables.
    const series = db.prepare('INSERT INTO profiling_series (id, schedule_id, task_id) VALUES (?, ?, ?)');
    for (let s = 1; s <= CHUNK + 1; s++) series.run(s, `sched-${s}`, 'task');
    const stack = db.prepare('INSERT INTO stacks (id, hash, frames_json) VALUES (?, ?, ?)');
    const data = db.prepare(
      'INSERT INTO profiling_data (series_id, upload_time, stack_id_list, stack_ref, target_type, cnt, dur) VALUES (?, ?, ?, ?, 0, ?, 0)',
    );
    for (let i = 1; i <= STACKS; i++) {
      stack.run(i, `h${i}`, JSON.stringify([{ symbol: `f${i}`, stackType: 'USER_SPACE' }]));
      // Uploaded in the reverse order of the ids: the read must order by first upload. The first
      // 1,500 are in series 1 and 2, the rest spread over the others.
      data.run(i <= FEW_STACKS ? 1 + (i % 2) : 3 + (i % (CHUNK - 1)), 1_000 + STACKS - i, String(i), i, i);
    }
  })();
  const ALL = [{ start: 0, end: 1e6 }];
  const few: StackQuery = { scheduleIds: ['sched-1', 'sched-2'], ranges: ALL, aggregate: 'COUNT' };
  const many: StackQuery = {
    scheduleIds: Array.from({ length: CHUNK + 1 }, (_, s) => `sched-${s + 1}`),
    ranges: ALL,
    aggregate: 'COUNT',
  };

  /** The statements a read prepares that return frames, with their query plans. */
  const plansOf = (query: StackQuery): string[][] => {
    const sqls: string[] = [];
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      if (sql.includes('frames_json')) sqls.push(sql);
      return prepare(sql);
    }) as typeof db.prepare;
    try {
      queryStackParts(db, query, 100, () => undefined);
    } finally {
      db.prepare = prepare;
    }
    return sqls.map((sql) =>
      (
        db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...new Array<null>(sql.split('?').length - 1).fill(null)) as Array<{
          detail: string;
        }>
      ).map((r) => r.detail),
    );
  };

  it('sorts the stack ids before it reads their frames, never the frames', () => {
    for (const query of [few, many]) {
      const plans = plansOf(query);
      assert.equal(plans.length, 1);
      const plan = plans[0]!;
      const readsFrames = plan.findIndex((d) => /SEARCH s USING INTEGER PRIMARY KEY/.test(d));
      assert.ok(readsFrames > 0, plan.join('\n'));
      assert.deepEqual(
        plan.slice(readsFrames).filter((d) => /TEMP B-TREE/.test(d)),
        [],
        `a sort after the frames are read:\n${plan.join('\n')}`,
      );
    }
  });

  it('hands on stacks in order of first upload, and stops reading when a part is refused', () => {
    for (const query of [few, many]) {
      const seen: string[] = [];
      const refused = new Error('refused');
      assert.throws(
        () =>
          queryStackParts(db, query, 100, (part) => {
            seen.push(...part.frames);
            if (seen.length >= 300) throw refused;
          }),
        (err) => err === refused,
      );
      assert.equal(seen.length, 300);
      const ids = seen.map((f) => Number((JSON.parse(f) as Array<{ symbol: string }>)[0]!.symbol.slice(1)));
      const newest = query === few ? FEW_STACKS : STACKS;
      assert.deepEqual(
        ids,
        Array.from({ length: 300 }, (_, k) => newest - k),
      );
    }
  });
});
