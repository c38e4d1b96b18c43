/**
 * The behaviour every `Storage` backend must pass. It uses nothing but the interface in
 * types.ts, so each backend's test file just calls:
 *
 *   describeStorageBehaviour('sqlite', async () => ({ storage, reopen, cleanup }));
 *
 * Factory contract:
 * - `storage`: a new backend over EMPTY data, on which init() has NOT been called yet (the suite
 *   calls it, once, first).
 * - `reopen` (optional): returns a new, not yet initialised `Storage` over the same data. The
 *   suite calls it only after it has closed the previous instance, then calls init() on it.
 *   Without `reopen`, the durability test is skipped.
 * - `cleanup`: called after the suite has closed every storage it got; removes the data.
 *
 * The factory is called once per test, so tests never see each other's data. Reads must see
 * every write whose promise has resolved (an Elasticsearch backend refreshes, or writes with
 * refresh=wait_for). Choices the suite pins where types.ts is terse: service and instance
 * lastSeen never go back; deleteExpired leaves service labels, policies and UI templates alone;
 * metric values of one minute come back in any order of their label sets.
 *
 * Where the contract leaves the order of a list open, tests sort before comparing.
 */
import { strict as assert } from 'node:assert';
import { describe, it, type TestContext } from 'node:test';
import type {
  AggregatedStack,
  ContinuousPolicyRecord,
  InstanceRecord,
  MetricValueRecord,
  ProcessRecord,
  ProfilingDataRecord,
  ScheduleRecord,
  ServiceRecord,
  StackFrame,
  Storage,
  TaskRecord,
  UiTemplateRecord,
} from './types';

export interface StorageFixture {
  storage: Storage;
  reopen?: () => Promise<Storage>;
  cleanup: () => Promise<void>;
}

interface Harness {
  /** Closes the current storage, reopens and initialises it; throws when the factory has no reopen. */
  reopen(): Promise<Storage>;
  canReopen: boolean;
}

const T0 = 1_700_000_000_000;
/** A range covering every record the tests write. */
const ALL = [{ start: 0, end: T0 * 2 }];

// ------------------------------------------------------------------ fixtures

function service(name: string, over: Partial<ServiceRecord> = {}): ServiceRecord {
  const id = Buffer.from(name).toString('base64') + '.1';
  const [group, shortName] = name.includes('::') ? (name.split('::') as [string, string]) : ['', name];
  return { id, name, shortName, group, normal: true, layers: ['GENERAL'], lastSeen: T0, ...over };
}

function instance(serviceId: string, name: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id: `${serviceId}_${Buffer.from(name).toString('base64')}`,
    serviceId,
    name,
    layer: 'GENERAL',
    attributes: [{ name: 'host', value: 'h1' }],
    lastSeen: T0,
    ...over,
  };
}

function processRec(id: string, over: Partial<ProcessRecord> = {}): ProcessRecord {
  return {
    id,
    name: `proc-${id}`,
    serviceId: 'c3ZjLWE=.1',
    serviceName: 'svc-a',
    instanceId: 'c3ZjLWE=.1_aW5zdC0x',
    instanceName: 'inst-1',
    layer: 'GENERAL',
    agentId: 'agent-1',
    detectType: 'VM',
    labels: ['web'],
    properties: { pid: '42', host_ip: '10.0.0.1', support_ebpf_profiling: 'true' },
    profilingSupported: true,
    firstSeen: T0,
    lastSeen: T0,
    ...over,
  };
}

function task(taskId: string, over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskId,
    serviceId: 'svc-1',
    instanceId: '',
    processLabels: [],
    startTime: T0,
    triggerType: 'FIXED_TIME',
    targetType: 'ON_CPU',
    fixedTriggerDuration: 60,
    createTime: T0,
    lastUpdateTime: T0,
    extensionConfigJson: '',
    continuousProfilingJson: '',
    ...over,
  };
}

const K = (symbol: string): StackFrame => ({ symbol, stackType: 'KERNEL_SPACE' });
const U = (symbol: string): StackFrame => ({ symbol, stackType: 'USER_SPACE' });
const STACK_A: StackFrame[] = [U('main'), U('run'), K('sys_read')];
const STACK_B: StackFrame[] = [U('main'), U('work'), K('schedule')];
const STACK_C: StackFrame[] = [U('main'), U('idle')];

function rec(over: Partial<ProfilingDataRecord> = {}): ProfilingDataRecord {
  return {
    scheduleId: 'sched-1',
    taskId: 'task-1',
    stackIdList: '1_2',
    targetType: 'ON_CPU',
    uploadTime: T0,
    frames: STACK_A,
    count: 1,
    duration: 0,
    ...over,
  };
}

const byId = <R extends { id: string }>(a: R[]): R[] => [...a].sort((x, y) => x.id.localeCompare(y.id));
const ids = (a: Array<{ id: string }>): string[] => a.map((x) => x.id).sort();
const sortStr = (a: string[]): string[] => [...a].sort();
const key = (frames: StackFrame[]): string => frames.map((f) => `${f.stackType}:${f.symbol}`).join('|');
/** Stacks as a comparable map frames-key → value (ignores order). */
const asMap = (stacks: AggregatedStack[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const s of stacks) {
    const k = key(s.frames);
    assert.ok(!(k in out), `frame list returned twice: ${k}`);
    out[k] = s.value;
  }
  return out;
};

/** A minute-aligned time near T0, and metric value fixtures. */
const M0 = Math.floor(T0 / 60_000) * 60_000;
const MIN = 60_000;
function mv(over: Partial<MetricValueRecord> = {}): MetricValueRecord {
  return { metric: 'm_single', entityId: 'e1', serviceId: 's.1', timeBucket: M0, labels: {}, summation: 10, count: 1, ...over };
}
/** Query answers in a comparable order: by time, then by label set. */
const sortedMv = (records: MetricValueRecord[]): MetricValueRecord[] =>
  [...records].sort((a, b) => a.timeBucket - b.timeBucket || JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));

// ------------------------------------------------------------------ suite

export function describeStorageBehaviour(name: string, factory: () => Promise<StorageFixture>): void {
  const run =
    (fn: (s: Storage, h: Harness, t: TestContext) => Promise<void>) =>
    async (t: TestContext): Promise<void> => {
      const fixture = await factory();
      let current = fixture.storage;
      let open = false;
      try {
        await current.init();
        open = true;
        const harness: Harness = {
          canReopen: typeof fixture.reopen === 'function',
          reopen: async () => {
            if (!fixture.reopen) throw new Error('factory gave no reopen');
            await current.close();
            open = false;
            current = await fixture.reopen();
            await current.init();
            open = true;
            return current;
          },
        };
        await fn(current, harness, t);
      } finally {
        if (open) await current.close();
        await fixture.cleanup();
      }
    };

  describe(`Storage behaviour: ${name}`, () => {
    describe('empty storage', () => {
      it('answers every query with nothing', run(async (s) => {
        assert.deepEqual(await s.listServices(), []);
        assert.equal(await s.getService('nope.1'), null);
        assert.deepEqual(await s.listInstances('nope.1'), []);
        assert.equal(await s.getInstance('nope'), null);
        assert.deepEqual(await s.listProcesses({}), []);
        assert.equal(await s.countProcesses({}), 0);
        assert.equal(await s.getProcess('nope'), null);
        assert.deepEqual(await s.getProcesses(['nope']), []);
        assert.deepEqual(await s.getProcesses([]), []);
        assert.deepEqual(await s.listServiceLabels('nope.1'), []);
        assert.deepEqual(await s.queryTasks({}), []);
        assert.deepEqual(await s.getTaskRecords('nope'), []);
        assert.deepEqual(await s.querySchedules('nope'), []);
        assert.deepEqual(await s.queryProfilingStacks(['nope'], [{ start: 0, end: T0 * 2 }], 'COUNT'), []);
        assert.deepEqual(await s.getPolicies(['nope.1']), []);
        assert.deepEqual(await s.getPolicies([]), []);
        assert.equal(await s.getUiTemplate('nope'), null);
        assert.deepEqual(await s.listUiTemplates(true), []);
        assert.deepEqual(await s.queryMetricValues('m_single', 'e1', { start: 0, end: T0 * 2 }), []);
        await s.addMetricValues([]);
        assert.equal(await s.deleteExpired(T0, T0), 0);
      }));
    });

    describe('services', () => {
      it('stores and returns a service', run(async (s) => {
        const svc = service('mesh::svc-a', { layers: ['MESH'] });
        await s.upsertService(svc);
        assert.deepEqual(await s.getService(svc.id), svc);
        assert.deepEqual(await s.listServices(), [svc]);
      }));

      it('merges an upsert: layers are the union, other fields take the new values', run(async (s) => {
        await s.upsertService(service('svc-a', { layers: ['GENERAL'], lastSeen: T0 }));
        await s.upsertService(service('svc-a', { layers: ['K8S_SERVICE', 'GENERAL'], normal: false, lastSeen: T0 + 10 }));
        const got = await s.getService(service('svc-a').id);
        assert.ok(got);
        assert.deepEqual(sortStr(got.layers), ['GENERAL', 'K8S_SERVICE']);
        assert.equal(got.normal, false);
        assert.equal(got.lastSeen, T0 + 10);
        // a later report in one layer only does not drop the others
        await s.upsertService(service('svc-a', { layers: ['MESH'], lastSeen: T0 + 20 }));
        const again = await s.getService(service('svc-a').id);
        assert.deepEqual(sortStr(again!.layers), ['GENERAL', 'K8S_SERVICE', 'MESH']);
        assert.equal(again!.lastSeen, T0 + 20);
        assert.equal((await s.listServices()).length, 1);
        // a late, older report does not move lastSeen back
        await s.upsertService(service('svc-a', { layers: ['MESH'], lastSeen: T0 + 5 }));
        assert.equal((await s.getService(service('svc-a').id))!.lastSeen, T0 + 20);
      }));

      it('lists services by layer', run(async (s) => {
        await s.upsertService(service('a', { layers: ['GENERAL'] }));
        await s.upsertService(service('b', { layers: ['K8S_SERVICE', 'GENERAL'] }));
        await s.upsertService(service('c', { layers: ['K8S_SERVICE'] }));
        assert.deepEqual(ids(await s.listServices()), ids([service('a'), service('b'), service('c')]));
        assert.deepEqual(ids(await s.listServices('GENERAL')), ids([service('a'), service('b')]));
        assert.deepEqual(ids(await s.listServices('K8S_SERVICE')), ids([service('b'), service('c')]));
        assert.deepEqual(await s.listServices('MESH'), []);
      }));

      it('accumulates service labels without duplicates, per service', run(async (s) => {
        await s.addServiceLabels('a.1', ['web', 'db']);
        await s.addServiceLabels('a.1', ['db', 'cache']);
        await s.addServiceLabels('b.1', ['other']);
        await s.addServiceLabels('a.1', []);
        assert.deepEqual(sortStr(await s.listServiceLabels('a.1')), ['cache', 'db', 'web']);
        assert.deepEqual(await s.listServiceLabels('b.1'), ['other']);
      }));
    });

    describe('instances', () => {
      it('stores, replaces and lists instances of a service', run(async (s) => {
        const a = service('svc-a');
        const b = service('svc-b');
        const i1 = instance(a.id, 'i1', { lastSeen: T0 });
        const i2 = instance(a.id, 'i2', { lastSeen: T0 + 100 });
        const i3 = instance(b.id, 'i3');
        for (const i of [i1, i2, i3]) await s.upsertInstance(i);
        assert.deepEqual(await s.getInstance(i1.id), i1);
        assert.deepEqual(byId(await s.listInstances(a.id)), byId([i1, i2]));
        const updated = { ...i1, layer: 'K8S', attributes: [{ name: 'pod', value: 'p-1' }], lastSeen: T0 + 200 };
        await s.upsertInstance(updated);
        assert.deepEqual(await s.getInstance(i1.id), updated);
        assert.equal((await s.listInstances(a.id)).length, 2);
        // a late, older report does not move lastSeen back
        await s.upsertInstance({ ...updated, lastSeen: T0 + 150 });
        assert.equal((await s.getInstance(i1.id))!.lastSeen, T0 + 200);
      }));

      it('filters instances by seenSince (inclusive)', run(async (s) => {
        const a = service('svc-a');
        await s.upsertInstance(instance(a.id, 'old', { lastSeen: T0 }));
        await s.upsertInstance(instance(a.id, 'new', { lastSeen: T0 + 100 }));
        assert.deepEqual((await s.listInstances(a.id, T0 + 100)).map((i) => i.name), ['new']);
        assert.deepEqual((await s.listInstances(a.id, T0 + 101)).map((i) => i.name), []);
        assert.deepEqual(sortStr((await s.listInstances(a.id, T0)).map((i) => i.name)), ['new', 'old']);
      }));
    });

    describe('processes', () => {
      it('stores a batch and reads it back by id', run(async (s) => {
        const p1 = processRec('p1');
        const p2 = processRec('p2', { labels: [], properties: {}, detectType: 'KUBERNETES' });
        await s.upsertProcesses([p1, p2]);
        await s.upsertProcesses([]);
        assert.deepEqual(await s.getProcess('p1'), p1);
        assert.deepEqual(await s.getProcess('p2'), p2);
        assert.deepEqual(byId(await s.getProcesses(['p2', 'p1', 'unknown'])), [p1, p2]);
        assert.deepEqual(await s.getProcesses([]), []);
        assert.equal(await s.countProcesses({}), 2);
      }));

      it('merges an upsert: firstSeen keeps the oldest, every other field takes the new one', run(async (s) => {
        await s.upsertProcesses([processRec('p1', { firstSeen: T0 + 200, lastSeen: T0 + 200 })]);
        await s.upsertProcesses([processRec('p1', { firstSeen: T0 + 100, lastSeen: T0 + 300 })]);
        assert.equal((await s.getProcess('p1'))!.firstSeen, T0 + 100);
        const newer = processRec('p1', {
          name: 'renamed',
          labels: ['api', 'v2'],
          properties: { pid: '43' },
          profilingSupported: false,
          agentId: 'agent-2',
          layer: 'K8S',
          detectType: 'KUBERNETES',
          firstSeen: T0 + 500,
          lastSeen: T0 + 600,
        });
        await s.upsertProcesses([newer]);
        assert.deepEqual(await s.getProcess('p1'), { ...newer, firstSeen: T0 + 100 });
        assert.equal(await s.countProcesses({}), 1);
      }));

      it('filters by service, instance, agent, seenSince, seenUntil and profilingSupported', run(async (s) => {
        const procs = [
          processRec('p1', { serviceId: 'a.1', instanceId: 'a.1_i1', agentId: 'ag1', firstSeen: T0, lastSeen: T0 + 100 }),
          processRec('p2', { serviceId: 'a.1', instanceId: 'a.1_i2', agentId: 'ag1', firstSeen: T0 + 50, lastSeen: T0 + 200, profilingSupported: false }),
          processRec('p3', { serviceId: 'b.1', instanceId: 'b.1_i1', agentId: 'ag2', firstSeen: T0 + 150, lastSeen: T0 + 300 }),
          processRec('p4', { serviceId: 'b.1', instanceId: 'b.1_i1', agentId: 'ag2', firstSeen: T0 + 400, lastSeen: T0 + 400 }),
        ];
        await s.upsertProcesses(procs);
        const check = async (filter: Parameters<Storage['listProcesses']>[0], expected: string[]): Promise<void> => {
          const label = JSON.stringify(filter);
          assert.deepEqual(ids(await s.listProcesses(filter)), expected, label);
          assert.equal(await s.countProcesses(filter), expected.length, `count ${label}`);
        };
        await check({}, ['p1', 'p2', 'p3', 'p4']);
        await check({ serviceId: 'a.1' }, ['p1', 'p2']);
        await check({ instanceId: 'b.1_i1' }, ['p3', 'p4']);
        await check({ agentId: 'ag1' }, ['p1', 'p2']);
        await check({ seenSince: T0 + 200 }, ['p2', 'p3', 'p4']);
        await check({ seenSince: T0 + 201 }, ['p3', 'p4']);
        await check({ seenUntil: T0 + 200 }, ['p1', 'p2']);
        await check({ seenUntil: T0 + 199 }, ['p1']);
        await check({ seenSince: T0 + 150, seenUntil: T0 + 300 }, ['p2', 'p3']);
        await check({ profilingSupported: true }, ['p1', 'p3', 'p4']);
        await check({ profilingSupported: false }, ['p2']);
        await check({ serviceId: 'a.1', profilingSupported: true }, ['p1']);
        await check({ serviceId: 'b.1', agentId: 'ag1' }, []);
      }));
    });

    describe('tasks', () => {
      it('stores every field of a task', run(async (s) => {
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
        await s.saveTask(t);
        assert.deepEqual(await s.getTaskRecords('t1'), [t]);
        assert.deepEqual(await s.queryTasks({}), [t]);
      }));

      it('keeps several records per taskId; the same (taskId, createTime) replaces', run(async (s) => {
        await s.saveTask(task('t1', { createTime: T0, lastUpdateTime: T0 }));
        await s.saveTask(task('t1', { createTime: T0 + 10, lastUpdateTime: T0 + 10 }));
        await s.saveTask(task('t2', { createTime: T0 + 5 }));
        const records = await s.getTaskRecords('t1');
        assert.deepEqual(records.map((r) => r.createTime).sort(), [T0, T0 + 10]);
        await s.saveTask(task('t1', { createTime: T0 + 10, lastUpdateTime: T0 + 99, fixedTriggerDuration: 120 }));
        const after = await s.getTaskRecords('t1');
        assert.equal(after.length, 2);
        const replaced = after.find((r) => r.createTime === T0 + 10)!;
        assert.equal(replaced.lastUpdateTime, T0 + 99);
        assert.equal(replaced.fixedTriggerDuration, 120);
      }));

      it('queries newest createTime first', run(async (s) => {
        await s.saveTask(task('t1', { createTime: T0 + 10 }));
        await s.saveTask(task('t2', { createTime: T0 + 30 }));
        await s.saveTask(task('t3', { createTime: T0 + 20 }));
        await s.saveTask(task('t1', { createTime: T0 + 40 }));
        assert.deepEqual(
          (await s.queryTasks({})).map((t) => [t.taskId, t.createTime - T0]),
          [['t1', 40], ['t2', 30], ['t3', 20], ['t1', 10]],
        );
      }));

      it('filters by service(s), instance, target types, trigger type, start time bounds and updatedAfter', run(async (s) => {
        const all = [
          task('t1', { serviceId: 'a.1', targetType: 'ON_CPU', startTime: T0 + 100, lastUpdateTime: T0 + 100, createTime: T0 + 1 }),
          task('t2', { serviceId: 'a.1', targetType: 'OFF_CPU', startTime: T0 + 200, lastUpdateTime: T0 + 200, createTime: T0 + 2 }),
          task('t3', { serviceId: 'b.1', targetType: 'NETWORK', instanceId: 'b.1_i1', startTime: T0 + 300, lastUpdateTime: T0 + 300, createTime: T0 + 3 }),
          task('t4', { serviceId: 'c.1', targetType: 'ON_CPU', triggerType: 'CONTINUOUS_PROFILING', startTime: T0 + 400, lastUpdateTime: T0 + 400, createTime: T0 + 4 }),
        ];
        for (const t of all) await s.saveTask(t);
        const check = async (filter: Parameters<Storage['queryTasks']>[0], expected: string[]): Promise<void> => {
          assert.deepEqual((await s.queryTasks(filter)).map((t) => t.taskId).sort(), expected, JSON.stringify(filter));
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
      }));
    });

    describe('schedules', () => {
      it('inserts, and only ever extends endTime', run(async (s) => {
        const sc: ScheduleRecord = { scheduleId: 's1', taskId: 't1', processId: 'p1', startTime: T0, endTime: T0 + 5_000 };
        await s.upsertSchedule(sc);
        await s.upsertSchedule({ scheduleId: 's2', taskId: 't1', processId: 'p2', startTime: T0 + 1, endTime: T0 + 1 });
        await s.upsertSchedule({ scheduleId: 's3', taskId: 't2', processId: 'p1', startTime: T0, endTime: T0 });
        assert.deepEqual(
          [...(await s.querySchedules('t1'))].sort((a, b) => a.scheduleId.localeCompare(b.scheduleId)),
          [sc, { scheduleId: 's2', taskId: 't1', processId: 'p2', startTime: T0 + 1, endTime: T0 + 1 }],
        );
        await s.upsertSchedule({ ...sc, endTime: T0 + 10_000 });
        assert.equal((await s.querySchedules('t1')).find((x) => x.scheduleId === 's1')!.endTime, T0 + 10_000);
        await s.upsertSchedule({ ...sc, endTime: T0 + 7_000 });
        const got = (await s.querySchedules('t1')).find((x) => x.scheduleId === 's1')!;
        assert.deepEqual(got, { ...sc, endTime: T0 + 10_000 });
        assert.equal((await s.querySchedules('t1')).length, 2);
        assert.deepEqual((await s.querySchedules('t2')).map((x) => x.scheduleId), ['s3']);
      }));
    });

    describe('profiling data', () => {
      it('writes records and aggregates them per distinct frame list', run(async (s) => {
        await s.writeProfilingData([
          rec({ stackIdList: '1', frames: STACK_A, count: 3, uploadTime: T0 }),
          rec({ stackIdList: '2', frames: STACK_B, count: 5, uploadTime: T0 }),
          rec({ stackIdList: '1', frames: STACK_A, count: 4, uploadTime: T0 + 5_000 }),
        ]);
        await s.writeProfilingData([]);
        const got = await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT');
        assert.deepEqual(asMap(got), { [key(STACK_A)]: 7, [key(STACK_B)]: 5 });
        const a = got.find((x) => key(x.frames) === key(STACK_A))!;
        assert.deepEqual(a.frames, STACK_A, 'frames come back exactly, root first');
      }));

      it('keeps frames exactly: odd symbols, order, and stackType distinguish stacks', run(async (s) => {
        const odd = [U('ns::f<std::string, "q">(char const*)'), U('λ → ünïcode'), U(''), K('do_syscall_64')];
        const sameSymbolsOtherTypes = [K('main'), K('run'), K('sys_read')];
        const reversed = [...STACK_A].reverse();
        await s.writeProfilingData([
          rec({ stackIdList: '1', frames: odd }),
          rec({ stackIdList: '2', frames: sameSymbolsOtherTypes }),
          rec({ stackIdList: '3', frames: STACK_A }),
          rec({ stackIdList: '4', frames: reversed }),
          rec({ stackIdList: '5', frames: [] }),
        ]);
        const got = asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT'));
        assert.deepEqual(got, {
          [key(odd)]: 1,
          [key(sameSymbolsOtherTypes)]: 1,
          [key(STACK_A)]: 1,
          [key(reversed)]: 1,
          [key([])]: 1,
        });
        const oddBack = (await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')).find((x) => key(x.frames) === key(odd));
        assert.deepEqual(oddBack!.frames, odd);
      }));

      it('COUNT sums counts; DURATION sums durations, except ON_CPU records which use count', run(async (s) => {
        await s.writeProfilingData([
          rec({ scheduleId: 'off', targetType: 'OFF_CPU', stackIdList: '1', frames: STACK_A, count: 2, duration: 1_000, uploadTime: T0 }),
          rec({ scheduleId: 'off', targetType: 'OFF_CPU', stackIdList: '1', frames: STACK_A, count: 3, duration: 5_000, uploadTime: T0 + 1 }),
          rec({ scheduleId: 'off', targetType: 'OFF_CPU', stackIdList: '2', frames: STACK_B, count: 1, duration: 700, uploadTime: T0 }),
          rec({ scheduleId: 'on', targetType: 'ON_CPU', stackIdList: '1', frames: STACK_A, count: 9, duration: 0, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['off'], ALL, 'COUNT')), { [key(STACK_A)]: 5, [key(STACK_B)]: 1 });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['off'], ALL, 'DURATION')), {
          [key(STACK_A)]: 6_000,
          [key(STACK_B)]: 700,
        });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['on'], ALL, 'COUNT')), { [key(STACK_A)]: 9 });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['on'], ALL, 'DURATION')), { [key(STACK_A)]: 9 });
      }));

      it('counts records identical in (uploadTime, value, frames) once', run(async (s) => {
        await s.writeProfilingData([
          // same uploadTime, value and frames, different stackIdList: one
          rec({ stackIdList: '1_2', frames: STACK_A, count: 4, uploadTime: T0 }),
          rec({ stackIdList: '3_4', frames: STACK_A, count: 4, uploadTime: T0 }),
          // same frames and value at another time: counts
          rec({ stackIdList: '1_2', frames: STACK_A, count: 4, uploadTime: T0 + 1 }),
          // same frames and time, another value: counts
          rec({ stackIdList: '5_6', frames: STACK_A, count: 5, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), { [key(STACK_A)]: 13 });
      }));

      it('dedupes on the aggregated value: records equal in duration but not in count are one for DURATION', run(async (s) => {
        await s.writeProfilingData([
          rec({ targetType: 'OFF_CPU', stackIdList: '1', count: 1, duration: 100, uploadTime: T0 }),
          rec({ targetType: 'OFF_CPU', stackIdList: '2', count: 2, duration: 100, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), { [key(STACK_A)]: 3 });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'DURATION')), { [key(STACK_A)]: 100 });
      }));

      it('takes ranges as inclusive, several of them, and counts a record in overlapping ranges once', run(async (s) => {
        const batch: ProfilingDataRecord[] = [];
        for (let i = 0; i <= 10; i++) batch.push(rec({ uploadTime: T0 + i * 1000, count: 1 << i, frames: STACK_A }));
        await s.writeProfilingData(batch);
        const sum = async (ranges: Array<{ start: number; end: number }>): Promise<number> => {
          const got = await s.queryProfilingStacks(['sched-1'], ranges, 'COUNT');
          assert.ok(got.length <= 1);
          return got[0]?.value ?? 0;
        };
        assert.equal(await sum([{ start: T0 + 2000, end: T0 + 4000 }]), 4 + 8 + 16);
        assert.equal(await sum([{ start: T0 + 2001, end: T0 + 3999 }]), 8);
        assert.equal(await sum([{ start: T0 + 2000, end: T0 + 2000 }]), 4);
        assert.equal(await sum([{ start: T0, end: T0 + 1000 }, { start: T0 + 9000, end: T0 + 20_000 }]), 1 + 2 + 512 + 1024);
        assert.equal(await sum([{ start: T0 + 1000, end: T0 + 3000 }, { start: T0 + 2000, end: T0 + 4000 }]), 2 + 4 + 8 + 16);
        assert.equal(await sum([{ start: T0 + 3000, end: T0 + 3000 }, { start: T0 + 3000, end: T0 + 3000 }]), 8);
        assert.equal(await sum([{ start: T0 + 11_000, end: T0 + 12_000 }]), 0);
        assert.equal(await sum([]), 0);
      }));

      it('includes only the asked schedules; identical records across them count once', run(async (s) => {
        await s.writeProfilingData([
          rec({ scheduleId: 's1', frames: STACK_A, count: 1, uploadTime: T0 }),
          rec({ scheduleId: 's2', frames: STACK_A, count: 10, uploadTime: T0 }),
          rec({ scheduleId: 's3', frames: STACK_A, count: 100, uploadTime: T0 }),
          rec({ scheduleId: 's3', stackIdList: '7_8', frames: STACK_B, count: 1000, uploadTime: T0 }),
          // identical in (uploadTime, value, frames) to the s1 record
          rec({ scheduleId: 's4', taskId: 'task-2', frames: STACK_A, count: 1, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['s1'], ALL, 'COUNT')), { [key(STACK_A)]: 1 });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['s1', 's2'], ALL, 'COUNT')), { [key(STACK_A)]: 11 });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['s2', 's3', 'unknown'], ALL, 'COUNT')), {
          [key(STACK_A)]: 110,
          [key(STACK_B)]: 1000,
        });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['s1', 's4'], ALL, 'COUNT')), { [key(STACK_A)]: 1 });
        assert.deepEqual(await s.queryProfilingStacks(['unknown'], ALL, 'COUNT'), []);
        assert.deepEqual(await s.queryProfilingStacks([], ALL, 'COUNT'), []);
      }));

      it('orders stacks by first appearance', run(async (s) => {
        await s.writeProfilingData([
          rec({ stackIdList: 'c', frames: STACK_C, uploadTime: T0 + 3000 }),
          rec({ stackIdList: 'a', frames: STACK_A, uploadTime: T0 + 2000 }),
          rec({ stackIdList: 'b', frames: STACK_B, uploadTime: T0 + 1000 }),
          rec({ stackIdList: 'a', frames: STACK_A, uploadTime: T0 + 500 }),
        ]);
        const got = await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT');
        assert.deepEqual(got.map((x) => key(x.frames)), [key(STACK_A), key(STACK_B), key(STACK_C)]);
        const later = await s.queryProfilingStacks(['sched-1'], [{ start: T0 + 600, end: T0 + 5000 }], 'COUNT');
        assert.deepEqual(later.map((x) => key(x.frames)), [key(STACK_B), key(STACK_A), key(STACK_C)]);
      }));

      it('replaces a record with the same (scheduleId, stackIdList, uploadTime); rewriting a batch is idempotent', run(async (s) => {
        const batch = [
          rec({ stackIdList: '1', frames: STACK_A, count: 3, uploadTime: T0 }),
          rec({ stackIdList: '2', frames: STACK_B, count: 5, uploadTime: T0 }),
        ];
        await s.writeProfilingData(batch);
        await s.writeProfilingData(batch);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), { [key(STACK_A)]: 3, [key(STACK_B)]: 5 });
        // same key, new content: replaces (here even the frames change)
        await s.writeProfilingData([rec({ stackIdList: '1', frames: STACK_C, count: 7, uploadTime: T0 })]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), { [key(STACK_C)]: 7, [key(STACK_B)]: 5 });
        // the same stackIdList at another time or in another schedule is another record
        await s.writeProfilingData([
          rec({ stackIdList: '1', frames: STACK_C, count: 1, uploadTime: T0 + 1 }),
          rec({ scheduleId: 'sched-2', stackIdList: '1', frames: STACK_C, count: 100, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), { [key(STACK_C)]: 8, [key(STACK_B)]: 5 });
        // a duplicate key inside one batch: the later record wins
        await s.writeProfilingData([
          rec({ scheduleId: 'sched-3', stackIdList: 'x', count: 1, uploadTime: T0 }),
          rec({ scheduleId: 'sched-3', stackIdList: 'x', count: 2, uploadTime: T0 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-3'], ALL, 'COUNT')), { [key(STACK_A)]: 2 });
      }));

      it('writes a batch atomically: an invalid record rejects the batch and nothing of it is stored', run(async (s) => {
        await s.writeProfilingData([rec({ stackIdList: 'before', count: 1, uploadTime: T0 })]);
        const bad = rec({ stackIdList: 'bad', uploadTime: T0 + 2 });
        (bad as unknown as { frames: unknown }).frames = 'not an array';
        await assert.rejects(
          s.writeProfilingData([
            rec({ stackIdList: 'ok-1', count: 10, uploadTime: T0 + 1 }),
            rec({ scheduleId: 'sched-new', stackIdList: 'ok-2', frames: [U('brand-new-frame')], count: 10, uploadTime: T0 + 1 }),
            bad,
            rec({ stackIdList: 'ok-3', count: 10, uploadTime: T0 + 3 }),
          ]),
        );
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-1'], ALL, 'COUNT')), { [key(STACK_A)]: 1 });
        assert.deepEqual(await s.queryProfilingStacks(['sched-new'], ALL, 'COUNT'), []);
        // the storage is still usable, including for the frames of the rejected batch
        await s.writeProfilingData([rec({ scheduleId: 'sched-new', stackIdList: 'ok-2', frames: [U('brand-new-frame')], count: 10, uploadTime: T0 + 1 })]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['sched-new'], ALL, 'COUNT')), { [key([U('brand-new-frame')])]: 10 });
      }));

      it('handles many schedules, records and distinct stacks in one query', run(async (s) => {
        const batch: ProfilingDataRecord[] = [];
        const expected: Record<string, number> = {};
        for (let i = 0; i < 3000; i++) {
          const frames = [U('main'), U(`fn-${i % 150}`), K(`k-${i % 7}`)];
          const count = (i % 5) + 1;
          batch.push(rec({ scheduleId: `s-${i % 40}`, stackIdList: `${i}`, frames, count, uploadTime: T0 + i }));
          expected[key(frames)] = (expected[key(frames)] ?? 0) + count;
        }
        await s.writeProfilingData(batch);
        const schedules = Array.from({ length: 40 }, (_, i) => `s-${i}`);
        const got = await s.queryProfilingStacks(schedules, ALL, 'COUNT');
        assert.equal(Object.keys(expected).length, 1050);
        assert.equal(got.length, 1050);
        assert.deepEqual(asMap(got), expected);
      }));
    });

    describe('continuous profiling policies', () => {
      it('saves, replaces and reads policies by service', run(async (s) => {
        const p1: ContinuousPolicyRecord = { serviceId: 'a.1', uuid: 'u1', configurationJson: '[{"type":"ON_CPU"}]', updateTime: T0 };
        const p2: ContinuousPolicyRecord = { serviceId: 'b.1', uuid: 'u2', configurationJson: '[]', updateTime: T0 };
        await s.savePolicy(p1);
        await s.savePolicy(p2);
        assert.deepEqual(await s.getPolicies(['a.1']), [p1]);
        const p1b = { ...p1, uuid: 'u3', configurationJson: '[{"type":"OFF_CPU"}]', updateTime: T0 + 1 };
        await s.savePolicy(p1b);
        const both = [...(await s.getPolicies(['b.1', 'a.1', 'c.1']))].sort((x, y) => x.serviceId.localeCompare(y.serviceId));
        assert.deepEqual(both, [p1b, p2]);
        assert.deepEqual(await s.getPolicies([]), []);
      }));
    });

    describe('UI templates', () => {
      it('saves, replaces, gets and lists templates with or without disabled ones', run(async (s) => {
        const t1: UiTemplateRecord = { id: 'tpl-1', configuration: '{"name":"a"}', activated: true, disabled: false, updateTime: T0 };
        const t2: UiTemplateRecord = { id: 'tpl-2', configuration: '{"name":"b"}', activated: false, disabled: true, updateTime: T0 };
        await s.saveUiTemplate(t1);
        await s.saveUiTemplate(t2);
        assert.deepEqual(await s.getUiTemplate('tpl-1'), t1);
        assert.deepEqual(await s.getUiTemplate('tpl-2'), t2);
        assert.deepEqual(byId(await s.listUiTemplates(true)), [t1, t2]);
        assert.deepEqual(await s.listUiTemplates(false), [t1]);
        const t1b = { ...t1, configuration: '{"name":"a2"}', disabled: true, activated: false, updateTime: T0 + 1 };
        await s.saveUiTemplate(t1b);
        assert.deepEqual(await s.getUiTemplate('tpl-1'), t1b);
        assert.deepEqual(await s.listUiTemplates(false), []);
        assert.equal((await s.listUiTemplates(true)).length, 2);
      }));
    });

    describe('metric values', () => {
      it('adds sums and counts per metric, entity, minute and label set', run(async (s) => {
        await s.addMetricValues([
          mv({ summation: 10 }),
          mv({ summation: 5, count: 2 }), // same key in one batch: adds up
          mv({ timeBucket: M0 + MIN, summation: 7 }),
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 3 }),
          mv({ metric: 'm_labeled', labels: { uri: '/b' }, summation: 4 }),
        ]);
        await s.addMetricValues([mv({ summation: 1, serviceId: 's2.1' }), mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 30 })]);
        assert.deepEqual(sortedMv(await s.queryMetricValues('m_single', 'e1', { start: M0, end: M0 + MIN })), [
          mv({ summation: 16, count: 4, serviceId: 's2.1' }),
          mv({ timeBucket: M0 + MIN, summation: 7 }),
        ]);
        assert.deepEqual(sortedMv(await s.queryMetricValues('m_labeled', 'e1', { start: 0, end: T0 * 2 })), [
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 33, count: 2 }),
          mv({ metric: 'm_labeled', labels: { uri: '/b' }, summation: 4 }),
        ]);
      }));

      it('keeps label sets apart whatever their names and values hold', run(async (s) => {
        const sets: Array<Record<string, string>> = [{ uri: '/a,b' }, { uri: '/a|b=c' }, { uri: '{uri=/a}' }, { uri: '' }, { uri: 'ünï/😀' }, { a: '1', uri: '/a' }, { uri: '/a', a: '1' }];
        await s.addMetricValues(sets.map((labels, i) => mv({ metric: 'm_labeled', labels, summation: i + 1 })));
        const got = await s.queryMetricValues('m_labeled', 'e1', { start: M0, end: M0 });
        const byLabels = Object.fromEntries(got.map((r) => [JSON.stringify(Object.entries(r.labels).sort()), [r.summation, r.count]]));
        assert.deepEqual(byLabels, {
          [JSON.stringify([['uri', '/a,b']])]: [1, 1],
          [JSON.stringify([['uri', '/a|b=c']])]: [2, 1],
          [JSON.stringify([['uri', '{uri=/a}']])]: [3, 1],
          [JSON.stringify([['uri', '']])]: [4, 1],
          [JSON.stringify([['uri', 'ünï/😀']])]: [5, 1],
          // the order of the names does not make another set
          [JSON.stringify([['a', '1'], ['uri', '/a']])]: [13, 2],
        });
      }));

      it('reads one metric and entity within the range, bounds included, in time order', run(async (s) => {
        await s.addMetricValues([
          mv({ timeBucket: M0 - MIN }),
          mv({ timeBucket: M0 + 2 * MIN, summation: 3 }),
          mv({ timeBucket: M0, summation: 1 }),
          mv({ timeBucket: M0 + 3 * MIN }),
          mv({ entityId: 'e2' }),
          mv({ metric: 'm_other' }),
        ]);
        const got = await s.queryMetricValues('m_single', 'e1', { start: M0, end: M0 + 2 * MIN });
        assert.deepEqual(got.map((r) => [r.timeBucket, r.summation]), [[M0, 1], [M0 + 2 * MIN, 3]]);
        // a range inside one minute does not hold that minute's start
        assert.deepEqual(await s.queryMetricValues('m_single', 'e1', { start: M0 + 1, end: M0 + MIN - 1 }), []);
        assert.deepEqual(await s.queryMetricValues('m_single', 'e3', { start: 0, end: T0 * 2 }), []);
      }));

      it('refuses a batch with an invalid record and writes none of it', run(async (s) => {
        await s.addMetricValues([mv()]);
        const bad: Array<Partial<MetricValueRecord>> = [
          { count: 0 },
          { summation: -1 },
          { summation: 1.5 },
          { timeBucket: M0 + 1 },
          { metric: '' },
          { entityId: '' },
          { summation: Number.MAX_SAFE_INTEGER + 2 },
        ];
        for (const over of bad) {
          await assert.rejects(s.addMetricValues([mv({ summation: 100 }), mv({ timeBucket: M0 + MIN }), mv(over)]), JSON.stringify(over));
        }
        assert.deepEqual(await s.queryMetricValues('m_single', 'e1', { start: 0, end: T0 * 2 }), [mv()]);
      }));

      it('loses no addition when writers race on one minute', run(async (s) => {
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            s.addMetricValues([mv({ summation: i + 1 }), mv({ metric: 'm_labeled', labels: { uri: `/u${i % 3}` }, summation: 1 })]),
          ),
        );
        assert.deepEqual(await s.queryMetricValues('m_single', 'e1', { start: M0, end: M0 }), [mv({ summation: 78, count: 12 })]);
        const labeled = await s.queryMetricValues('m_labeled', 'e1', { start: M0, end: M0 });
        assert.deepEqual(labeled.map((r) => [r.labels.uri, r.summation, r.count]).sort(), [['/u0', 4, 4], ['/u1', 4, 4], ['/u2', 4, 4]]);
      }));

      it('expires values of minutes before the metrics cut, whole old days included', run(async (s) => {
        const DAY = 86_400_000;
        await s.addMetricValues([
          mv({ timeBucket: M0 - 3 * DAY }),
          mv({ timeBucket: M0 - 3 * DAY, metric: 'm_labeled', labels: { uri: '/a' } }),
          mv({ timeBucket: M0 - MIN }),
          mv({ timeBucket: M0 }),
          mv({ timeBucket: M0 + MIN }),
        ]);
        const n = await s.deleteExpired(0, M0);
        assert.ok(n >= 3, `deleteExpired returned ${n}`);
        assert.deepEqual((await s.queryMetricValues('m_single', 'e1', { start: 0, end: T0 * 2 })).map((r) => r.timeBucket), [M0, M0 + MIN]);
        assert.deepEqual(await s.queryMetricValues('m_labeled', 'e1', { start: 0, end: T0 * 2 }), []);
        assert.equal(await s.deleteExpired(0, M0), 0);
        // a minute that expired can be written again
        await s.addMetricValues([mv({ timeBucket: M0 - MIN, summation: 2 })]);
        assert.equal((await s.queryMetricValues('m_single', 'e1', { start: M0 - MIN, end: M0 - MIN }))[0]?.summation, 2);
      }));
    });

    describe('deleteExpired', () => {
      it('deletes old records and unseen metadata, keeps the rest, and reports the count', run(async (s) => {
        const cut = T0 + 10_000;
        const metaCut = T0 + 50_000;
        await s.upsertService(service('old-svc', { lastSeen: metaCut - 1 }));
        await s.upsertService(service('new-svc', { lastSeen: metaCut }));
        await s.upsertInstance(instance('x.1', 'old-inst', { lastSeen: metaCut - 1 }));
        await s.upsertInstance(instance('x.1', 'new-inst', { lastSeen: metaCut + 1 }));
        await s.upsertProcesses([
          processRec('old-p', { firstSeen: T0, lastSeen: metaCut - 1 }),
          processRec('new-p', { firstSeen: T0, lastSeen: metaCut }),
        ]);
        await s.saveTask(task('old-t', { createTime: cut - 1 }));
        await s.saveTask(task('new-t', { createTime: cut }));
        await s.upsertSchedule({ scheduleId: 'old-s', taskId: 'old-t', processId: 'p', startTime: T0, endTime: cut - 1 });
        await s.upsertSchedule({ scheduleId: 'new-s', taskId: 'new-t', processId: 'p', startTime: T0, endTime: cut + 1 });
        await s.writeProfilingData([
          rec({ scheduleId: 'old-s', stackIdList: '1', frames: STACK_A, count: 1, uploadTime: cut - 1 }),
          rec({ scheduleId: 'old-s', stackIdList: '2', frames: STACK_C, count: 1, uploadTime: cut - 2 }),
          rec({ scheduleId: 'new-s', stackIdList: '1', frames: STACK_A, count: 1, uploadTime: cut - 1 }),
          rec({ scheduleId: 'new-s', stackIdList: '1', frames: STACK_B, count: 2, uploadTime: cut }),
        ]);
        await s.savePolicy({ serviceId: service('old-svc').id, uuid: 'u', configurationJson: '[]', updateTime: T0 });
        await s.saveUiTemplate({ id: 'tpl', configuration: '{}', activated: true, disabled: false, updateTime: T0 });

        const n = await s.deleteExpired(cut, metaCut);
        // 3 data records, 1 schedule, 1 task record, 1 process, 1 instance, 1 service;
        // a backend may also count internal rows/documents it removed.
        assert.ok(n >= 8, `deleteExpired returned ${n}`);
        assert.deepEqual(ids(await s.listServices()), [service('new-svc').id]);
        assert.deepEqual((await s.listInstances('x.1')).map((i) => i.name), ['new-inst']);
        assert.deepEqual(ids(await s.listProcesses({})), ['new-p']);
        assert.deepEqual((await s.queryTasks({})).map((t) => t.taskId), ['new-t']);
        assert.deepEqual(await s.querySchedules('old-t'), []);
        assert.equal((await s.querySchedules('new-t')).length, 1);
        assert.deepEqual(await s.queryProfilingStacks(['old-s'], ALL, 'COUNT'), []);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['new-s'], ALL, 'COUNT')), { [key(STACK_B)]: 2 });
        // policies and templates are configuration, not expired data
        assert.equal((await s.getPolicies([service('old-svc').id])).length, 1);
        assert.ok(await s.getUiTemplate('tpl'));
        assert.equal(await s.deleteExpired(cut, metaCut), 0);

        // stacks whose records all expired can be written and read again
        await s.writeProfilingData([
          rec({ scheduleId: 'old-s', stackIdList: '9', frames: STACK_C, count: 4, uploadTime: cut + 5 }),
          rec({ scheduleId: 'new-s', stackIdList: '9', frames: STACK_A, count: 6, uploadTime: cut + 5 }),
        ]);
        assert.deepEqual(asMap(await s.queryProfilingStacks(['old-s'], ALL, 'COUNT')), { [key(STACK_C)]: 4 });
        assert.deepEqual(asMap(await s.queryProfilingStacks(['new-s'], ALL, 'COUNT')), { [key(STACK_B)]: 2, [key(STACK_A)]: 6 });
      }));
    });

    describe('durability', () => {
      it('keeps everything written before a close and reopen', run(async (s, h, t) => {
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
        const tpl: UiTemplateRecord = { id: 'tpl', configuration: '{}', activated: true, disabled: false, updateTime: T0 };
        await s.upsertService(svc);
        await s.upsertInstance(inst);
        await s.upsertProcesses([proc]);
        await s.addServiceLabels(svc.id, ['web']);
        await s.saveTask(tk);
        await s.upsertSchedule(sc);
        await s.writeProfilingData([
          rec({ scheduleId: 's1', stackIdList: '1', frames: STACK_A, count: 2, uploadTime: T0 }),
          rec({ scheduleId: 's1', stackIdList: '2', frames: STACK_B, count: 3, uploadTime: T0 + 1 }),
        ]);
        await s.savePolicy(pol);
        await s.saveUiTemplate(tpl);
        await s.addMetricValues([mv({ summation: 4 }), mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 6 })]);

        const r = await h.reopen();
        assert.deepEqual(await r.getService(svc.id), svc);
        assert.deepEqual(await r.getInstance(inst.id), inst);
        assert.deepEqual(await r.getProcess('p1'), proc);
        assert.deepEqual(await r.listServiceLabels(svc.id), ['web']);
        assert.deepEqual(await r.getTaskRecords('t1'), [tk]);
        assert.deepEqual(await r.querySchedules('t1'), [sc]);
        assert.deepEqual(asMap(await r.queryProfilingStacks(['s1'], ALL, 'COUNT')), { [key(STACK_A)]: 2, [key(STACK_B)]: 3 });
        assert.deepEqual(await r.getPolicies([svc.id]), [pol]);
        assert.deepEqual(await r.getUiTemplate('tpl'), tpl);
        assert.deepEqual(await r.queryMetricValues('m_single', 'e1', { start: M0, end: M0 }), [mv({ summation: 4 })]);
        assert.deepEqual(await r.queryMetricValues('m_labeled', 'e1', { start: M0, end: M0 }), [mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 6 })]);

        // and the reopened storage keeps working: merging with what was stored before
        await r.writeProfilingData([rec({ scheduleId: 's1', stackIdList: '3', frames: STACK_A, count: 5, uploadTime: T0 + 2 })]);
        assert.deepEqual(asMap(await r.queryProfilingStacks(['s1'], ALL, 'COUNT')), { [key(STACK_A)]: 7, [key(STACK_B)]: 3 });
        await r.upsertSchedule({ ...sc, endTime: T0 + 1 });
        assert.equal((await r.querySchedules('t1'))[0]!.endTime, T0 + 5);
        await r.addMetricValues([mv({ summation: 1 })]);
        assert.deepEqual(await r.queryMetricValues('m_single', 'e1', { start: M0, end: M0 }), [mv({ summation: 5, count: 2 })]);
      }));
    });
  });
}
