import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { graphql } from 'graphql';
import { instanceId, processId, serviceId } from '../../core/ids';
import { ContinuousProfilingService } from '../../services/continuous-service';
import { ProfilingService } from '../../services/profiling-service';
import { SqliteStorage } from '../../storage/sqlite/sqlite-storage';
import type { QueryContext } from '../context';
import { buildExecutableSchema } from '../schema';
import { continuousResolvers } from './continuous';

const NOW = 1_700_000_000_000;
const SVC_ID = serviceId('svc');
const INST_ID = instanceId(SVC_ID, 'inst');

let dir: string;
let storage: SqliteStorage;
let context: QueryContext;
const schema = buildExecutableSchema([continuousResolvers]);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oap-lite-continuous-gql-'));
  storage = new SqliteStorage({ dataDir: dir });
  await storage.init();
  await storage.metadata.upsertService({
    id: SVC_ID,
    name: 'svc',
    shortName: 'svc',
    group: '',
    normal: true,
    layers: ['OS_LINUX'],
    lastSeen: NOW,
  });
  await storage.metadata.upsertInstance({
    id: INST_ID,
    serviceId: SVC_ID,
    name: 'inst',
    layer: 'OS_LINUX',
    attributes: [],
    lastSeen: NOW,
  });
  await storage.metadata.upsertProcesses([
    {
      id: processId(INST_ID, 'proc'),
      name: 'proc',
      serviceId: SVC_ID,
      serviceName: 'svc',
      instanceId: INST_ID,
      instanceName: 'inst',
      layer: 'OS_LINUX',
      agentId: 'rover',
      detectType: 'VM',
      labels: [],
      properties: {},
      profilingSupported: true,
      firstSeen: NOW,
      lastSeen: NOW,
    },
  ]);
  context = {
    continuous: new ContinuousProfilingService(storage, () => NOW),
    profiling: new ProfilingService(storage, {
      minTaskDurationSeconds: 60,
      now: () => NOW,
    }),
  } as QueryContext;
});
after(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = async (source: string, variableValues: Record<string, unknown>) => {
  const result = await graphql({
    schema,
    source,
    variableValues,
    contextValue: context,
  });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return JSON.parse(JSON.stringify(result.data)) as Record<string, unknown>;
};

// The stock UI's documents (booster-ui).
const EDIT = `mutation editStrategy($request: ContinuousProfilingPolicyCreation!) {
  strategy: setContinuousProfilingPolicy(request: $request) { errorReason status } }`;
const LIST = `query getStrategyList($serviceId: ID!) {
  strategyList: queryContinuousProfilingServiceTargets(serviceId: $serviceId) {
    type checkItems { type threshold period count uriList uriRegex } } }`;
const INSTANCES = `query continuousProfilingMonitoringInstances($serviceId: ID!, $target: ContinuousProfilingTargetType!) {
  instances: queryContinuousProfilingMonitoringInstances(serviceId: $serviceId, target: $target) {
    id name attributes { name value } triggeredCount lastTriggerTimestamp
    processes { id name detectType labels lastTriggerTimestamp triggeredCount } } }`;

test('the UI sets, lists and monitors a policy', async () => {
  const bad = await run(EDIT, {
    request: {
      serviceId: SVC_ID,
      targets: [
        {
          targetType: 'ON_CPU',
          checkItems: [{ type: 'PROCESS_CPU', threshold: '120', period: 5, count: 2 }],
        },
      ],
    },
  });
  assert.deepEqual(bad.strategy, {
    errorReason: 'check PROCESS_CPU in ON_CPU error: the process CPU percent should in [0-100]',
    status: false,
  });
  const ok = await run(EDIT, {
    request: {
      serviceId: SVC_ID,
      targets: [
        {
          targetType: 'NETWORK',
          checkItems: [
            {
              type: 'HTTP_ERROR_RATE',
              threshold: '10',
              period: 5,
              count: 2,
              uriRegex: '/api/.*',
            },
          ],
        },
      ],
    },
  });
  assert.deepEqual(ok.strategy, { errorReason: null, status: true });
  assert.deepEqual((await run(LIST, { serviceId: SVC_ID })).strategyList, [
    {
      type: 'NETWORK',
      checkItems: [
        {
          type: 'HTTP_ERROR_RATE',
          threshold: '10',
          period: 5,
          count: 2,
          uriList: null,
          uriRegex: '/api/.*',
        },
      ],
    },
  ]);
  await context.continuous.reportTask({
    layer: 'OS_LINUX',
    serviceName: 'svc',
    instanceName: 'inst',
    processName: 'proc',
    causes: [],
    duration: 60,
    targetTask: 'network',
    network: { samplingURIRegexes: [] },
  });
  const { instances } = await run(INSTANCES, {
    serviceId: SVC_ID,
    target: 'NETWORK',
  });
  assert.deepEqual(instances, [
    {
      id: INST_ID,
      name: 'inst',
      attributes: [],
      triggeredCount: 1,
      lastTriggerTimestamp: NOW,
      processes: [
        {
          id: processId(INST_ID, 'proc'),
          name: 'proc',
          detectType: 'VM',
          labels: [],
          lastTriggerTimestamp: NOW,
          triggeredCount: 1,
        },
      ],
    },
  ]);
});
