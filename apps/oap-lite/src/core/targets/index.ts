/**
 * The registry of oap-lite's profiling targets: one description per name of the protocol's list
 * (PROFILING_TARGET_TYPES), so the compiler refuses a name without one. Everything that behaves
 * differently per target asks here.
 */
import { PROFILING_TARGET_TYPES, type ProfilingTargetType } from '@swlite/protocol';
import type { TargetDescription } from './description';
import { network } from './network';
import { offCpu } from './off-cpu';
import { onCpu } from './on-cpu';

export type * from './description';

const REGISTRY: Readonly<Record<ProfilingTargetType, TargetDescription>> = {
  ON_CPU: onCpu,
  OFF_CPU: offCpu,
  NETWORK: network,
};

/** Every description, in the protocol's declaration order (the OAP enum's, which listings keep). */
export const TARGETS: readonly TargetDescription[] = PROFILING_TARGET_TYPES.map((type) => REGISTRY[type]);

export const targetOf = (type: ProfilingTargetType): TargetDescription => REGISTRY[type];

/** Targets continuous profiling policies may name, in declaration order. */
export const CONTINUOUS_POLICY_TARGETS: readonly ProfilingTargetType[] = TARGETS.filter((t) => t.continuousPolicy).map(
  (t) => t.type,
);

/** The target a continuous report's `targetTask` case names, or undefined. */
export const targetOfContinuousReport = (reportCase: string | undefined): TargetDescription | undefined =>
  TARGETS.find((t) => t.continuousReportCase === reportCase);

/** The target whose stacks an EBPFProfilingData `profiling` case carries, or undefined. */
export const targetOfUpload = (uploadCase: string | undefined): TargetDescription | undefined =>
  TARGETS.find((t) => t.upload !== null && t.upload.case === uploadCase);
