// The loaded gRPC definitions: options agree with the generated code, method paths are the
// upstream ones, messages round-trip, and a loopback server/client pair works end to end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GENERATED_WITH } from './generated/proto/descriptor';
import {
  EBPFProfilingStackType,
  loadSkyWalkingGrpc,
  PROTO_LOADER_OPTIONS,
  type Commands,
  type EBPFProcessServiceHandlers,
  type EBPFProfilingData,
  type EBPFProfilingData__Output,
  type EBPFProfilingServiceHandlers,
} from './grpc';

test('PROTO_LOADER_OPTIONS are the options the types and descriptor were generated with', () => {
  assert.equal(PROTO_LOADER_OPTIONS.keepCase, GENERATED_WITH.keepCase);
  assert.equal(PROTO_LOADER_OPTIONS.longs, globalThis[GENERATED_WITH.longs]);
  assert.equal(PROTO_LOADER_OPTIONS.enums, globalThis[GENERATED_WITH.enums]);
  assert.equal(PROTO_LOADER_OPTIONS.defaults, GENERATED_WITH.defaults);
  assert.equal(PROTO_LOADER_OPTIONS.oneofs, GENERATED_WITH.oneofs);
});

test('loadSkyWalkingGrpc is memoized', () => {
  assert.equal(loadSkyWalkingGrpc(), loadSkyWalkingGrpc());
});

test('services expose the upstream method paths and streaming kinds', () => {
  const v3 = loadSkyWalkingGrpc().skywalking.v3;
  const expected: Array<[grpc.ServiceDefinition, string, string, boolean]> = [
    [v3.EBPFProcessService.service, 'EBPFProcessService', 'reportProcesses', false],
    [v3.EBPFProcessService.service, 'EBPFProcessService', 'keepAlive', false],
    [v3.EBPFProfilingService.service, 'EBPFProfilingService', 'queryTasks', false],
    [v3.EBPFProfilingService.service, 'EBPFProfilingService', 'collectProfilingData', true],
    [v3.ContinuousProfilingService.service, 'ContinuousProfilingService', 'queryPolicies', false],
    [v3.ContinuousProfilingService.service, 'ContinuousProfilingService', 'reportProfilingTask', false],
    [v3.MeterReportService.service, 'MeterReportService', 'collect', true],
    [v3.MeterReportService.service, 'MeterReportService', 'collectBatch', true],
    [v3.LogReportService.service, 'LogReportService', 'collect', true],
    [v3.SpanAttachedEventReportService.service, 'SpanAttachedEventReportService', 'collect', true],
  ];
  for (const [service, serviceName, method, clientStream] of expected) {
    const def = service[method];
    assert.ok(def, `${serviceName}.${method} missing`);
    assert.equal(def.path, `/skywalking.v3.${serviceName}/${method}`);
    assert.equal(def.requestStream, clientStream, `${method} requestStream`);
    assert.equal(def.responseStream, false, `${method} responseStream`);
  }
  assert.deepEqual(Object.keys(v3.EBPFProcessService.service).sort(), ['keepAlive', 'reportProcesses']);
  assert.deepEqual(Object.keys(v3.MeterReportService.service).sort(), ['collect', 'collectBatch']);
  assert.deepEqual(Object.keys(v3.LogReportService.service), ['collect']);
  assert.deepEqual(Object.keys(v3.SpanAttachedEventReportService.service), ['collect']);
});

const offCpuSample: EBPFProfilingData = {
  task: {
    taskId: 'task-1',
    processId: 'proc-1',
    profilingStartTime: 1_764_000_000_000,
    currentTime: 1_764_000_005_000,
  },
  offCPU: {
    stacks: [
      { stackType: EBPFProfilingStackType.PROCESS_KERNEL_SPACE, stackId: 12, stackSymbols: ['schedule', 'futex_wait'] },
      { stackType: 'PROCESS_USER_SPACE', stackId: 34, stackSymbols: ['pthread_cond_wait', 'worker', 'main'] },
    ],
    switchCount: 42,
    duration: 9_876_543_210,
  },
};

test('EBPFProfilingData with stacks and an off-CPU event round-trips through the gRPC serializers', () => {
  const method = loadSkyWalkingGrpc().skywalking.v3.EBPFProfilingService.service.collectProfilingData;
  const bytes = method.requestSerialize(offCpuSample);
  assert.ok(bytes.length > 0);
  const decoded: EBPFProfilingData__Output = method.requestDeserialize(bytes);
  assert.equal(decoded.profiling, 'offCPU');
  assert.equal(decoded.onCPU, undefined);
  assert.deepEqual(decoded.task, offCpuSample.task);
  assert.equal(decoded.offCPU?.switchCount, 42);
  assert.equal(decoded.offCPU?.duration, 9_876_543_210);
  assert.equal(typeof decoded.offCPU?.duration, 'number');
  assert.deepEqual(
    decoded.offCPU?.stacks.map((s) => [s.stackType, s.stackId, s.stackSymbols]),
    [
      ['PROCESS_KERNEL_SPACE', 12, ['schedule', 'futex_wait']],
      ['PROCESS_USER_SPACE', 34, ['pthread_cond_wait', 'worker', 'main']],
    ],
  );
  // defaults: omitted scalars and lists come back filled in
  const empty = method.requestDeserialize(method.requestSerialize({ onCPU: { stacks: [{}] } }));
  assert.equal(empty.profiling, 'onCPU');
  assert.equal(empty.onCPU?.dumpCount, 0);
  assert.deepEqual(empty.onCPU?.stacks[0], { stackType: 'PROCESS_KERNEL_SPACE', stackId: 0, stackSymbols: [] });
});

test('a loopback server and client talk EBPFProcessService and EBPFProfilingService', async () => {
  const v3 = loadSkyWalkingGrpc().skywalking.v3;
  const received: EBPFProfilingData__Output[] = [];
  const processHandlers: EBPFProcessServiceHandlers = {
    reportProcesses: (call, cb) => {
      assert.equal(call.request.ebpfAgentID, 'rover-1');
      cb(null, {
        processes: call.request.processes.map((p, i) => ({
          processId: `pid-${i}`,
          hostProcess: { pid: p.hostProcess?.pid, entityMetadata: p.hostProcess?.entity },
        })),
      });
    },
    keepAlive: (_call, cb) => cb(null, {}),
  };
  const profilingHandlers: EBPFProfilingServiceHandlers = {
    queryTasks: (call, cb) => {
      const reply: Commands = {
        commands: [
          {
            command: 'EBPFProfilingTaskQuery',
            args: [{ key: 'TaskUpdateTime', value: String(call.request.latestUpdateTime + 1) }],
          },
        ],
      };
      cb(null, reply);
    },
    collectProfilingData: (call, cb) => {
      call.on('data', (d: EBPFProfilingData__Output) => received.push(d));
      call.on('end', () => cb(null, { commands: [] }));
    },
  };
  const server = new grpc.Server();
  server.addService(v3.EBPFProcessService.service, processHandlers);
  server.addService(v3.EBPFProfilingService.service, profilingHandlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const address = `127.0.0.1:${port}`;
  const processClient = new v3.EBPFProcessService(address, grpc.credentials.createInsecure());
  const profilingClient = new v3.EBPFProfilingService(address, grpc.credentials.createInsecure());
  try {
    const downstream = await new Promise((resolve, reject) =>
      processClient.reportProcesses(
        {
          ebpfAgentID: 'rover-1',
          processes: [
            {
              hostProcess: {
                pid: 4242,
                entity: {
                  layer: 'OS_LINUX',
                  serviceName: 'svc',
                  instanceName: 'host',
                  processName: 'nginx',
                  labels: ['web'],
                },
              },
            },
          ],
        },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    assert.deepEqual(downstream, {
      processes: [
        {
          processId: 'pid-0',
          process: 'hostProcess',
          hostProcess: {
            pid: 4242,
            entityMetadata: {
              layer: 'OS_LINUX',
              serviceName: 'svc',
              instanceName: 'host',
              processName: 'nginx',
              labels: ['web'],
            },
          },
        },
      ],
    });

    const tasks = await new Promise<Commands>((resolve, reject) =>
      profilingClient.queryTasks({ roverInstanceId: 'rover-1', latestUpdateTime: 1_764_000_000_000 }, (err, res) =>
        err || !res ? reject(err) : resolve(res),
      ),
    );
    assert.deepEqual(tasks.commands?.[0]?.args, [{ key: 'TaskUpdateTime', value: '1764000000001' }]);

    await new Promise<void>((resolve, reject) => {
      const stream = profilingClient.collectProfilingData((err) => (err ? reject(err) : resolve()));
      stream.write(offCpuSample);
      stream.write({ task: offCpuSample.task, onCPU: { stacks: [], dumpCount: 7 } });
      stream.end();
    });
    assert.deepEqual(
      received.map((d) => d.profiling),
      ['offCPU', 'onCPU'],
    );
    assert.equal(received[0]?.offCPU?.duration, 9_876_543_210);
    assert.equal(received[1]?.onCPU?.dumpCount, 7);
  } finally {
    processClient.close();
    profilingClient.close();
    server.forceShutdown();
  }
});
