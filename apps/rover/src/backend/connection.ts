/**
 * The gRPC connection to oap-lite (or the Java OAP): one channel shared by the eBPF services
 * and the meter service, TLS and the "Authentication" token as upstream rover sends them. grpc-js reconnects
 * the channel by itself with backoff; callers see failed calls and retry at their own pace.
 */
import * as grpc from '@grpc/grpc-js';
import {
  loadSkyWalkingGrpc,
  type Commands__Output,
  type ContinuousProfilingPolicyQuery,
  type ContinuousProfilingReport,
  type EBPFProcessPingPkgList,
  type EBPFProcessReportList,
  type EBPFProfilingData,
  type EBPFProfilingTaskQuery,
  type EBPFReportProcessDownstream__Output,
  type LogData,
  type MeterDataCollection,
  type SpanAttachedEvent,
} from '@swlite/protocol';
import { readFileSync } from 'node:fs';
import type { BackendConfig } from '../config';

type Pkg = ReturnType<typeof loadSkyWalkingGrpc>['skywalking']['v3'];

export class BackendConnection {
  readonly process: InstanceType<Pkg['EBPFProcessService']>;
  readonly profiling: InstanceType<Pkg['EBPFProfilingService']>;
  readonly continuous: InstanceType<Pkg['ContinuousProfilingService']>;
  readonly meter: InstanceType<Pkg['MeterReportService']>;
  readonly log: InstanceType<Pkg['LogReportService']>;
  readonly attachedEvents: InstanceType<Pkg['SpanAttachedEventReportService']>;
  private readonly metadata = new grpc.Metadata();

  constructor(
    private readonly config: BackendConfig,
    private readonly callTimeoutMs = 10_000,
  ) {
    const pkg = loadSkyWalkingGrpc().skywalking.v3;
    const creds = credentials(config);
    const options: grpc.ChannelOptions = {
      'grpc.max_send_message_length': 50 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      // A restarted backend is found within seconds; the default (2 min) would leave data waiting.
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5_000,
      ...(config.insecureSkipVerify ? { 'grpc.ssl_target_name_override': 'localhost' } : {}),
    };
    if (config.authentication) this.metadata.set('Authentication', config.authentication);
    this.process = new pkg.EBPFProcessService(config.addr, creds, options);
    // Later clients share the first one's channel, so the three services reconnect together.
    const channelOverride = this.process.getChannel();
    this.profiling = new pkg.EBPFProfilingService(config.addr, creds, { ...options, channelOverride });
    this.continuous = new pkg.ContinuousProfilingService(config.addr, creds, { ...options, channelOverride });
    this.meter = new pkg.MeterReportService(config.addr, creds, { ...options, channelOverride });
    this.log = new pkg.LogReportService(config.addr, creds, { ...options, channelOverride });
    this.attachedEvents = new pkg.SpanAttachedEventReportService(config.addr, creds, { ...options, channelOverride });
  }

  /**
   * Calls `listener` each time the shared channel becomes READY after being anything else: the
   * backend is reachable (again), so data held back by a retry backoff can go at once.
   */
  onReady(listener: () => void): void {
    const channel = this.process.getChannel();
    const watch = (current: grpc.connectivityState): void => {
      if (current === grpc.connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(current, Infinity, () => {
        const next = channel.getConnectivityState(false);
        if (next === grpc.connectivityState.READY) listener();
        watch(next);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  get address(): string {
    return this.config.addr;
  }

  callOptions(): grpc.CallOptions {
    return { deadline: Date.now() + this.callTimeoutMs };
  }

  private settle<T>(resolve: (v: T) => void, reject: (e: Error) => void) {
    return (err: grpc.ServiceError | null, res?: T) => (err ? reject(err) : resolve(res!));
  }

  reportProcesses(request: EBPFProcessReportList): Promise<EBPFReportProcessDownstream__Output> {
    return new Promise((resolve, reject) =>
      this.process.reportProcesses(request, this.metadata, this.callOptions(), this.settle(resolve, reject)),
    );
  }

  keepAlive(request: EBPFProcessPingPkgList): Promise<Commands__Output> {
    return new Promise((resolve, reject) =>
      this.process.keepAlive(request, this.metadata, this.callOptions(), this.settle(resolve, reject)),
    );
  }

  queryTasks(request: EBPFProfilingTaskQuery): Promise<Commands__Output> {
    return new Promise((resolve, reject) =>
      this.profiling.queryTasks(request, this.metadata, this.callOptions(), this.settle(resolve, reject)),
    );
  }

  queryPolicies(request: ContinuousProfilingPolicyQuery): Promise<Commands__Output> {
    return new Promise((resolve, reject) =>
      this.continuous.queryPolicies(request, this.metadata, this.callOptions(), this.settle(resolve, reject)),
    );
  }

  reportProfilingTask(request: ContinuousProfilingReport): Promise<Commands__Output> {
    return new Promise((resolve, reject) =>
      this.continuous.reportProfilingTask(request, this.metadata, this.callOptions(), this.settle(resolve, reject)),
    );
  }

  /** One collectBatch stream carrying these collections (continuous profiling meters). */
  collectMeters(collections: MeterDataCollection[]): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.meter.collectBatch(this.metadata, this.callOptions(), this.settle(resolve, reject));
      for (const c of collections) call.write(c);
      call.end();
    });
  }

  /** One LogReportService.collect stream (network profiling's sampled traces). */
  collectLogs(logs: LogData[]): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.log.collect(this.metadata, this.callOptions(), this.settle(resolve, reject));
      for (const l of logs) call.write(l);
      call.end();
    });
  }

  /** One SpanAttachedEventReportService.collect stream (network profiling's HTTP events). */
  collectSpanAttachedEvents(events: SpanAttachedEvent[]): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.attachedEvents.collect(this.metadata, this.callOptions(), this.settle(resolve, reject));
      for (const e of events) call.write(e);
      call.end();
    });
  }

  /** Streams one upload; resolves when the backend accepted all of it. */
  upload(messages: EBPFProfilingData[]): Promise<Commands__Output> {
    return new Promise((resolve, reject) => {
      const call = this.profiling.collectProfilingData(
        this.metadata,
        { deadline: Date.now() + this.callTimeoutMs * 3 },
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
      for (const message of messages) call.write(message);
      call.end();
    });
  }

  close(): void {
    this.process.close();
    this.profiling.close();
    this.continuous.close();
    this.meter.close();
    this.log.close();
    this.attachedEvents.close();
  }
}

const credentials = (config: BackendConfig): grpc.ChannelCredentials => {
  if (!config.enableTLS) return grpc.credentials.createInsecure();
  const read = (path: string) => (path ? readFileSync(path) : null);
  return grpc.credentials.createSsl(
    read(config.caPemPath),
    read(config.clientKeyPath),
    read(config.clientPemPath),
    config.insecureSkipVerify ? { checkServerIdentity: () => undefined } : {},
  );
};

/** True for failures that mean "backend not reachable now" rather than "request refused". */
export const isUnavailable = (err: unknown): boolean => {
  const code = (err as grpc.ServiceError | undefined)?.code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.CANCELLED;
};
