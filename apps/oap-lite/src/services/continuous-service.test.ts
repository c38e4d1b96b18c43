import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { ContinuousProfilingReport__Output } from '@swlite/protocol';
import { instanceId, processId, serviceId, taskLogicalId } from '../core/ids';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';
import type { ProcessRecord } from '../storage/types';
import { ContinuousProfilingService, continuousReportCommand, type PolicyCreation } from './continuous-service';
import { ProfilingService } from './profiling-service';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const SVC = 'shop::checkout';
const SVC_ID = serviceId(SVC);
const INST = 'node-1';
const INST_ID = instanceId(SVC_ID, INST);

let dir: string;
let storage: SqliteStorage;
let clock: number;
let svc: ContinuousProfilingService;
let profiling: ProfilingService;

const proc = (name: string, inst = INST, lastSeen = clock): ProcessRecord => {
  const instId = instanceId(SVC_ID, inst);
  return {
    id: processId(instId, name),
    name,
    serviceId: SVC_ID,
    serviceName: SVC,
    instanceId: instId,
    instanceName: inst,
    layer: 'OS_LINUX',
    agentId: 'rover-1',
    detectType: 'VM',
    labels: ['web'],
    properties: { support_ebpf_profiling: 'true' },
    profilingSupported: true,
    firstSeen: lastSeen,
    lastSeen,
  };
};

const seedMetadata = async () => {
  await storage.metadata.upsertService({
    id: SVC_ID,
    name: SVC,
    shortName: 'checkout',
    group: 'shop',
    normal: true,
    layers: ['OS_LINUX'],
    lastSeen: clock,
  });
  for (const inst of [INST, 'node-2']) {
    await storage.metadata.upsertInstance({
      id: instanceId(SVC_ID, inst),
      serviceId: SVC_ID,
      name: inst,
      layer: 'OS_LINUX',
      attributes: [{ name: 'host', value: inst }],
      lastSeen: clock,
    });
  }
  await storage.metadata.upsertProcesses([proc('nginx'), proc('redis'), proc('java', 'node-2')]);
};

const policy = (targets: PolicyCreation['targets'], id = SVC_ID): PolicyCreation => ({ serviceId: id, targets });
const cpu = (threshold: string, period = 10, count = 3) => ({
  type: 'PROCESS_CPU' as const,
  threshold,
  period,
  count,
});

const report = (over: Partial<ContinuousProfilingReport__Output> = {}): ContinuousProfilingReport__Output => ({
  layer: 'OS_LINUX',
  serviceName: SVC,
  instanceName: INST,
  processName: 'nginx',
  causes: [
    {
      type: 'ProcessCPU',
      cause: 'singleValue',
      singleValue: { threshold: 80, current: 85.5 },
    },
  ],
  duration: 60,
  targetTask: 'onCPU',
  onCPU: {},
  ...over,
});

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'oap-lite-continuous-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let dbCount = 0;
beforeEach(async () => {
  clock = T0;
  storage = new SqliteStorage({ dataDir: dir, fileName: `db-${dbCount++}.db` });
  await storage.init();
  svc = new ContinuousProfilingService(storage, () => clock);
  profiling = new ProfilingService(storage, {
    minTaskDurationSeconds: 60,
    now: () => clock,
  });
  await seedMetadata();
});

afterEach(async () => {
  await storage.close();
});

describe('setPolicy validation', () => {
  const cases: Array<[string, PolicyCreation, RegExp]> = [
    ['empty service id', policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }], ''), /service id cannot be empty/],
    [
      'malformed service id',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }], 'nope'),
      /not a valid service ID/,
    ],
    [
      'unknown service',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }], serviceId('ghost')),
      /is not found/,
    ],
    ['non-numeric threshold', policy([{ targetType: 'ON_CPU', checkItems: [cpu('abc')] }]), /parsing threshold error/],
    [
      'decimal threshold (parseInt)',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80.5')] }]),
      /parsing threshold/,
    ],
    ['empty threshold', policy([{ targetType: 'ON_CPU', checkItems: [cpu('')] }]), /parsing threshold/],
    [
      'CPU percent over 100',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('101')] }]),
      /CPU percent should in \[0-100\]/,
    ],
    ['CPU percent negative', policy([{ targetType: 'ON_CPU', checkItems: [cpu('-1')] }]), /CPU percent/],
    [
      'HTTP error rate over 100',
      policy([
        {
          targetType: 'NETWORK',
          checkItems: [{ type: 'HTTP_ERROR_RATE', threshold: '150', period: 5, count: 1 }],
        },
      ]),
      /HTTP error rate should in/,
    ],
    [
      'thread count not positive',
      policy([
        {
          targetType: 'ON_CPU',
          checkItems: [
            {
              type: 'PROCESS_THREAD_COUNT',
              threshold: '-1',
              period: 5,
              count: 1,
            },
          ],
        },
      ]),
      /thread count must bigger than zero/,
    ],
    [
      'period zero',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80', 0, 0)] }]),
      /period must bigger than zero/,
    ],
    [
      'count negative',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80', 10, -1)] }]),
      /count must bigger than zero/,
    ],
    [
      'count over period',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80', 3, 5)] }]),
      /count must be small than period/,
    ],
    [
      'duplicate target type',
      policy([
        { targetType: 'ON_CPU', checkItems: [cpu('80')] },
        { targetType: 'ON_CPU', checkItems: [cpu('90')] },
      ]),
      /multiple same target type: ON_CPU/,
    ],
    [
      'duplicate monitor type',
      policy([{ targetType: 'ON_CPU', checkItems: [cpu('80'), cpu('90')] }]),
      /multiple same monitor type PROCESS_CPU in ON_CPU/,
    ],
    [
      'URI filter on a non-HTTP monitor',
      policy([
        {
          targetType: 'ON_CPU',
          checkItems: [{ ...cpu('80'), uriRegex: '/api/.*' }],
        },
      ]),
      /only apply to the HTTP monitor types/,
    ],
    [
      'both URI list and regex',
      policy([
        {
          targetType: 'NETWORK',
          checkItems: [
            {
              type: 'HTTP_AVG_RESPONSE_TIME',
              threshold: '200',
              period: 5,
              count: 2,
              uriList: ['/a'],
              uriRegex: '/b',
            },
          ],
        },
      ]),
      /only one of the URI list and the URI regex/,
    ],
  ];
  for (const [name, request, reason] of cases) {
    test(`${name} → errorReason, nothing stored`, async () => {
      const result = await svc.setPolicy(request);
      assert.equal(result.status, false);
      assert.match(result.errorReason ?? '', reason);
      assert.deepEqual(await storage.policies.getPolicies([request.serviceId, SVC_ID]), []);
    });
  }

  test('the error names the item and target as the OAP does', async () => {
    const result = await svc.setPolicy(policy([{ targetType: 'OFF_CPU', checkItems: [cpu('abc')] }]));
    assert.equal(result.errorReason, 'check PROCESS_CPU in OFF_CPU error: parsing threshold error');
  });
});

describe('setPolicy success', () => {
  test('stores the OAP configuration JSON with a SHA-512 uuid', async () => {
    const result = await svc.setPolicy(
      policy([
        {
          targetType: 'NETWORK',
          checkItems: [
            {
              type: 'HTTP_ERROR_RATE',
              threshold: '10',
              period: 10,
              count: 3,
              uriRegex: 'a=b',
              uriList: null,
            },
          ],
        },
        {
          targetType: 'ON_CPU',
          checkItems: [
            {
              type: 'PROCESS_THREAD_COUNT',
              threshold: '500',
              period: 5,
              count: 2,
            },
            cpu('80'),
          ],
        },
      ]),
    );
    assert.deepEqual(result, { status: true, errorReason: null });
    const [stored] = await storage.policies.getPolicies([SVC_ID]);
    assert.ok(stored);
    // Canonical (enum) order, Gson field names, nulls left out, '=' escaped as Gson does.
    assert.equal(
      stored.configurationJson,
      '{"targetCheckers":{"ON_CPU":{"PROCESS_CPU":{"threshold":"80","period":10,"count":3},' +
        '"PROCESS_THREAD_COUNT":{"threshold":"500","period":5,"count":2}},' +
        '"NETWORK":{"HTTP_ERROR_RATE":{"threshold":"10","period":10,"count":3,"uriRegex":"a\\u003db"}}}}',
    );
    assert.equal(stored.uuid, createHash('sha512').update(stored.configurationJson).digest('hex'));
    assert.equal(stored.updateTime, T0);
  });

  test('the uuid changes exactly when the policy changes', async () => {
    await svc.setPolicy(policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }]));
    const first = (await storage.policies.getPolicies([SVC_ID]))[0]!.uuid;
    await svc.setPolicy(policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }]));
    assert.equal((await storage.policies.getPolicies([SVC_ID]))[0]!.uuid, first);
    await svc.setPolicy(policy([{ targetType: 'ON_CPU', checkItems: [cpu('90')] }]));
    const third = (await storage.policies.getPolicies([SVC_ID]))[0]!.uuid;
    assert.notEqual(third, first);
    assert.match(third, /^[0-9a-f]{128}$/);
  });

  test('empty targets clear the policy (as the OAP: the UI sends [] after removing every policy)', async () => {
    await svc.setPolicy(policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }]));
    const result = await svc.setPolicy(policy([]));
    assert.deepEqual(result, { status: true, errorReason: null });
    const [stored] = await storage.policies.getPolicies([SVC_ID]);
    assert.equal(stored!.configurationJson, '{"targetCheckers":{}}');
    assert.deepEqual(await svc.queryServiceTargets(SVC_ID), []);
    const [command] = await svc.policyCommands([{ serviceName: SVC, uuid: 'old' }]);
    assert.equal(
      command!.args.find((a) => a.key === 'ServiceWithPolicyJSON')!.value,
      `[{"ServiceName":"${SVC}","UUID":"${stored!.uuid}","Profiling":{}}]`,
    );
  });

  test('queryServiceTargets lists the items back', async () => {
    await svc.setPolicy(
      policy([
        {
          targetType: 'NETWORK',
          checkItems: [
            {
              type: 'HTTP_AVG_RESPONSE_TIME',
              threshold: '200',
              period: 6,
              count: 4,
              uriList: ['/a', '/b'],
            },
          ],
        },
      ]),
    );
    assert.deepEqual(await svc.queryServiceTargets(SVC_ID), [
      {
        type: 'NETWORK',
        checkItems: [
          {
            type: 'HTTP_AVG_RESPONSE_TIME',
            threshold: '200',
            period: 6,
            count: 4,
            uriList: ['/a', '/b'],
            uriRegex: null,
          },
        ],
        triggeredCount: 0,
        lastTriggerTimestamp: null,
      },
    ]);
    assert.deepEqual(await svc.queryServiceTargets(serviceId('other')), []);
  });
});

describe('policyCommands', () => {
  const json = (commands: Awaited<ReturnType<ContinuousProfilingService['policyCommands']>>) => {
    assert.equal(commands.length, 1);
    const [command] = commands;
    assert.equal(command!.command, 'ContinuousProfilingPolicyQuery');
    assert.deepEqual(
      command!.args.map((a) => a.key),
      ['SerialNumber', 'ServiceWithPolicyJSON'],
    );
    assert.match(command!.args[0]!.value, /^[0-9a-f-]{36}$/);
    return command!.args[1]!.value;
  };

  test('sends the changed policy in the OAP command JSON, nothing once the agent is current', async () => {
    await svc.setPolicy(
      policy([
        { targetType: 'ON_CPU', checkItems: [cpu('75', 12, 4)] },
        {
          targetType: 'NETWORK',
          checkItems: [
            {
              type: 'HTTP_ERROR_RATE',
              threshold: '5',
              period: 10,
              count: 2,
              uriList: ['/pay'],
            },
          ],
        },
      ]),
    );
    const uuid = (await storage.policies.getPolicies([SVC_ID]))[0]!.uuid;
    assert.equal(
      json(await svc.policyCommands([{ serviceName: SVC, uuid: '' }])),
      `[{"ServiceName":"${SVC}","UUID":"${uuid}","Profiling":{` +
        '"ON_CPU":{"PROCESS_CPU":{"Threshold":"75","Period":12,"Count":4}},' +
        '"NETWORK":{"HTTP_ERROR_RATE":{"Threshold":"5","Period":10,"Count":2,"URIList":["/pay"]}}}}]',
    );
    assert.deepEqual(await svc.policyCommands([{ serviceName: SVC, uuid }]), []);
  });

  test('only services whose uuid differs; a policy-less service with a uuid gets an empty policy', async () => {
    await svc.setPolicy(policy([{ targetType: 'ON_CPU', checkItems: [cpu('80')] }]));
    const uuid = (await storage.policies.getPolicies([SVC_ID]))[0]!.uuid;
    const value = json(
      await svc.policyCommands([
        { serviceName: SVC, uuid }, // current: left out
        { serviceName: 'gone', uuid: 'stale-uuid' }, // policy-less, agent holds one: empty policy
        { serviceName: 'never', uuid: '' }, // policy-less, agent holds none: left out
        { serviceName: 'gone', uuid: 'other' }, // duplicate: the first entry wins
      ]),
    );
    assert.equal(value, '[{"ServiceName":"gone","UUID":""}]');
    assert.deepEqual(
      await svc.policyCommands([
        { serviceName: SVC, uuid },
        { serviceName: 'never', uuid: '' },
      ]),
      [],
    );
    assert.deepEqual(await svc.policyCommands([]), []);
  });

  test('the rover can decode it', async () => {
    await svc.setPolicy(
      policy([
        {
          targetType: 'OFF_CPU',
          checkItems: [{ type: 'SYSTEM_LOAD', threshold: '8', period: 3, count: 3 }],
        },
      ]),
    );
    const parsed = JSON.parse(json(await svc.policyCommands([{ serviceName: SVC, uuid: 'x' }]))) as unknown;
    assert.deepEqual(parsed, [
      {
        ServiceName: SVC,
        UUID: (await storage.policies.getPolicies([SVC_ID]))[0]!.uuid,
        Profiling: {
          OFF_CPU: { SYSTEM_LOAD: { Threshold: '8', Period: 3, Count: 3 } },
        },
      },
    ]);
  });
});

describe('reportTask', () => {
  test('records a CONTINUOUS_PROFILING task listed with its causes', async () => {
    const taskId = await svc.reportTask(
      report({
        causes: [
          {
            type: 'ProcessCPU',
            cause: 'singleValue',
            singleValue: { threshold: 80, current: 85.5 },
          },
          {
            type: 'ProcessThreadCount',
            cause: 'singleValue',
            singleValue: { threshold: 500, current: 612.9 },
          },
        ],
      }),
    );
    assert.equal(taskId, taskLogicalId(SVC_ID, '', T0));
    const [record] = await storage.tasks.getTaskRecords(taskId);
    assert.ok(record);
    assert.equal(record.triggerType, 'CONTINUOUS_PROFILING');
    assert.equal(record.targetType, 'ON_CPU');
    assert.equal(record.instanceId, INST_ID);
    assert.equal(record.startTime, T0);
    assert.equal(record.fixedTriggerDuration, 60);
    assert.equal(record.extensionConfigJson, '');
    assert.equal(
      record.continuousProfilingJson,
      `{"processId":"${processId(INST_ID, 'nginx')}","processName":"nginx","causes":[` +
        '{"type":"PROCESS_CPU","singleValue":{"threshold":8000,"current":8550},' +
        '"message":"PROCESS_CPU: current 85.50% \\u003e\\u003d threshold 80.00%"},' +
        '{"type":"PROCESS_THREAD_COUNT","singleValue":{"threshold":50000,"current":61290},' +
        '"message":"PROCESS_THREAD_COUNT: current 612 \\u003e\\u003d threshold 500"}]}',
    );

    assert.deepEqual(await profiling.queryTasks({ serviceId: SVC_ID }), [], 'FIXED_TIME listing leaves it out');
    const [view] = await profiling.queryTasks({
      serviceId: SVC_ID,
      triggerType: 'CONTINUOUS_PROFILING',
    });
    assert.ok(view);
    assert.equal(view.taskId, taskId);
    assert.equal(view.processId, processId(INST_ID, 'nginx'));
    assert.equal(view.processName, 'nginx');
    assert.equal(view.serviceInstanceName, INST);
    assert.deepEqual(view.continuousProfilingCauses, [
      {
        type: 'PROCESS_CPU',
        singleValue: { threshold: 8000, current: 8550 },
        message: 'PROCESS_CPU: current 85.50% >= threshold 80.00%',
      },
      {
        type: 'PROCESS_THREAD_COUNT',
        singleValue: { threshold: 50000, current: 61290 },
        message: 'PROCESS_THREAD_COUNT: current 612 >= threshold 500',
      },
    ]);
  });

  test('NETWORK: URI causes, response time message and the sampling extension', async () => {
    const taskId = await svc.reportTask(
      report({
        targetTask: 'network',
        onCPU: null,
        network: { samplingURIRegexes: ['/api/.*'] },
        causes: [
          {
            type: 'HTTPAvgResponseTime',
            cause: 'uri',
            uri: {
              uri: 'path',
              path: '/pay',
              threshold: 200,
              current: 351.256,
            },
          },
          {
            type: 'HTTPErrorRate',
            cause: 'uri',
            uri: {
              uri: 'regex',
              regex: '/api/.*',
              threshold: 5,
              current: 12.5,
            },
          },
        ],
      }),
    );
    const [record] = await storage.tasks.getTaskRecords(taskId);
    assert.equal(record!.targetType, 'NETWORK');
    assert.equal(
      record!.extensionConfigJson,
      '{"networkSamplings":[{"uriRegex":"/api/.*","minDuration":0,"when4xx":true,"when5xx":true,' +
        '"settings":{"requireCompleteRequest":true,"requireCompleteResponse":true}}]}',
    );
    const [view] = await profiling.queryTasks({
      serviceId: SVC_ID,
      triggerType: 'CONTINUOUS_PROFILING',
    });
    assert.deepEqual(view!.continuousProfilingCauses, [
      {
        type: 'HTTP_AVG_RESPONSE_TIME',
        uri: { uriPath: '/pay', threshold: 20000, current: 35125 },
        message: 'HTTP_AVG_RESPONSE_TIME: current 351.26ms >= threshold 200.00ms on /pay',
      },
      {
        type: 'HTTP_ERROR_RATE',
        uri: { uriRegex: '/api/.*', threshold: 500, current: 1250 },
        message: 'HTTP_ERROR_RATE: current 12.50% >= threshold 5.00% on /api/.*',
      },
    ]);
  });

  test('two reports in one millisecond get distinct tasks', async () => {
    const a = await svc.reportTask(report());
    const b = await svc.reportTask(report({ processName: 'redis' }));
    assert.notEqual(a, b);
    assert.equal(
      (
        await profiling.queryTasks({
          serviceId: SVC_ID,
          triggerType: 'CONTINUOUS_PROFILING',
        })
      ).length,
      2,
    );
  });

  test('bad reports are refused', async () => {
    await assert.rejects(svc.reportTask(report({ serviceName: '  ' })), /no service name/);
    await assert.rejects(svc.reportTask(report({ instanceName: '' })), /no instance name/);
    await assert.rejects(svc.reportTask(report({ targetTask: undefined, onCPU: null })), /task type cannot recognized/);
    await assert.rejects(
      svc.reportTask(
        report({
          causes: [
            {
              type: 'ProcessCPU',
              cause: 'uri',
              uri: { threshold: 1, current: 2 },
            },
          ],
        }),
      ),
      /uri case not set/,
    );
    assert.deepEqual(await storage.tasks.queryTasks({ triggerType: 'CONTINUOUS_PROFILING' }), []);
  });

  test('the report command', () => {
    const command = continuousReportCommand('abc');
    assert.equal(command.command, 'ContinuousProfilingReportTask');
    assert.deepEqual(
      command.args.map((a) => a.key),
      ['SerialNumber', 'TaskId'],
    );
    assert.equal(command.args[1]!.value, 'abc');
  });
});

describe('triggered counts', () => {
  test('per target, instance and process, within the last 48 hours', async () => {
    await svc.setPolicy(
      policy([
        { targetType: 'ON_CPU', checkItems: [cpu('80')] },
        { targetType: 'OFF_CPU', checkItems: [cpu('90')] },
      ]),
    );
    clock = T0 - 49 * 3_600_000; // too old to count
    await svc.reportTask(report());
    clock = T0 - 3_600_000;
    await svc.reportTask(report());
    clock = T0 - 60_000;
    await svc.reportTask(report({ processName: 'redis' }));
    clock = T0 - 30_000;
    await svc.reportTask(
      report({
        instanceName: 'node-2',
        processName: 'java',
        targetTask: 'offCPU',
        offCPU: {},
      }),
    );
    clock = T0;

    const targets = await svc.queryServiceTargets(SVC_ID);
    assert.deepEqual(
      targets.map((t) => [t.type, t.triggeredCount, t.lastTriggerTimestamp]),
      [
        ['ON_CPU', 2, T0 - 60_000],
        ['OFF_CPU', 1, T0 - 30_000],
      ],
    );

    const instances = await svc.queryMonitoringInstances(SVC_ID, 'ON_CPU');
    const byName = new Map(instances.map((i) => [i.name, i]));
    const node1 = byName.get(INST)!;
    assert.equal(node1.id, INST_ID);
    assert.deepEqual(node1.attributes, [{ name: 'host', value: INST }]);
    assert.equal(node1.triggeredCount, 2);
    assert.equal(node1.lastTriggerTimestamp, T0 - 60_000);
    const procs = new Map(node1.processes.map((p) => [p.name, p]));
    assert.deepEqual(procs.get('nginx'), {
      id: processId(INST_ID, 'nginx'),
      name: 'nginx',
      detectType: 'VM',
      labels: ['web'],
      triggeredCount: 1,
      lastTriggerTimestamp: T0 - 3_600_000,
    });
    assert.equal(procs.get('redis')!.triggeredCount, 1);
    const node2 = byName.get('node-2')!;
    assert.equal(node2.triggeredCount, 0, 'its task is OFF_CPU');
    assert.equal(node2.lastTriggerTimestamp, null);
    assert.equal(node2.processes[0]!.triggeredCount, 0);

    const offCpu = await svc.queryMonitoringInstances(SVC_ID, 'OFF_CPU');
    assert.equal(offCpu.find((i) => i.name === 'node-2')!.processes[0]!.triggeredCount, 1);
  });

  test('processes not seen in the last 48 hours are not monitored', async () => {
    const other = serviceId('idle');
    assert.deepEqual(await svc.queryMonitoringInstances(other, 'ON_CPU'), []);
    clock = T0 + 49 * 3_600_000;
    assert.deepEqual(await svc.queryMonitoringInstances(SVC_ID, 'ON_CPU'), []);
  });
});
