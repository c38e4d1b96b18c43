/**
 * Merges stacks into the trees the stock UI draws, with the Java OAP analyzer's rules:
 * one tree per distinct root frame; a child is the same node when symbol and stack type
 * match; every node's dumpCount is the sum over the stacks passing through it; element IDs
 * are numbered breadth-first from 1 within each tree and the root's parentId is 0.
 *
 * The build charges every new element to the request's budget and gives the event loop back
 * every few milliseconds, so a huge analysis stops at its limit, answers to a cancelled request,
 * and does not hold up the other requests (gRPC ingest included) while it runs.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AggregatedStack, StackSurvey, StackType } from '../storage/types';
import { unlimitedBudget, type AnalysisBudget } from './analysis-budget';

export interface StackElement {
  id: string;
  parentId: string;
  symbol: string;
  stackType: StackType;
  dumpCount: number;
}

export interface FlameTree {
  elements: StackElement[];
}

export interface Analyzation {
  tip: string | null;
  trees: FlameTree[];
}

interface Node {
  symbol: string;
  stackType: StackType;
  dumpCount: number;
  children: Map<string, Node>;
}

const frameKey = (symbol: string, stackType: StackType): string =>
  stackType === 'KERNEL_SPACE' ? `k\u0000${symbol}` : `u\u0000${symbol}`;

const newNode = (symbol: string, stackType: StackType): Node => ({
  symbol,
  stackType,
  dumpCount: 0,
  children: new Map(),
});

/** Work between two looks at the clock, and the longest stretch without yielding. */
const STACKS_PER_CLOCK_CHECK = 256;
const MAX_SLICE_MS = 8;

/**
 * Refuses before the fetch what a survey of the stacks (ProfilingDataStore.surveyProfilingStacks)
 * already shows to be over the budget: more distinct stacks than elements left, or sampled stacks
 * whose trees alone pass a limit. Every node of the sample's trees is a node of the full trees,
 * so this never refuses an analysis the full build would allow, and it spends nothing.
 */
export const precheckFlameTrees = async (survey: StackSurvey, budget: AnalysisBudget): Promise<void> => {
  budget.checkStacks(survey.distinct);
  await buildFlameTrees(
    survey.sample.map((frames) => ({ frames, value: 0 })),
    budget.trial(),
  );
};

export const buildFlameTrees = async (
  stacks: readonly AggregatedStack[],
  budget: AnalysisBudget = unlimitedBudget(),
): Promise<FlameTree[]> => {
  budget.checkAborted();
  let withFrames = 0;
  for (const stack of stacks) if (stack.frames.length > 0) withFrames++;
  budget.checkStacks(withFrames);
  const roots = new Map<string, Node>();
  let sliceStart = performance.now();
  for (let i = 0; i < stacks.length; i++) {
    if (i % STACKS_PER_CLOCK_CHECK === 0 && performance.now() - sliceStart > MAX_SLICE_MS) {
      await yieldToEventLoop();
      budget.checkAborted();
      sliceStart = performance.now();
    }
    const { frames, value } = stacks[i]!;
    const first = frames[0];
    if (!first) continue;
    const rootKey = frameKey(first.symbol, first.stackType);
    let node: Node | undefined = roots.get(rootKey);
    if (!node) {
      budget.addElement(first.symbol);
      node = newNode(first.symbol, first.stackType);
      roots.set(rootKey, node);
    }
    node.dumpCount += value;
    for (let depth = 1; depth < frames.length; depth++) {
      const frame = frames[depth]!;
      const key = frameKey(frame.symbol, frame.stackType);
      let child: Node | undefined = node.children.get(key);
      if (!child) {
        budget.addElement(frame.symbol);
        child = newNode(frame.symbol, frame.stackType);
        node.children.set(key, child);
      }
      child.dumpCount += value;
      node = child;
    }
  }
  return [...roots.values()].map(flatten);
};

const flatten = (root: Node): FlameTree => {
  const elements: StackElement[] = [];
  const queue: Array<{ node: Node; parentId: number }> = [{ node: root, parentId: 0 }];
  let nextId = 1;
  for (let head = 0; head < queue.length; head++) {
    const { node, parentId } = queue[head]!;
    const id = nextId++;
    elements.push({
      id: String(id),
      parentId: String(parentId),
      symbol: node.symbol,
      stackType: node.stackType,
      dumpCount: node.dumpCount,
    });
    for (const child of node.children.values()) queue.push({ node: child, parentId: id });
  }
  return { elements };
};
