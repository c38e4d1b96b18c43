/** Behaviour of the Storage aggregate across domains: an empty storage, TTL and durability over a reopen. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ContinuousPolicyRecord, ScheduleRecord, UiTemplateRecord } from '../types';
import {
  ALL,
  M0,
  STACK_A,
  STACK_B,
  STACK_C,
  T0,
  asMap,
  ids,
  instance,
  key,
  mv,
  processRec,
  rec,
  service,
  task,
  type Run,
} from './harness';

export const describeAggregateBehaviour = (run: Run): void => {
  describe('empty storage', () => {
    it(
      'answers every query with nothing',
      run(async (s) => {
        assert.deepEqual(await s.metadata.listServices(), []);
        assert.equal(await s.metadata.getService('nope.1'), null);
        assert.deepEqual(await s.metadata.listInstances('nope.1'), []);
        assert.equal(await s.metadata.getInstance('nope'), null);
        assert.deepEqual(await s.metadata.listProcesses({}), []);
        assert.equal(await s.metadata.countProcesses({}), 0);
        assert.equal(await s.metadata.getProcess('nope'), null);
        assert.deepEqual(await s.metadata.getProcesses(['nope']), []);
        assert.deepEqual(await s.metadata.getProcesses([]), []);
        assert.deepEqual(await s.metadata.listServiceLabels('nope.1'), []);
        assert.deepEqual(await s.tasks.queryTasks({}), []);
        assert.deepEqual(await s.tasks.getTaskRecords('nope'), []);
        assert.deepEqual(await s.tasks.querySchedules('nope'), []);
        assert.deepEqual(
          await s.profilingData.queryProfilingStacks(['nope'], [{ start: 0, end: T0 * 2 }], 'COUNT'),
          [],
        );
        assert.deepEqual(await s.policies.getPolicies(['nope.1']), []);
        assert.deepEqual(await s.policies.getPolicies([]), []);
        assert.equal(await s.uiTemplates.getUiTemplate('nope'), null);
        assert.deepEqual(await s.uiTemplates.listUiTemplates(true), []);
        assert.deepEqual(await s.meters.queryMetricValues('m_single', 'e1', { start: 0, end: T0 * 2 }), []);
        await s.meters.addMetricValues([]);
        assert.equal(await s.deleteExpired(T0, T0), 0);
      }),
    );
  });

  describe('deleteExpired', () => {
    it(
      'deletes old records and unseen metadata, keeps the rest, and reports the count',
      run(async (s) => {
        const cut = T0 + 10_000;
        const metaCut = T0 + 50_000;
        await s.metadata.upsertService(service('old-svc', { lastSeen: metaCut - 1 }));
        await s.metadata.upsertService(service('new-svc', { lastSeen: metaCut }));
        await s.metadata.upsertInstance(instance('x.1', 'old-inst', { lastSeen: metaCut - 1 }));
        await s.metadata.upsertInstance(instance('x.1', 'new-inst', { lastSeen: metaCut + 1 }));
        await s.metadata.upsertProcesses([
          processRec('old-p', { firstSeen: T0, lastSeen: metaCut - 1 }),
          processRec('new-p', { firstSeen: T0, lastSeen: metaCut }),
        ]);
        await s.tasks.saveTask(task('old-t', { createTime: cut - 1 }));
        await s.tasks.saveTask(task('new-t', { createTime: cut }));
        await s.tasks.upsertSchedule({
          scheduleId: 'old-s',
          taskId: 'old-t',
          processId: 'p',
          startTime: T0,
          endTime: cut - 1,
        });
        await s.tasks.upsertSchedule({
          scheduleId: 'new-s',
          taskId: 'new-t',
          processId: 'p',
          startTime: T0,
          endTime: cut + 1,
        });
        await s.profilingData.writeProfilingData([
          rec({ scheduleId: 'old-s', stackIdList: '1', frames: STACK_A, count: 1, uploadTime: cut - 1 }),
          rec({ scheduleId: 'old-s', stackIdList: '2', frames: STACK_C, count: 1, uploadTime: cut - 2 }),
          rec({ scheduleId: 'new-s', stackIdList: '1', frames: STACK_A, count: 1, uploadTime: cut - 1 }),
          rec({ scheduleId: 'new-s', stackIdList: '1', frames: STACK_B, count: 2, uploadTime: cut }),
        ]);
        await s.policies.savePolicy({
          serviceId: service('old-svc').id,
          uuid: 'u',
          configurationJson: '[]',
          updateTime: T0,
        });
        await s.uiTemplates.saveUiTemplate({
          id: 'tpl',
          configuration: '{}',
          activated: true,
          disabled: false,
          updateTime: T0,
        });

        const n = await s.deleteExpired(cut, metaCut);
        // 3 data records, 1 schedule, 1 task record, 1 process, 1 instance, 1 service;
        // a backend may also count internal rows/documents it removed.
        assert.ok(n >= 8, `deleteExpired returned ${n}`);
        assert.deepEqual(ids(await s.metadata.listServices()), [service('new-svc').id]);
        assert.deepEqual(
          (await s.metadata.listInstances('x.1')).map((i) => i.name),
          ['new-inst'],
        );
        assert.deepEqual(ids(await s.metadata.listProcesses({})), ['new-p']);
        assert.deepEqual(
          (await s.tasks.queryTasks({})).map((t) => t.taskId),
          ['new-t'],
        );
        assert.deepEqual(await s.tasks.querySchedules('old-t'), []);
        assert.equal((await s.tasks.querySchedules('new-t')).length, 1);
        assert.deepEqual(await s.profilingData.queryProfilingStacks(['old-s'], ALL, 'COUNT'), []);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['new-s'], ALL, 'COUNT')), {
          [key(STACK_B)]: 2,
        });
        // policies and templates are configuration, not expired data
        assert.equal((await s.policies.getPolicies([service('old-svc').id])).length, 1);
        assert.ok(await s.uiTemplates.getUiTemplate('tpl'));
        assert.equal(await s.deleteExpired(cut, metaCut), 0);

        // stacks whose records all expired can be written and read again
        await s.profilingData.writeProfilingData([
          rec({ scheduleId: 'old-s', stackIdList: '9', frames: STACK_C, count: 4, uploadTime: cut + 5 }),
          rec({ scheduleId: 'new-s', stackIdList: '9', frames: STACK_A, count: 6, uploadTime: cut + 5 }),
        ]);
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['old-s'], ALL, 'COUNT')), {
          [key(STACK_C)]: 4,
        });
        assert.deepEqual(asMap(await s.profilingData.queryProfilingStacks(['new-s'], ALL, 'COUNT')), {
          [key(STACK_B)]: 2,
          [key(STACK_A)]: 6,
        });
      }),
    );
  });

  describe('durability', () => {
    it(
      'keeps everything written before a close and reopen',
      run(async (s, h, t) => {
        if (!h.canReopen) {
          t.skip('the factory gives no reopen');
          return;
        }
        const svc = service('svc-a', { layers: ['GENERAL', 'K8S_SERVICE'] });
        const inst = instance(svc.id, 'i1');
        const proc = processRec('p1');
        const tk = task('t1');
        const sc: ScheduleRecord = { scheduleId: 's1', taskId: 't1', processId: 'p1', startTime: T0, endTime: T0 + 5 };
        const pol: ContinuousPolicyRecord = { serviceId: svc.id, uuid: 'u', configurationJson: '[]', updateTime: T0 };
        const tpl: UiTemplateRecord = {
          id: 'tpl',
          configuration: '{}',
          activated: true,
          disabled: false,
          updateTime: T0,
        };
        await s.metadata.upsertService(svc);
        await s.metadata.upsertInstance(inst);
        await s.metadata.upsertProcesses([proc]);
        await s.metadata.addServiceLabels(svc.id, ['web']);
        await s.tasks.saveTask(tk);
        await s.tasks.upsertSchedule(sc);
        await s.profilingData.writeProfilingData([
          rec({ scheduleId: 's1', stackIdList: '1', frames: STACK_A, count: 2, uploadTime: T0 }),
          rec({ scheduleId: 's1', stackIdList: '2', frames: STACK_B, count: 3, uploadTime: T0 + 1 }),
        ]);
        await s.policies.savePolicy(pol);
        await s.uiTemplates.saveUiTemplate(tpl);
        await s.meters.addMetricValues([
          mv({ summation: 4 }),
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 6 }),
        ]);

        const r = await h.reopen();
        assert.deepEqual(await r.metadata.getService(svc.id), svc);
        assert.deepEqual(await r.metadata.getInstance(inst.id), inst);
        assert.deepEqual(await r.metadata.getProcess('p1'), proc);
        assert.deepEqual(await r.metadata.listServiceLabels(svc.id), ['web']);
        assert.deepEqual(await r.tasks.getTaskRecords('t1'), [tk]);
        assert.deepEqual(await r.tasks.querySchedules('t1'), [sc]);
        assert.deepEqual(asMap(await r.profilingData.queryProfilingStacks(['s1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 2,
          [key(STACK_B)]: 3,
        });
        assert.deepEqual(await r.policies.getPolicies([svc.id]), [pol]);
        assert.deepEqual(await r.uiTemplates.getUiTemplate('tpl'), tpl);
        assert.deepEqual(await r.meters.queryMetricValues('m_single', 'e1', { start: M0, end: M0 }), [
          mv({ summation: 4 }),
        ]);
        assert.deepEqual(await r.meters.queryMetricValues('m_labeled', 'e1', { start: M0, end: M0 }), [
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 6 }),
        ]);

        // and the reopened storage keeps working: merging with what was stored before
        await r.profilingData.writeProfilingData([
          rec({ scheduleId: 's1', stackIdList: '3', frames: STACK_A, count: 5, uploadTime: T0 + 2 }),
        ]);
        assert.deepEqual(asMap(await r.profilingData.queryProfilingStacks(['s1'], ALL, 'COUNT')), {
          [key(STACK_A)]: 7,
          [key(STACK_B)]: 3,
        });
        await r.tasks.upsertSchedule({ ...sc, endTime: T0 + 1 });
        assert.equal((await r.tasks.querySchedules('t1'))[0]!.endTime, T0 + 5);
        await r.meters.addMetricValues([mv({ summation: 1 })]);
        assert.deepEqual(await r.meters.queryMetricValues('m_single', 'e1', { start: M0, end: M0 }), [
          mv({ summation: 5, count: 2 }),
        ]);
      }),
    );
  });
};
