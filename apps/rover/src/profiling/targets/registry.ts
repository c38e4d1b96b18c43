/**
 * The profiling target types this rover knows, one module each. Typed as a Record over the
 * protocol's list of target types: a type added there does not compile until it has an entry here.
 */
import type { ProfilingTargetType } from '@swlite/protocol';
import { network } from './network';
import { offCpu } from './off-cpu';
import { onCpu } from './on-cpu';
import type { ProfilingTarget, TargetContext, TargetModule } from './target';

export const TARGET_MODULES = {
  ON_CPU: onCpu,
  OFF_CPU: offCpu,
  NETWORK: network,
} as const satisfies Record<ProfilingTargetType, TargetModule>;

/** The targets of one rover, built once for its settings. */
export interface TargetRegistry {
  get(type: ProfilingTargetType): ProfilingTarget;
  all(): ProfilingTarget[];
}

export const createTargetRegistry = (ctx: TargetContext): TargetRegistry => {
  const targets = new Map<ProfilingTargetType, ProfilingTarget>();
  for (const [type, module] of Object.entries(TARGET_MODULES) as Array<[ProfilingTargetType, TargetModule]>) {
    targets.set(type, module.create(type, ctx));
  }
  return {
    get: (type) => {
      const target = targets.get(type);
      if (!target) throw new Error(`no profiling target registered for ${String(type)}`);
      return target;
    },
    all: () => [...targets.values()],
  };
};
