/** Behaviour of ProfilingDataStore: writes, replacement and the analyzer's aggregation semantics. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  AnalysisAbortedError,
  AnalysisBudget,
  AnalysisLimitError,
  unlimitedBudget,
} from '../../analysis/analysis-budget';
import { toFlameTrees } from '../../analysis/flame-forest';
import { buildFlameTrees } from '../../analysis/flame-tree';
import type { ProfilingDataRecord, StackFrame } from '../types';
import { ALL, K, STACK_A, STACK_B, STACK_C, T0, U, asMap, key, rec, type Run } from './harness';

export const describeProfilingDataBehaviour = (run: Run): void => {
  describe('profiling data', () => {
    it(
      'writes records and aggregates them per distinct frame list',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          rec({ stackIdList: '1', frames: STACK_A, count: 3, uploadTime: T0 }),
          rec({ stackIdList: '2', frames: STACK_B, count: 5, uploadTime: T0 }),
          rec({ stackIdList: '1', frames: STACK_A, count: 4, uploadTime: T0 + 5_000 }),
        ]);
        await s.profilingData.writeProfilingData([]);
        const got = await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT');
        assert.deepEqual(asMap(got), { [key(STACK_A)]: 7, [key(STACK_B)]: 5 });
        const a = got.find((x) => key(x.frames) === key(STACK_A))!;
        assert.deepEqual(a.frames, STACK_A, 'frames come back exactly, root first');
      }),
    );

    it(
      'keeps frames exactly: odd symbols, order, and stackType distinguish stacks',
      run(async (s) => {
        const odd = [U('ns::f<std::string, "q">(char const*)'), U('λ → ünïcode'), U(''), K('do_syscall_64')];
        const sameSymbolsOtherTypes = [K('main'), K('run'), K('sys_read')];
        const reversed = [...STACK_A].reverse();
        await s.profilingData.writeProfilingData([
          rec({ stackIdList: '1', frames: odd }),
          rec({ stackIdList: '2', frames: sameSymbolsOtherTypes }),
          rec({ stackIdList: '3', frames: STACK_A }),
          rec({ stackIdList: '4', frames: reversed }),
          rec({ stackIdList: '5', frames: [] }),
        ]);
        const got = asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT'));
        assert.deepEqual(got, {
          [key(odd)]: 1,
          [key(sameSymbolsOtherTypes)]: 1,
          [key(STACK_A)]: 1,
          [key(reversed)]: 1,
          [key([])]: 1,
        });
        const oddBack = (await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')).find(
          (x) => key(x.frames) === key(odd),
        );
        assert.deepEqual(oddBack!.frames, odd);
      }),
    );

    it(
      'COUNT sums counts; DURATION sums durations, except ON_CPU records which use count',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          rec({
            scheduleId: 'off',
            targetType: 'OFF_CPU',
            stackIdList: '1',
            frames: STACK_A,
            count: 2,
            duration: 1_000,
            uploadTime: T0,
          }),
          rec({
            scheduleId: 'off',
            targetType: 'OFF_CPU',
            stackIdList: '1',
            frames: STACK_A,
            count: 3,
            duration: 5_000,
            uploadTime: T0 + 1,
          }),
          rec({
            scheduleId: 'off',
            targetType: 'OFF_CPU',
            stackIdList: '2',
            frames: STACK_B,
            count: 1,
            duration: 700,
            uploadTime: T0,
          }),
          rec({
            scheduleId: 'on',
            targetType: 'ON_CPU',
            stackIdList: '1',
            frames: STACK_A,
            count: 9,
            duration: 0,
            uploadTime: T0,
          }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['off'], ALL, 'COUNT')), {
          [key(STACK_A)]: 5,
          [key(STACK_B)]: 1,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['off'], ALL, 'DURATION')), {
          [key(STACK_A)]: 6_000,
          [key(STACK_B)]: 700,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['on'], ALL, 'COUNT')), {
          [key(STACK_A)]: 9,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['on'], ALL, 'DURATION')), {
          [key(STACK_A)]: 9,
        });
      }),
    );

    it(
      'counts records identical in (uploadTime, value, frames) once',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          // same uploadTime, value and frames, different stackIdList: one
          rec({ stackIdList: '1_2', frames: STACK_A, count: 4, uploadTime: T0 }),
          rec({ stackIdList: '3_4', frames: STACK_A, count: 4, uploadTime: T0 }),
          // same frames and value at another time: counts
          rec({ stackIdList: '1_2', frames: STACK_A, count: 4, uploadTime: T0 + 1 }),
          // same frames and time, another value: counts
          rec({ stackIdList: '5_6', frames: STACK_A, count: 5, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 13,
        });
      }),
    );

    it(
      'dedupes on the aggregated value: records equal in duration but not in count are one for DURATION',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          rec({ targetType: 'OFF_CPU', stackIdList: '1', count: 1, duration: 100, uploadTime: T0 }),
          rec({ targetType: 'OFF_CPU', stackIdList: '2', count: 2, duration: 100, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 3,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'DURATION')), {
          [key(STACK_A)]: 100,
        });
      }),
    );

    it(
      'takes ranges as inclusive, several of them, and counts a record in overlapping ranges once',
      run(async (s) => {
        const batch: ProfilingDataRecord[] = [];
        for (let i = 0; i <= 10; i++) batch.push(rec({ uploadTime: T0 + i * 1000, count: 1 << i, frames: STACK_A }));
        await s.profilingData.writeProfilingData(batch);
        const sum = async (ranges: Array<{ start: number; end: number }>): Promise<number> => {
          const got = await s.profilingData.queryProfilingStacks(['sched-1'], ranges, 'COUNT');
          assert.ok(got.length <= 1);
          return got[0]?.value ?? 0;
        };
        assert.equal(await sum([{ start: T0 + 2000, end: T0 + 4000 }]), 4 + 8 + 16);
        assert.equal(await sum([{ start: T0 + 2001, end: T0 + 3999 }]), 8);
        assert.equal(await sum([{ start: T0 + 2000, end: T0 + 2000 }]), 4);
        assert.equal(
          await sum([
            { start: T0, end: T0 + 1000 },
            { start: T0 + 9000, end: T0 + 20_000 },
          ]),
          1 + 2 + 512 + 1024,
        );
        assert.equal(
          await sum([
            { start: T0 + 1000, end: T0 + 3000 },
            { start: T0 + 2000, end: T0 + 4000 },
          ]),
          2 + 4 + 8 + 16,
        );
        assert.equal(
          await sum([
            { start: T0 + 3000, end: T0 + 3000 },
            { start: T0 + 3000, end: T0 + 3000 },
          ]),
          8,
        );
        assert.equal(await sum([{ start: T0 + 11_000, end: T0 + 12_000 }]), 0);
        assert.equal(await sum([]), 0);
      }),
    );

    it(
      'includes only the asked schedules; identical records across them count once',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          rec({ scheduleId: 's1', frames: STACK_A, count: 1, uploadTime: T0 }),
          rec({ scheduleId: 's2', frames: STACK_A, count: 10, uploadTime: T0 }),
          rec({ scheduleId: 's3', frames: STACK_A, count: 100, uploadTime: T0 }),
          rec({ scheduleId: 's3', stackIdList: '7_8', frames: STACK_B, count: 1000, uploadTime: T0 }),
          // identical in (uploadTime, value, frames) to the s1 record
          rec({ scheduleId: 's4', taskId: 'task-2', frames: STACK_A, count: 1, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['s1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 1,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['s1', 's2'], ALL, 'COUNT')), {
          [key(STACK_A)]: 11,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['s2', 's3', 'unknown'], ALL, 'COUNT')), {
          [key(STACK_A)]: 110,
          [key(STACK_B)]: 1000,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['s1', 's4'], ALL, 'COUNT')), {
          [key(STACK_A)]: 1,
        });
        assert.deepEqual(await s.profilingData.queryProfilingStacks(['unknown'], ALL, 'COUNT'), []);
        assert.deepEqual(await s.profilingData.queryProfilingStacks([], ALL, 'COUNT'), []);
      }),
    );

    it(
      'analyses into the trees the in-thread build makes of queryProfilingStacks, and charges the budget',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          rec({ scheduleId: 's1', stackIdList: '1', frames: STACK_A, count: 3, uploadTime: T0 }),
          rec({ scheduleId: 's1', stackIdList: '2', frames: STACK_B, count: 2, uploadTime: T0 + 1_000 }),
          rec({ scheduleId: 's1', stackIdList: '3', frames: [], uploadTime: T0 + 1_000 }),
          rec({ scheduleId: 's2', stackIdList: '4', frames: STACK_A, count: 5, uploadTime: T0 + 2_000 }),
          rec({ scheduleId: 's2', stackIdList: '5', frames: STACK_C, count: 7, duration: 70, uploadTime: T0 + 9_000 }),
        ]);
        const check = async (ids: string[], ranges: typeof ALL, aggregate: 'COUNT' | 'DURATION') => {
          const expected = unlimitedBudget();
          const trees = await buildFlameTrees(
            await s.profilingData.queryProfilingStacks(ids, ranges, aggregate),
            expected,
          );
          const budget = unlimitedBudget();
          const forest = await s.profilingData.analyzeProfilingStacks(ids, ranges, aggregate, budget);
          assert.deepEqual(toFlameTrees(forest), trees, `${ids.join()} ${JSON.stringify(ranges)} ${aggregate}`);
          assert.deepEqual(budget.used, expected.used);
          return trees.length;
        };
        assert.equal(await check(['s1'], ALL, 'COUNT'), 1);
        assert.equal(await check(['s1', 's2', 'unknown'], ALL, 'COUNT'), 1);
        await check(['s1', 's2'], ALL, 'DURATION');
        await check(['s2'], [{ start: T0, end: T0 + 2_000 }], 'COUNT');
        await check(['s1'], [{ start: T0 + 5, end: T0 + 4 }], 'COUNT');
        await check([], ALL, 'COUNT');

        const tight = new AnalysisBudget({ maxElements: 2, maxResponseBytes: Number.MAX_SAFE_INTEGER });
        await assert.rejects(
          s.profilingData.analyzeProfilingStacks(['s1', 's2'], ALL, 'COUNT', tight),
          (err: AnalysisLimitError) => {
            assert.equal(err.setting, 'SW_QUERY_MAX_ANALYSIS_ELEMENTS');
            return true;
          },
        );
        const aborted = new AbortController();
        aborted.abort();
        const gone = new AnalysisBudget({ maxElements: 100, maxResponseBytes: 1e9 }, aborted.signal);
        await assert.rejects(s.profilingData.analyzeProfilingStacks(['s1'], ALL, 'COUNT', gone), AnalysisAbortedError);
      }),
    );

    it(
      'orders stacks by first appearance',
      run(async (s) => {
        await s.profilingData.writeProfilingData([
          rec({ stackIdList: 'c', frames: STACK_C, uploadTime: T0 + 3000 }),
          rec({ stackIdList: 'a', frames: STACK_A, uploadTime: T0 + 2000 }),
          rec({ stackIdList: 'b', frames: STACK_B, uploadTime: T0 + 1000 }),
          rec({ stackIdList: 'a', frames: STACK_A, uploadTime: T0 + 500 }),
        ]);
        const got = await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT');
        assert.deepEqual(
          got.map((x) => key(x.frames)),
          [key(STACK_A), key(STACK_B), key(STACK_C)],
        );
        const later = await s.profilingData.queryProfilingStacks(
          ['sched-1'],
          [{ start: T0 + 600, end: T0 + 5000 }],
          'COUNT',
        );
        assert.deepEqual(
          later.map((x) => key(x.frames)),
          [key(STACK_B), key(STACK_A), key(STACK_C)],
        );
      }),
    );

    it(
      'replaces a record with the same (scheduleId, stackIdList, uploadTime); rewriting a batch is idempotent',
      run(async (s) => {
        const batch = [
          rec({ stackIdList: '1', frames: STACK_A, count: 3, uploadTime: T0 }),
          rec({ stackIdList: '2', frames: STACK_B, count: 5, uploadTime: T0 }),
        ];
        await s.profilingData.writeProfilingData(batch);
        await s.profilingData.writeProfilingData(batch);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 3,
          [key(STACK_B)]: 5,
        });
        // same key, new content: replaces (here even the frames change)
        await s.profilingData.writeProfilingData([
          rec({ stackIdList: '1', frames: STACK_C, count: 7, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), {
          [key(STACK_C)]: 7,
          [key(STACK_B)]: 5,
        });
        // the same stackIdList at another time or in another schedule is another record
        await s.profilingData.writeProfilingData([
          rec({ stackIdList: '1', frames: STACK_C, count: 1, uploadTime: T0 + 1 }),
          rec({ scheduleId: 'sched-2', stackIdList: '1', frames: STACK_C, count: 100, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), {
          [key(STACK_C)]: 8,
          [key(STACK_B)]: 5,
        });
        // a duplicate key inside one batch: the later record wins
        await s.profilingData.writeProfilingData([
          rec({ scheduleId: 'sched-3', stackIdList: 'x', count: 1, uploadTime: T0 }),
          rec({ scheduleId: 'sched-3', stackIdList: 'x', count: 2, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-3'], ALL, 'COUNT')), {
          [key(STACK_A)]: 2,
        });
      }),
    );

    it(
      'refuses a frame that is not a StackFrame, naming the record and the frame',
      run(async (s) => {
        const frames = (...f: unknown[]) => rec({ frames: f as StackFrame[] });
        const cases: Array<[ProfilingDataRecord, RegExp]> = [
          [frames(U('a'), { symbol: 'b', stackType: 'KERNEL' }), /record #1: frames\[1\]\.stackType is invalid/],
          [frames({ symbol: 7, stackType: 'USER_SPACE' }), /record #1: frames\[0\]\.symbol must be a string/],
          [frames(U('a'), null), /record #1: frames\[1\] is not an object/],
        ];
        for (const [bad, message] of cases) {
          await assert.rejects(s.profilingData.writeProfilingData([rec({}), bad]), message);
        }
        assert.deepEqual(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT'), []);
      }),
    );

    it(
      'writes a batch atomically: an invalid record rejects the batch and nothing of it is stored',
      run(async (s) => {
        await s.profilingData.writeProfilingData([rec({ stackIdList: 'before', count: 1, uploadTime: T0 })]);
        const bad = rec({ stackIdList: 'bad', uploadTime: T0 + 2 });
        (bad as unknown as { frames: unknown }).frames = 'not an array';
        await assert.rejects(
          s.profilingData.writeProfilingData([
            rec({ stackIdList: 'ok-1', count: 10, uploadTime: T0 + 1 }),
            rec({
              scheduleId: 'sched-new',
              stackIdList: 'ok-2',
              frames: [U('brand-new-frame')],
              count: 10,
              uploadTime: T0 + 1,
            }),
            bad,
            rec({ stackIdList: 'ok-3', count: 10, uploadTime: T0 + 3 }),
          ]),
        );
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 1,
        });
        assert.deepEqual(await s.profilingData.queryProfilingStacks(['sched-new'], ALL, 'COUNT'), []);
        // the storage is still usable, including for the frames of the rejected batch
        await s.profilingData.writeProfilingData([
          rec({
            scheduleId: 'sched-new',
            stackIdList: 'ok-2',
            frames: [U('brand-new-frame')],
            count: 10,
            uploadTime: T0 + 1,
          }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['sched-new'], ALL, 'COUNT')), {
          [key([U('brand-new-frame')])]: 10,
        });
      }),
    );

    it(
      'handles many schedules, records and distinct stacks in one query',
      run(async (s) => {
        const batch: ProfilingDataRecord[] = [];
        const expected: Record<string, number> = {};
        for (let i = 0; i < 3000; i++) {
          const frames = [U('main'), U(`fn-${i % 150}`), K(`k-${i % 7}`)];
          const count = (i % 5) + 1;
          batch.push(rec({ scheduleId: `s-${i % 40}`, stackIdList: `${i}`, frames, count, uploadTime: T0 + i }));
          expected[key(frames)] = (expected[key(frames)] ?? 0) + count;
        }
        await s.profilingData.writeProfilingData(batch);
        const schedules = Array.from({ length: 40 }, (_, i) => `s-${i}`);
        const got = await s.profilingData.queryProfilingStacks(schedules, ALL, 'COUNT');
        assert.equal(Object.keys(expected).length, 1050);
        assert.equal(got.length, 1050);
        assert.deepEqual(asMap(got), expected);
      }),
    );
  });
};
