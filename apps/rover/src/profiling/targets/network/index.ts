/**
 * Network profiling (upstream: topology and L7 metrics from the processes' socket traffic) has its
 * slot in the registry but is not built yet: its kernel check says so, a task for it ends with
 * that reason logged, and the continuous monitor does not trigger it.
 */
import type { TargetModule } from '../target';

const NOT_BUILT = 'network profiling is not built into this rover yet';

export const network: TargetModule = {
  create: (type) => ({
    type,
    unavailable: () => NOT_BUILT,
    start: () => {
      throw new Error(NOT_BUILT);
    },
    continuousReport: { targetTask: 'network', network: { samplingURIRegexes: [] } },
  }),
};
