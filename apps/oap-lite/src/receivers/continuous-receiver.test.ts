import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Commands, ContinuousProfilingReport__Output } from '@swlite/protocol';
import { serviceId } from '../core/ids';
import { ContinuousProfilingService } from '../services/continuous-service';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';
import { loadConfig } from '../config';
import { continuousHandlers } from './continuous-receiver';
import { InputLimits } from './input-limits';

let dir: string;
let storage: SqliteStorage;
let handlers: ReturnType<typeof continuousHandlers>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oap-lite-continuous-rx-'));
  storage = new SqliteStorage({ dataDir: dir });
  await storage.init();
  handlers = continuousHandlers(
    new ContinuousProfilingService(storage, () => 1_700_000_000_000),
    new InputLimits(loadConfig({}).receiver),
  );
});
after(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Calls a unary handler the way grpc-js does and returns its error or answer. */
const call = <Req>(
  handler: grpc.handleUnaryCall<Req, Commands>,
  request: Req,
): Promise<{ err: grpc.ServiceError | null; value?: Commands }> =>
  new Promise((resolve) => {
    handler(
      { request } as grpc.ServerUnaryCall<Req, Commands>,
      ((err: grpc.ServiceError | null, value?: Commands) => resolve({ err, value })) as grpc.sendUnaryData<Commands>,
    );
  });

const report = (over: Partial<ContinuousProfilingReport__Output> = {}): ContinuousProfilingReport__Output => ({
  layer: 'OS_LINUX',
  serviceName: 'svc',
  instanceName: 'inst',
  processName: 'proc',
  causes: [
    {
      type: 'SystemLoad',
      cause: 'singleValue',
      singleValue: { threshold: 4, current: 9.7 },
    },
  ],
  duration: 30,
  targetTask: 'offCPU',
  offCPU: {},
  ...over,
});

test('reportProfilingTask answers one ContinuousProfilingReportTask command with the task id', async () => {
  const { err, value } = await call(handlers.reportProfilingTask, report());
  assert.equal(err, null);
  assert.equal(value!.commands!.length, 1);
  const [command] = value!.commands!;
  assert.equal(command!.command, 'ContinuousProfilingReportTask');
  const taskId = command!.args!.find((a) => a.key === 'TaskId')!.value!;
  const [record] = await storage.tasks.getTaskRecords(taskId);
  assert.equal(record!.serviceId, serviceId('svc'));
  assert.equal(record!.targetType, 'OFF_CPU');
});

test('reportProfilingTask: bad reports are INVALID_ARGUMENT', async () => {
  for (const bad of [
    report({ serviceName: '' }),
    report({ targetTask: undefined, offCPU: null }),
    report({ processName: 'p'.repeat(1025) }),
  ]) {
    const { err } = await call(handlers.reportProfilingTask, bad);
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, err?.message);
  }
});

test('queryPolicies: empty answer without policies, the policy once set', async () => {
  const svc = new ContinuousProfilingService(storage);
  let { err, value } = await call(handlers.queryPolicies, {
    policies: [{ serviceName: 'svc', uuid: '' }],
  });
  assert.equal(err, null);
  assert.deepEqual(value, { commands: [] });

  await storage.metadata.upsertService({
    id: serviceId('svc'),
    name: 'svc',
    shortName: 'svc',
    group: '',
    normal: true,
    layers: ['OS_LINUX'],
    lastSeen: 1,
  });
  const set = await svc.setPolicy({
    serviceId: serviceId('svc'),
    targets: [
      {
        targetType: 'OFF_CPU',
        checkItems: [{ type: 'SYSTEM_LOAD', threshold: '4', period: 5, count: 5 }],
      },
    ],
  });
  assert.equal(set.status, true, set.errorReason ?? '');
  ({ err, value } = await call(handlers.queryPolicies, {
    policies: [
      { serviceName: 'svc', uuid: '' },
      { serviceName: '', uuid: 'x' },
    ],
  }));
  assert.equal(err, null);
  assert.equal(value!.commands!.length, 1);
  assert.equal(value!.commands![0]!.command, 'ContinuousProfilingPolicyQuery');
  const json = value!.commands![0]!.args!.find((a) => a.key === 'ServiceWithPolicyJSON')!.value!;
  assert.deepEqual(
    (JSON.parse(json) as Array<{ ServiceName: string }>).map((p) => p.ServiceName),
    ['svc'],
  );
});
