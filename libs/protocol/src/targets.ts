/**
 * The eBPF profiling target and trigger types: the one list every package builds on (GraphQL's
 * EBPFProfilingTargetType and ContinuousProfilingTargetType, the TargetType/TriggerType args of the
 * rover command, stored task rows). Behaviour per type lives in each package's own table keyed by
 * these names (oap-lite's target descriptions, rover's target registry), never in branches on them.
 */
export const PROFILING_TARGET_TYPES = ['ON_CPU', 'OFF_CPU', 'NETWORK'] as const;
export type ProfilingTargetType = (typeof PROFILING_TARGET_TYPES)[number];

export const PROFILING_TRIGGER_TYPES = ['FIXED_TIME', 'CONTINUOUS_PROFILING'] as const;
export type ProfilingTriggerType = (typeof PROFILING_TRIGGER_TYPES)[number];

export const isProfilingTargetType = (value: unknown): value is ProfilingTargetType =>
  typeof value === 'string' && (PROFILING_TARGET_TYPES as readonly string[]).includes(value);

export const isProfilingTriggerType = (value: unknown): value is ProfilingTriggerType =>
  typeof value === 'string' && (PROFILING_TRIGGER_TYPES as readonly string[]).includes(value);
