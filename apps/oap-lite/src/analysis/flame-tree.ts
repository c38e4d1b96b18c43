/**
 * The tree build on the event loop's own thread, for a store without analysis threads
 * (SW_STORAGE_SQLITE_READ_THREADS=0) and for tests: it gives the event loop back every few
 * milliseconds, so the other requests (gRPC ingest included) are served meanwhile.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AggregatedStack, FlameForest } from '../storage/types';
import { unlimitedBudget, type AnalysisBudget } from './analysis-budget';
import { FlameForestBuilder, toFlameTrees, type FlameTree } from './flame-forest';

/** Work between two looks at the clock, and the longest stretch without yielding. */
const STACKS_PER_CLOCK_CHECK = 256;
const MAX_SLICE_MS = 8;

export const buildFlameForest = async (
  stacks: readonly AggregatedStack[],
  budget: AnalysisBudget = unlimitedBudget(),
): Promise<FlameForest> => {
  budget.checkAborted();
  let withFrames = 0;
  for (const stack of stacks) if (stack.frames.length > 0) withFrames++;
  // Every distinct stack ends at a node of its own: too many of them is refused before building.
  budget.checkStacks(withFrames);
  const builder = new FlameForestBuilder(budget);
  let sliceStart = performance.now();
  for (let i = 0; i < stacks.length; i++) {
    if (i % STACKS_PER_CLOCK_CHECK === 0 && performance.now() - sliceStart > MAX_SLICE_MS) {
      await yieldToEventLoop();
      budget.checkAborted();
      sliceStart = performance.now();
    }
    builder.add(stacks[i]!.frames, stacks[i]!.value);
  }
  return builder.finish();
};

export const buildFlameTrees = async (
  stacks: readonly AggregatedStack[],
  budget: AnalysisBudget = unlimitedBudget(),
): Promise<FlameTree[]> => toFlameTrees(await buildFlameForest(stacks, budget));
