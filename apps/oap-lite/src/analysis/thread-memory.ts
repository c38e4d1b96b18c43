/**
 * The heap an analysis thread may use (SW_QUERY_MAX_ANALYSIS_THREAD_HEAP_MB). An analysis the
 * element and byte limits let through can still need much memory on the way (many distinct stacks
 * read before the tree is small again); past this heap the thread dies, the pool replaces it, and
 * the request is answered a limit error instead of the process growing without bound.
 */
import type { WorkerPoolOptions } from '../core/worker-pool';
import { AnalysisLimitError } from './analysis-budget';

export const ANALYSIS_HEAP_SETTING = 'SW_QUERY_MAX_ANALYSIS_THREAD_HEAP_MB';

/** Pool options of the threads that run analyses with an old-generation heap of `heapMb`. */
export const analysisThreadLimits = (heapMb: number | undefined): WorkerPoolOptions =>
  heapMb === undefined
    ? {}
    : {
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
        outOfMemory: () =>
          new AnalysisLimitError(
            ANALYSIS_HEAP_SETTING,
            heapMb,
            `the analysis needed more than ${heapMb} MB of memory in its thread (${ANALYSIS_HEAP_SETTING}): ` +
              'select fewer schedules or a shorter time range (timeRanges), or raise the limit on the server',
          ),
      };
