/** Behaviour of MetadataStore: services, instances, processes and service labels. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ProcessFilter } from '../types';
import { T0, byId, ids, instance, processRec, service, sortStr, type Run } from './harness';

export const describeMetadataBehaviour = (run: Run): void => {
  describe('services', () => {
    it(
      'stores and returns a service',
      run(async (s) => {
        const svc = service('mesh::svc-a', { layers: ['MESH'] });
        await s.metadata.upsertService(svc);
        assert.deepEqual(await s.metadata.getService(svc.id), svc);
        assert.deepEqual(await s.metadata.listServices(), [svc]);
      }),
    );

    it(
      'merges an upsert: layers are the union, other fields take the new values',
      run(async (s) => {
        await s.metadata.upsertService(service('svc-a', { layers: ['GENERAL'], lastSeen: T0 }));
        await s.metadata.upsertService(
          service('svc-a', { layers: ['K8S_SERVICE', 'GENERAL'], normal: false, lastSeen: T0 + 10 }),
        );
        const got = await s.metadata.getService(service('svc-a').id);
        assert.ok(got);
        assert.deepEqual(sortStr(got.layers), ['GENERAL', 'K8S_SERVICE']);
        assert.equal(got.normal, false);
        assert.equal(got.lastSeen, T0 + 10);
        // a later report in one layer only does not drop the others
        await s.metadata.upsertService(service('svc-a', { layers: ['MESH'], lastSeen: T0 + 20 }));
        const again = await s.metadata.getService(service('svc-a').id);
        assert.deepEqual(sortStr(again!.layers), ['GENERAL', 'K8S_SERVICE', 'MESH']);
        assert.equal(again!.lastSeen, T0 + 20);
        assert.equal((await s.metadata.listServices()).length, 1);
        // a late, older report does not move lastSeen back
        await s.metadata.upsertService(service('svc-a', { layers: ['MESH'], lastSeen: T0 + 5 }));
        assert.equal((await s.metadata.getService(service('svc-a').id))!.lastSeen, T0 + 20);
      }),
    );

    it(
      'lists services by layer',
      run(async (s) => {
        await s.metadata.upsertService(service('a', { layers: ['GENERAL'] }));
        await s.metadata.upsertService(service('b', { layers: ['K8S_SERVICE', 'GENERAL'] }));
        await s.metadata.upsertService(service('c', { layers: ['K8S_SERVICE'] }));
        assert.deepEqual(ids(await s.metadata.listServices()), ids([service('a'), service('b'), service('c')]));
        assert.deepEqual(ids(await s.metadata.listServices('GENERAL')), ids([service('a'), service('b')]));
        assert.deepEqual(ids(await s.metadata.listServices('K8S_SERVICE')), ids([service('b'), service('c')]));
        assert.deepEqual(await s.metadata.listServices('MESH'), []);
      }),
    );

    it(
      'accumulates service labels without duplicates, per service',
      run(async (s) => {
        await s.metadata.addServiceLabels('a.1', ['web', 'db']);
        await s.metadata.addServiceLabels('a.1', ['db', 'cache']);
        await s.metadata.addServiceLabels('b.1', ['other']);
        await s.metadata.addServiceLabels('a.1', []);
        assert.deepEqual(sortStr(await s.metadata.listServiceLabels('a.1')), ['cache', 'db', 'web']);
        assert.deepEqual(await s.metadata.listServiceLabels('b.1'), ['other']);
      }),
    );
  });

  describe('instances', () => {
    it(
      'stores, replaces and lists instances of a service',
      run(async (s) => {
        const a = service('svc-a');
        const b = service('svc-b');
        const i1 = instance(a.id, 'i1', { lastSeen: T0 });
        const i2 = instance(a.id, 'i2', { lastSeen: T0 + 100 });
        const i3 = instance(b.id, 'i3');
        for (const i of [i1, i2, i3]) await s.metadata.upsertInstance(i);
        assert.deepEqual(await s.metadata.getInstance(i1.id), i1);
        assert.deepEqual(byId(await s.metadata.listInstances(a.id)), byId([i1, i2]));
        const updated = { ...i1, layer: 'K8S', attributes: [{ name: 'pod', value: 'p-1' }], lastSeen: T0 + 200 };
        await s.metadata.upsertInstance(updated);
        assert.deepEqual(await s.metadata.getInstance(i1.id), updated);
        assert.equal((await s.metadata.listInstances(a.id)).length, 2);
        // a late, older report does not move lastSeen back
        await s.metadata.upsertInstance({ ...updated, lastSeen: T0 + 150 });
        assert.equal((await s.metadata.getInstance(i1.id))!.lastSeen, T0 + 200);
      }),
    );

    it(
      'filters instances by seenSince (inclusive)',
      run(async (s) => {
        const a = service('svc-a');
        await s.metadata.upsertInstance(instance(a.id, 'old', { lastSeen: T0 }));
        await s.metadata.upsertInstance(instance(a.id, 'new', { lastSeen: T0 + 100 }));
        assert.deepEqual(
          (await s.metadata.listInstances(a.id, T0 + 100)).map((i) => i.name),
          ['new'],
        );
        assert.deepEqual(
          (await s.metadata.listInstances(a.id, T0 + 101)).map((i) => i.name),
          [],
        );
        assert.deepEqual(sortStr((await s.metadata.listInstances(a.id, T0)).map((i) => i.name)), ['new', 'old']);
      }),
    );
  });

  describe('processes', () => {
    it(
      'stores a batch and reads it back by id',
      run(async (s) => {
        const p1 = processRec('p1');
        const p2 = processRec('p2', { labels: [], properties: {}, detectType: 'KUBERNETES' });
        await s.metadata.upsertProcesses([p1, p2]);
        await s.metadata.upsertProcesses([]);
        assert.deepEqual(await s.metadata.getProcess('p1'), p1);
        assert.deepEqual(await s.metadata.getProcess('p2'), p2);
        assert.deepEqual(byId(await s.metadata.getProcesses(['p2', 'p1', 'unknown'])), [p1, p2]);
        assert.deepEqual(await s.metadata.getProcesses([]), []);
        assert.equal(await s.metadata.countProcesses({}), 2);
      }),
    );

    it(
      'merges an upsert: firstSeen keeps the oldest, every other field takes the new one',
      run(async (s) => {
        await s.metadata.upsertProcesses([processRec('p1', { firstSeen: T0 + 200, lastSeen: T0 + 200 })]);
        await s.metadata.upsertProcesses([processRec('p1', { firstSeen: T0 + 100, lastSeen: T0 + 300 })]);
        assert.equal((await s.metadata.getProcess('p1'))!.firstSeen, T0 + 100);
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
        await s.metadata.upsertProcesses([newer]);
        assert.deepEqual(await s.metadata.getProcess('p1'), { ...newer, firstSeen: T0 + 100 });
        assert.equal(await s.metadata.countProcesses({}), 1);
      }),
    );

    it(
      'filters by service, instance, agent, seenSince, seenUntil and profilingSupported',
      run(async (s) => {
        const procs = [
          processRec('p1', {
            serviceId: 'a.1',
            instanceId: 'a.1_i1',
            agentId: 'ag1',
            firstSeen: T0,
            lastSeen: T0 + 100,
          }),
          processRec('p2', {
            serviceId: 'a.1',
            instanceId: 'a.1_i2',
            agentId: 'ag1',
            firstSeen: T0 + 50,
            lastSeen: T0 + 200,
            profilingSupported: false,
          }),
          processRec('p3', {
            serviceId: 'b.1',
            instanceId: 'b.1_i1',
            agentId: 'ag2',
            firstSeen: T0 + 150,
            lastSeen: T0 + 300,
          }),
          processRec('p4', {
            serviceId: 'b.1',
            instanceId: 'b.1_i1',
            agentId: 'ag2',
            firstSeen: T0 + 400,
            lastSeen: T0 + 400,
          }),
        ];
        await s.metadata.upsertProcesses(procs);
        const check = async (filter: ProcessFilter, expected: string[]): Promise<void> => {
          const label = JSON.stringify(filter);
          assert.deepEqual(ids(await s.metadata.listProcesses(filter)), expected, label);
          assert.equal(await s.metadata.countProcesses(filter), expected.length, `count ${label}`);
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
      }),
    );
  });
};
