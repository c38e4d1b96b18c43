/**
 * What oap-lite needs to know about one eBPF profiling target. GraphQL resolvers, gRPC receivers,
 * services and storage read these fields instead of comparing target names, so a new target is a
 * new description (one file next to this one) plus its registry entry.
 */
import type {
  ContinuousProfilingReport__Output,
  EBPFProfilingData__Output,
  EBPFProfilingStackMetadata__Output,
  ProfilingTargetType,
} from '@swlite/protocol';

/** The stacks and values of one uploaded EBPFProfilingData message. */
export interface UploadedStack {
  stacks: EBPFProfilingStackMetadata__Output[];
  /** Per stack: samples (dump count) or context switches (switch count), as the target counts. */
  count: number;
  /** Nanoseconds off CPU; 0 for a target that only samples. */
  duration: number;
}

export interface UploadReader {
  /** The EBPFProfilingData `profiling` oneof case carrying this target's stacks. */
  case: NonNullable<EBPFProfilingData__Output['profiling']>;
  /** The message's stack, or null when the case's field is absent. */
  read(message: EBPFProfilingData__Output): UploadedStack | null;
}

/** Which of a polling rover's processes receive a task. */
export type ProcessSelection =
  /** One command per profiling-capable process of the task's service carrying every task label. */
  | 'service-processes-with-labels'
  /** One command for all processes of the task's instance (the task names one instance). */
  | 'task-instance';

export interface TargetDescription {
  readonly type: ProfilingTargetType;
  /** The value of the `TargetType` arg of the EBPFProfilingTaskQuery command sent to rover. */
  readonly commandArg: string;
  /** The number SQLite stores in profiling_data.target_type; stored rows keep it, so never reuse one. */
  readonly storageCode: number;
  /**
   * What a DURATION analysis sums over this target's records: its durations, or its counts for a
   * target that only samples (the OAP's analyzer does the same).
   */
  readonly durationAggregate: 'duration' | 'count';
  /** Why createEBPFProfilingFixedTimeTask refuses this target (the OAP's text), or null. */
  readonly fixedTimeRefusal: string | null;
  readonly processSelection: ProcessSelection;
  /** Whether continuous profiling policies may name this target. */
  readonly continuousPolicy: boolean;
  /** The ContinuousProfilingReport `targetTask` oneof case that reports a crossed threshold for it. */
  readonly continuousReportCase: NonNullable<ContinuousProfilingReport__Output['targetTask']>;
  /** ExtensionConfigJSON of a task triggered by a continuous report ("" for none). */
  continuousExtension(report: ContinuousProfilingReport__Output): string;
  /** How its stacks arrive through EBPFProfilingService.collectProfilingData, or null when they do not. */
  readonly upload: UploadReader | null;
}
