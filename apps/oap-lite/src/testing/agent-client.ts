/** A gRPC client that plays the rover, for tests and benchmarks (real sockets, real protocol). */
import * as grpc from '@grpc/grpc-js';
import {
  loadSkyWalkingGrpc,
  type Commands__Output,
  type EBPFProcessProperties,
  type EBPFProfilingData,
  type EBPFReportProcessDownstream__Output,
} from '@swlite/protocol';

export class AgentClient {
  readonly process: InstanceType<ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['EBPFProcessService']>;
  readonly profiling: InstanceType<ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['EBPFProfilingService']>;
  readonly continuous: InstanceType<
    ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['ContinuousProfilingService']
  >;

  constructor(
    readonly address: string,
    readonly agentId = 'test-rover',
    private readonly metadata = new grpc.Metadata(),
  ) {
    const pkg = loadSkyWalkingGrpc().skywalking.v3;
    const creds = grpc.credentials.createInsecure();
    const options = { 'grpc.max_send_message_length': 64 * 1024 * 1024 };
    this.process = new pkg.EBPFProcessService(address, creds, options);
    this.profiling = new pkg.EBPFProfilingService(address, creds, options);
    this.continuous = new pkg.ContinuousProfilingService(address, creds, options);
  }

  reportProcesses(processes: EBPFProcessProperties[]): Promise<EBPFReportProcessDownstream__Output> {
    return new Promise((resolve, reject) =>
      this.process.reportProcesses({ ebpfAgentID: this.agentId, processes }, this.metadata, (err, res) =>
        err ? reject(err) : resolve(res!),
      ),
    );
  }

  keepAlive(processes: Array<{ entityMetadata: object; properties?: Array<{ key: string; value: string }> }>) {
    return new Promise<Commands__Output>((resolve, reject) =>
      this.process.keepAlive({ ebpfAgentID: this.agentId, processes }, this.metadata, (err, res) =>
        err ? reject(err) : resolve(res!),
      ),
    );
  }

  queryTasks(latestUpdateTime = 0): Promise<Commands__Output> {
    return new Promise((resolve, reject) =>
      this.profiling.queryTasks({ roverInstanceId: this.agentId, latestUpdateTime }, this.metadata, (err, res) =>
        err ? reject(err) : resolve(res!),
      ),
    );
  }

  /** Streams messages; resolves when the server answers, rejects with its status. */
  collect(messages: Iterable<EBPFProfilingData>, options: { breakAfter?: number } = {}): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.profiling.collectProfilingData(this.metadata, (err, res) =>
        err ? reject(err) : resolve(res!),
      );
      let sent = 0;
      for (const message of messages) {
        if (options.breakAfter !== undefined && sent >= options.breakAfter) {
          call.cancel();
          return;
        }
        call.write(message);
        sent++;
      }
      call.end();
    });
  }

  close(): void {
    this.process.close();
    this.profiling.close();
    this.continuous.close();
  }
}

export const hostProcess = (
  name: string,
  opts: {
    service?: string;
    instance?: string;
    layer?: string;
    labels?: string[];
    pid?: number;
    profilable?: boolean;
  } = {},
): EBPFProcessProperties => ({
  hostProcess: {
    entity: {
      layer: opts.layer ?? 'OS_LINUX',
      serviceName: opts.service ?? 'demo-service',
      instanceName: opts.instance ?? 'host-1',
      processName: name,
      labels: opts.labels ?? [],
    },
    pid: opts.pid ?? 4242,
    properties: [
      { key: 'host_ip', value: '127.0.0.1' },
      { key: 'pid', value: String(opts.pid ?? 4242) },
      { key: 'command_line', value: `/usr/bin/${name}` },
      { key: 'support_ebpf_profiling', value: String(opts.profilable ?? true) },
    ],
  },
});

export interface UploadTask {
  taskId: string;
  processId: string;
  start: number;
  now: number;
}

/** One on-CPU stack as rover uploads it (symbols leaf first); `task` only when it changes. */
export const onCpuData = (
  task: UploadTask | null,
  user: string[],
  kernel: string[],
  dumpCount: number,
): EBPFProfilingData => ({
  ...(task
    ? {
        task: { taskId: task.taskId, processId: task.processId, profilingStartTime: task.start, currentTime: task.now },
      }
    : {}),
  onCPU: {
    stacks: [
      { stackType: 'PROCESS_USER_SPACE', stackId: user.length, stackSymbols: user },
      ...(kernel.length
        ? [{ stackType: 'PROCESS_KERNEL_SPACE' as const, stackId: 100 + kernel.length, stackSymbols: kernel }]
        : []),
    ],
    dumpCount,
  },
});
