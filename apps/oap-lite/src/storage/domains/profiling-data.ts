/**
 * eBPF profiling data: the uploaded stacks (the OAP's ebpf_profiling_data model), stored already
 * decoded and interned (storage/stack-interning.ts), so analysis never parses protobuf.
 */
import type { ProfilingTargetType } from '@swlite/protocol';

export type StackType = 'KERNEL_SPACE' | 'USER_SPACE';
export type AggregateType = 'COUNT' | 'DURATION';

export interface StackFrame {
  symbol: string;
  stackType: StackType;
}

export interface ProfilingDataRecord {
  scheduleId: string;
  taskId: string;
  /** Kernel-side stack ids joined by "_" (KERNEL first, then USER), as the OAP keeps them. */
  stackIdList: string;
  targetType: ProfilingTargetType;
  uploadTime: number;
  /** Root first (outermost user frame) to leaf (innermost kernel frame). */
  frames: StackFrame[];
  /** What the target counts per stack: samples (dump count) or context switches (switch count). */
  count: number;
  /** Blocked nanoseconds for a target that measures time off CPU; 0 for one that samples. */
  duration: number;
}

export interface TimeRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

export interface AggregatedStack {
  frames: StackFrame[];
  value: number;
}

/** What an analysis would fetch, learnt without fetching it (see surveyProfilingStacks). */
export interface StackSurvey {
  /** Distinct non-empty frame lists queryProfilingStacks would return for the same selection. */
  distinct: number;
  /** Up to the asked number of those frame lists, any of them, root first. */
  sample: StackFrame[][];
}

export interface ProfilingDataStore {
  /**
   * Writes a batch atomically (all or nothing). A record with the same
   * (scheduleId, stackIdList, uploadTime) as a stored one replaces it, as in the OAP.
   */
  writeProfilingData(records: ProfilingDataRecord[]): Promise<void>;
  /**
   * Stacks of the schedules inside any of the ranges (uploadTime within [start, end]),
   * with the upstream analyzer's semantics: records identical in (uploadTime, value, frames)
   * count once even when ranges overlap; then values are summed per distinct frame list.
   * `value` is `count` for COUNT; for DURATION it is what the record's target sums
   * (core/targets: durationAggregate). Order: by first appearance (uploadTime ascending).
   */
  queryProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
  ): Promise<AggregatedStack[]>;
  /**
   * The selection of queryProfilingStacks (same schedules and ranges), surveyed for far less
   * than the fetch costs: the exact number of its distinct non-empty frame lists and up to
   * `sampleSize` of them. Lets an analysis be refused before the fetch when even this part of
   * it exceeds a limit.
   */
  surveyProfilingStacks(scheduleIds: string[], ranges: TimeRange[], sampleSize: number): Promise<StackSurvey>;
  /** TTL: deletes the records uploaded before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
