/** A gRPC client that plays the rover, for tests and benchmarks (real sockets, real protocol). */
import * as grpc from '@grpc/grpc-js';
import {
  loadSkyWalkingGrpc,
  type Commands__Output,
  type EBPFProcessProperties,
  type EBPFProfilingData,
  type EBPFReportProcessDownstream__Output,
  type LogData,
  type MeterData,
  type MeterDataCollection,
  type SpanAttachedEvent,
} from '@swlite/protocol';

export class AgentClient {
  readonly process: InstanceType<ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['EBPFProcessService']>;
  readonly profiling: InstanceType<ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['EBPFProfilingService']>;
  readonly continuous: InstanceType<
    ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['ContinuousProfilingService']
  >;
  readonly meter: InstanceType<ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['MeterReportService']>;
  readonly log: InstanceType<ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['LogReportService']>;
  readonly spanEvents: InstanceType<
    ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3']['SpanAttachedEventReportService']
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
    this.meter = new pkg.MeterReportService(address, creds, options);
    this.log = new pkg.LogReportService(address, creds, options);
    this.spanEvents = new pkg.SpanAttachedEventReportService(address, creds, options);
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

  /**
   * Streams messages; resolves when the server answers, rejects with its status. `deadlineMs`
   * gives up as rover does (DEADLINE_EXCEEDED) when the server holds the stream that long.
   */
  collect(
    messages: Iterable<EBPFProfilingData>,
    options: { breakAfter?: number; deadlineMs?: number } = {},
  ): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
      const call = this.profiling.collectProfilingData(this.metadata, callOptions, (err, res) =>
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

  /**
   * MeterReportService.collectBatch, as rover reports its continuous-profiling meters: one stream,
   * each collection a complete input. Resolves with the answer, rejects with the server's status;
   * `breakAfter` cancels the stream after that many collections.
   */
  sendMeters(
    collections: Iterable<MeterDataCollection>,
    options: { breakAfter?: number } = {},
  ): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.meter.collectBatch(this.metadata, (err, res) => (err ? reject(err) : resolve(res!)));
      let sent = 0;
      for (const collection of collections) {
        if (options.breakAfter !== undefined && sent >= options.breakAfter) {
          call.cancel();
          return;
        }
        call.write(collection);
        sent++;
      }
      call.end();
    });
  }

  /** MeterReportService.collect: the whole stream is one input (service etc. on the first MeterData). */
  collectMeters(meters: Iterable<MeterData>): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.meter.collect(this.metadata, (err, res) => (err ? reject(err) : resolve(res!)));
      for (const m of meters) call.write(m);
      call.end();
    });
  }

  /** LogReportService.collect, as rover sends its sampled-trace logs: one stream, a LogData each. */
  sendLogs(logs: Iterable<LogData>): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.log.collect(this.metadata, (err, res) => (err ? reject(err) : resolve(res!)));
      for (const l of logs) call.write(l);
      call.end();
    });
  }

  /** SpanAttachedEventReportService.collect, as rover sends the raw request/response of sampled exchanges. */
  sendAttachedEvents(events: Iterable<SpanAttachedEvent>): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.spanEvents.collect(this.metadata, (err, res) => (err ? reject(err) : resolve(res!)));
      for (const e of events) call.write(e);
      call.end();
    });
  }

  close(): void {
    this.process.close();
    this.log.close();
    this.spanEvents.close();
    this.profiling.close();
    this.continuous.close();
    this.meter.close();
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

/** What rover measured for one process in one continuous-profiling check. */
export interface RoverCheck {
  process: string;
  layer?: string;
  processCpu?: number;
  threadCount?: number;
  systemLoad?: number;
  /** Per URI: error rate (0..1) and average response time (ms). */
  http?: Array<{ uri: string; errorRate?: number; avgResponseTime?: number }>;
}

/**
 * One MeterDataCollection as rover's MetricsAppender builds it (pkg/profiling/continuous/base):
 * rover_con_p_* single values with labels process_name and layer (and uri), and service,
 * serviceInstance and timestamp on every MeterData.
 */
export const roverMeterCollection = (
  checks: RoverCheck[],
  opts: { service?: string; instance?: string; timestamp?: number } = {},
): MeterDataCollection => {
  const meterData: MeterData[] = [];
  const add = (name: string, check: RoverCheck, value: number, extra: Array<{ name: string; value: string }> = []) =>
    meterData.push({
      service: opts.service ?? 'demo-service',
      serviceInstance: opts.instance ?? 'host-1',
      timestamp: opts.timestamp ?? Date.now(),
      singleValue: {
        name: `rover_con_p_${name}`,
        labels: [
          ...extra,
          { name: 'process_name', value: check.process },
          { name: 'layer', value: check.layer ?? 'OS_LINUX' },
        ],
        value,
      },
    });
  for (const c of checks) {
    if (c.processCpu !== undefined) add('process_cpu', c, c.processCpu);
    if (c.threadCount !== undefined) add('process_thread_count', c, c.threadCount);
    if (c.systemLoad !== undefined) add('system_load', c, c.systemLoad);
    for (const h of c.http ?? []) {
      const uri = [{ name: 'uri', value: h.uri }];
      if (h.errorRate !== undefined) add('http_error_rate', c, h.errorRate, uri);
      if (h.avgResponseTime !== undefined) add('http_avg_response_time', c, h.avgResponseTime, uri);
    }
  }
  return { meterData };
};
