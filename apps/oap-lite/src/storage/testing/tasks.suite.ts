/** Behaviour of TaskStore: task records and schedules. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ScheduleRecord, TaskFilter } from '../types';
import { T0, task, type Run } from './harness';

export const describeTaskBehaviour = (run: Run): void => {
  describe('tasks', () => {
    it(
      'stores every field of a task',
      run(async (s) => {
        const t = task('t1', {
          serviceId: 'a.1',
          instanceId: 'a.1_i1',
          processLabels: ['web', 'prod'],
          targetType: 'NETWORK',
          triggerType: 'CONTINUOUS_PROFILING',
          fixedTriggerDuration: 30,
          extensionConfigJson: '{"networkSamplings":[]}',
          continuousProfilingJson: '{"processId":"p1","processName":"x","causes":[]}',
        });
        await s.tasks.saveTask(t);
        assert.deepEqual(await s.tasks.getTaskRecords('t1'), [t]);
        assert.deepEqual(await s.tasks.queryTasks({}), [t]);
      }),
    );

    it(
      'keeps several records per taskId; the same (taskId, createTime) replaces',
      run(async (s) => {
        await s.tasks.saveTask(task('t1', { createTime: T0, lastUpdateTime: T0 }));
        await s.tasks.saveTask(task('t1', { createTime: T0 + 10, lastUpdateTime: T0 + 10 }));
        await s.tasks.saveTask(task('t2', { createTime: T0 + 5 }));
        const records = await s.tasks.getTaskRecords('t1');
        assert.deepEqual(records.map((r) => r.createTime).sort(), [T0, T0 + 10]);
        await s.tasks.saveTask(task('t1', { createTime: T0 + 10, lastUpdateTime: T0 + 99, fixedTriggerDuration: 120 }));
        const after = await s.tasks.getTaskRecords('t1');
        assert.equal(after.length, 2);
        const replaced = after.find((r) => r.createTime === T0 + 10)!;
        assert.equal(replaced.lastUpdateTime, T0 + 99);
        assert.equal(replaced.fixedTriggerDuration, 120);
      }),
    );

    it(
      'queries newest createTime first',
      run(async (s) => {
        await s.tasks.saveTask(task('t1', { createTime: T0 + 10 }));
        await s.tasks.saveTask(task('t2', { createTime: T0 + 30 }));
        await s.tasks.saveTask(task('t3', { createTime: T0 + 20 }));
        await s.tasks.saveTask(task('t1', { createTime: T0 + 40 }));
        assert.deepEqual(
          (await s.tasks.queryTasks({})).map((t) => [t.taskId, t.createTime - T0]),
          [
            ['t1', 40],
            ['t2', 30],
            ['t3', 20],
            ['t1', 10],
          ],
        );
      }),
    );

    it(
      'filters by service(s), instance, target types, trigger type, start time bounds and updatedAfter',
      run(async (s) => {
        const all = [
          task('t1', {
            serviceId: 'a.1',
            targetType: 'ON_CPU',
            startTime: T0 + 100,
            lastUpdateTime: T0 + 100,
            createTime: T0 + 1,
          }),
          task('t2', {
            serviceId: 'a.1',
            targetType: 'OFF_CPU',
            startTime: T0 + 200,
            lastUpdateTime: T0 + 200,
            createTime: T0 + 2,
          }),
          task('t3', {
            serviceId: 'b.1',
            targetType: 'NETWORK',
            instanceId: 'b.1_i1',
            startTime: T0 + 300,
            lastUpdateTime: T0 + 300,
            createTime: T0 + 3,
          }),
          task('t4', {
            serviceId: 'c.1',
            targetType: 'ON_CPU',
            triggerType: 'CONTINUOUS_PROFILING',
            startTime: T0 + 400,
            lastUpdateTime: T0 + 400,
            createTime: T0 + 4,
          }),
        ];
        for (const t of all) await s.tasks.saveTask(t);
        const check = async (filter: TaskFilter, expected: string[]): Promise<void> => {
          assert.deepEqual(
            (await s.tasks.queryTasks(filter)).map((t) => t.taskId).sort(),
            expected,
            JSON.stringify(filter),
          );
        };
        await check({ serviceId: 'a.1' }, ['t1', 't2']);
        await check({ serviceIds: ['a.1', 'c.1'] }, ['t1', 't2', 't4']);
        await check({ serviceIds: ['zzz.1'] }, []);
        await check({ instanceId: 'b.1_i1' }, ['t3']);
        await check({ targetTypes: ['ON_CPU'] }, ['t1', 't4']);
        await check({ targetTypes: ['OFF_CPU', 'NETWORK'] }, ['t2', 't3']);
        await check({ triggerType: 'FIXED_TIME' }, ['t1', 't2', 't3']);
        await check({ triggerType: 'CONTINUOUS_PROFILING' }, ['t4']);
        await check({ startTimeFrom: T0 + 200 }, ['t2', 't3', 't4']);
        await check({ startTimeTo: T0 + 300 }, ['t1', 't2', 't3']);
        await check({ startTimeFrom: T0 + 200, startTimeTo: T0 + 300 }, ['t2', 't3']);
        await check({ startTimeFrom: 0, startTimeTo: 0 }, ['t1', 't2', 't3', 't4']);
        await check({ updatedAfter: T0 + 200 }, ['t3', 't4']);
        await check({ updatedAfter: T0 + 199 }, ['t2', 't3', 't4']);
        await check({ serviceId: 'a.1', targetTypes: ['OFF_CPU'], updatedAfter: T0 }, ['t2']);
      }),
    );
  });

  describe('schedules', () => {
    it(
      'inserts, and only ever extends endTime',
      run(async (s) => {
        const sc: ScheduleRecord = {
          scheduleId: 's1',
          taskId: 't1',
          processId: 'p1',
          startTime: T0,
          endTime: T0 + 5_000,
        };
        await s.tasks.upsertSchedule(sc);
        await s.tasks.upsertSchedule({
          scheduleId: 's2',
          taskId: 't1',
          processId: 'p2',
          startTime: T0 + 1,
          endTime: T0 + 1,
        });
        await s.tasks.upsertSchedule({ scheduleId: 's3', taskId: 't2', processId: 'p1', startTime: T0, endTime: T0 });
        assert.deepEqual(
          [...(await s.tasks.querySchedules('t1'))].sort((a, b) => a.scheduleId.localeCompare(b.scheduleId)),
          [sc, { scheduleId: 's2', taskId: 't1', processId: 'p2', startTime: T0 + 1, endTime: T0 + 1 }],
        );
        await s.tasks.upsertSchedule({ ...sc, endTime: T0 + 10_000 });
        assert.equal((await s.tasks.querySchedules('t1')).find((x) => x.scheduleId === 's1')!.endTime, T0 + 10_000);
        await s.tasks.upsertSchedule({ ...sc, endTime: T0 + 7_000 });
        const got = (await s.tasks.querySchedules('t1')).find((x) => x.scheduleId === 's1')!;
        assert.deepEqual(got, { ...sc, endTime: T0 + 10_000 });
        assert.equal((await s.tasks.querySchedules('t1')).length, 2);
        assert.deepEqual(
          (await s.tasks.querySchedules('t2')).map((x) => x.scheduleId),
          ['s3'],
        );
      }),
    );
  });
};
