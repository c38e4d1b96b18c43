import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MetadataService } from './metadata-service';
import { NetworkTaskService } from './network-task-service';
import { ProfilingService } from './profiling-service';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';

let dir: string;
let storage: SqliteStorage;
let clock = 1_700_000_000_000;
let network: NetworkTaskService;
let instanceId = '';

const rule = {
  when4xx: true,
  when5xx: true,
  settings: { requireCompleteRequest: true, requireCompleteResponse: false },
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oap-lite-network-'));
  storage = new SqliteStorage({ dataDir: dir });
  await storage.init();
  network = new NetworkTaskService(storage, () => clock);
  const [p] = await new MetadataService(storage, () => clock).reportProcesses('rover-1', [
    {
      entity: {
        layer: 'K8S_SERVICE',
        serviceName: 'ns::shop',
        instanceName: 'pod-1',
        processName: 'envoy',
        labels: [],
      },
      detectType: 'KUBERNETES',
      pid: 7,
      properties: { support_ebpf_profiling: 'true' },
    },
  ]);
  instanceId = (await storage.metadata.getProcess(p!.processId))!.instanceId;
});
after(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

test('refuses what the OAP refuses, with its wording', async () => {
  assert.equal((await network.create({ instanceId: '' })).errorReason, 'instance could not be empty');
  assert.equal(
    (await network.create({ instanceId: 'bm8=.1_eA==' })).errorReason,
    "The instance doesn't have processes.",
  );
  const twice = await network.create({ instanceId, samplings: [rule, rule] });
  assert.equal(twice.errorReason, 'already contains the default sampling config');
  const neither = { ...rule, settings: { requireCompleteRequest: false, requireCompleteResponse: false } };
  assert.equal(
    (await network.create({ instanceId, samplings: [neither] })).errorReason,
    'please collect at least one of request or response',
  );
  assert.equal((await network.keepAlive('no-such-task')).errorReason, 'profiling task not exists');
});

test('a task of ten minutes for the instance, extended by ten more when kept alive in its last minute', async () => {
  const created = await network.create({ instanceId, samplings: [{ ...rule, uriRegex: '/api/.*' }] });
  assert.equal(created.status, true);
  const profiling = new ProfilingService(storage, { minTaskDurationSeconds: 60, now: () => clock });
  const listed = async () => (await profiling.queryTasks({ serviceInstanceId: instanceId, targets: ['NETWORK'] }))[0]!;
  assert.equal((await listed()).fixedTriggerDuration, 600);

  clock += 5 * 60_000; // five minutes left: nothing to extend yet
  assert.deepEqual(await network.keepAlive(created.id!), { status: true, errorReason: null });
  assert.equal((await listed()).fixedTriggerDuration, 600);

  clock += 4.5 * 60_000; // thirty seconds left
  assert.deepEqual(await network.keepAlive(created.id!), { status: true, errorReason: null });
  assert.equal((await listed()).fixedTriggerDuration, 1200);
  // Every record of the task carries the sampling rules the rover reads.
  for (const record of await storage.tasks.getTaskRecords(created.id!))
    assert.match(record.extensionConfigJson, /"uriRegex":"\/api\/\.\*"/);

  clock += 11 * 60_000;
  assert.equal((await network.keepAlive(created.id!)).errorReason, 'profiling task has been finished');
});

test('a shortened task (SW_EBPF_NETWORK_TASK_DURATION, ..._KEEP_ALIVE_THRESHOLD) keeps the same rules', async () => {
  const short = new NetworkTaskService(storage, () => clock, { durationSeconds: 40, keepAliveThresholdSeconds: 30 });
  const created = await short.create({ instanceId });
  const profiling = new ProfilingService(storage, { minTaskDurationSeconds: 60, now: () => clock });
  const duration = async () =>
    (await profiling.queryTasks({ serviceInstanceId: instanceId, targets: ['NETWORK'] })).find(
      (t) => t.taskId === created.id,
    )!.fixedTriggerDuration;
  assert.equal(await duration(), 40);
  clock += 5_000; // 35 s left
  assert.deepEqual(await short.keepAlive(created.id!), { status: true, errorReason: null });
  assert.equal(await duration(), 40);
  clock += 10_000; // 25 s left
  assert.deepEqual(await short.keepAlive(created.id!), { status: true, errorReason: null });
  assert.equal(await duration(), 80);
  clock += 70_000;
  assert.equal((await short.keepAlive(created.id!)).errorReason, 'profiling task has been finished');
});
