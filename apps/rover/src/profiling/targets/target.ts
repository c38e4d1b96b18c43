/**
 * One eBPF profiling target type (on-CPU, off-CPU, network, ...) as the rest of rover sees it.
 * The task runner, the continuous monitor and the tools go through this interface, found by
 * type in the registry (registry.ts); nothing outside a target's own folder branches on its name.
 *
 * A target starts for a SET of processes and is told as processes come and go: the stack targets
 * keep one kernel program per target type with a filter map of pids, each run a view of it
 * (shared-sampler.ts), so a run's cost does not grow with its processes.
 */
import type {
  ContinuousProfilingReport,
  EBPFProfilingData,
  LogData,
  MeterDataCollection,
  ProfilingTargetType,
  SpanAttachedEvent,
} from '@swlite/protocol';
import type { Symbolizer } from '@swlite/symbolizer';
import type { Logger } from 'pino';
import type { ProfilingConfig } from '../../config';
import type { MonitoredProcess } from './network/analyze/connections';

/** An upload message without its task header (the runner adds the task it belongs to). */
export type ProfilingPayload = Omit<EBPFProfilingData, 'task'>;

/** The fields of a continuous profiling report that say which target the task is for. */
export type ContinuousReportTarget = Pick<ContinuousProfilingReport, 'targetTask' | 'onCPU' | 'offCPU' | 'network'>;

/** What a run collected since the previous drain. */
export interface TargetDrain {
  /** Upload payloads per process (pid). */
  payloads: Map<number, ProfilingPayload[]>;
  /** Events the kernel side took (samples, switch-outs, ...). */
  samples: number;
  /** Events lost, all causes together (0: nothing lost). */
  lost: number;
  /** The counters behind `lost`, for the log. */
  lostDetail: object;
}

/** A target collecting for a set of processes (one task's). */
export interface TargetRun {
  addProcess(pid: number): void;
  /** Stops collecting for the process; what it produced so far comes with the next drain. */
  removeProcess(pid: number): void;
  drain(): TargetDrain;
  /** Detaches from the kernel and returns what was left. */
  stop(): TargetDrain;
  /** The task's ExtensionConfigJSON, for targets configured by it (NETWORK: HTTP sampling rules); throws when invalid. */
  updateExtensionConfig?(json: string): void;
}

export interface ProfilingTarget {
  readonly type: ProfilingTargetType;
  /**
   * Null when this rover can run the target on this kernel; otherwise why not, in words fit for
   * the log (a task of the target ends with it; the continuous monitor never triggers the target).
   */
  unavailable(): string | null;
  /** Starts collecting for these processes; throws when the kernel refuses. */
  start(pids: readonly number[]): TargetRun;
  /** How a continuous profiling report names this target (protocol mapping). */
  readonly continuousReport: ContinuousReportTarget;
}

/**
 * Where a target that reports by itself sends (NETWORK: meters, sampled-trace logs and span
 * attached events every report interval; its drain() payloads stay empty).
 */
export interface NetworkReporter {
  meters(collections: MeterDataCollection[]): Promise<unknown>;
  logs(service: string, logs: LogData[]): Promise<unknown>;
  events(events: SpanAttachedEvent[]): Promise<unknown>;
}

/** What a NETWORK run needs besides the kernel: the reporter and who each process is. */
export interface NetworkTargetContext {
  reporter: NetworkReporter;
  /** The OAP's view of a monitored process; undefined while it is not reported yet. */
  process(pid: number): MonitoredProcess | undefined;
}

/** What a target may use, given once by the composition root. */
export interface TargetContext {
  /** rover's profiling settings; each target reads its own part (`task.onCpu`, `task.network`, `unwind`). */
  config: ProfilingConfig;
  symbolizer: Symbolizer;
  log: Logger;
  /** Absent: the NETWORK target says it has nowhere to report. */
  network?: NetworkTargetContext;
}

/** A registry entry: builds the target for this rover. */
export interface TargetModule {
  create(type: ProfilingTargetType, ctx: TargetContext): ProfilingTarget;
}
