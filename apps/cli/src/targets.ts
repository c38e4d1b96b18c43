/**
 * What the CLI does with each eBPF profiling target type. The names are @swlite/protocol's one
 * list; a new type there fails to compile here until it has its row.
 */
import { PROFILING_TARGET_TYPES, type ProfilingTargetType } from '@swlite/protocol';
import type { AggregateType } from './api';

export interface TargetView {
  /** How titles and messages name it ("on-CPU flame graph"). */
  label: string;
  /** Whether its data are stacks the CLI draws as a flame graph (and `profile` can create it). */
  flameGraph: boolean;
  /** The --aggregate values its stacks carry (COUNT: samples or switches; DURATION: time off CPU). */
  aggregates: readonly AggregateType[];
}

export const TARGET_VIEWS: Record<ProfilingTargetType, TargetView> = {
  ON_CPU: { label: 'on-CPU', flameGraph: true, aggregates: ['COUNT'] },
  OFF_CPU: { label: 'off-CPU', flameGraph: true, aggregates: ['COUNT', 'DURATION'] },
  NETWORK: { label: 'network', flameGraph: false, aggregates: [] },
};

/** Every target type, for filters (`tasks --target`). */
export const TARGET_TYPES = PROFILING_TARGET_TYPES;

/** The target types `profile` creates and `flamegraph` draws. */
export const FLAME_GRAPH_TARGETS = PROFILING_TARGET_TYPES.filter((t) => TARGET_VIEWS[t].flameGraph);

/** What `profile` records when no --target is given: the first flame-graph target (on-CPU). */
export const DEFAULT_FLAME_GRAPH_TARGET = FLAME_GRAPH_TARGETS[0];

/** The target types whose stacks carry this aggregate. */
export const targetsWithAggregate = (aggregate: AggregateType): ProfilingTargetType[] =>
  PROFILING_TARGET_TYPES.filter((t) => TARGET_VIEWS[t].aggregates.includes(aggregate));
