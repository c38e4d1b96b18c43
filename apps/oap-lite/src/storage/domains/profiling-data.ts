/**
 * eBPF profiling data: the uploaded stacks (the OAP's ebpf_profiling_data model), stored already
 * decoded and interned (storage/stack-interning.ts), so analysis never parses protobuf.
 */
import type { ProfilingTargetType } from '@swlite/protocol';
import type { AnalysisBudget } from '../../analysis/analysis-budget';

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

/**
 * Flame-graph trees in numbers, as an analysis thread hands them over (typed arrays move between
 * threads without a copy; objects would be copied one by one). Elements are listed tree by tree,
 * each tree breadth-first, so an element's id is its place in its tree (from 1).
 */
export interface FlameForest {
  /** The symbols the elements name. */
  symbols: string[];
  /** Where each tree's elements end (exclusive), one entry per tree. */
  treeEnds: Int32Array;
  /** Per element: its parent's id within the tree (0 for the root). */
  parents: Int32Array;
  /** Per element: its symbol's index in `symbols` * 2, + 1 for a kernel frame. */
  codes: Int32Array;
  /** Per element: the summed value of the stacks through it. */
  counts: Float64Array;
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
   * The stacks queryProfilingStacks returns, merged into the flame-graph trees of
   * analysis/flame-forest.ts off the event loop's thread, charging every element to `budget`: an
   * analysis over its limits stops part-way through the fetch, and one whose request is aborted
   * stops at its next check.
   */
  analyzeProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: AggregateType,
    budget: AnalysisBudget,
  ): Promise<FlameForest>;
  /** TTL: deletes the records uploaded before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
