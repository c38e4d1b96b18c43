/**
 * Merges stacks into the trees the stock UI draws, with the Java OAP analyzer's rules:
 * one tree per distinct root frame; a child is the same node when symbol and stack type
 * match; every node's dumpCount is the sum over the stacks passing through it; element IDs
 * are numbered breadth-first from 1 within each tree and the root's parentId is 0.
 *
 * The builder is synchronous and keeps its nodes in numbers (a frame is its symbol's number and
 * a kernel bit), so it runs as well in an analysis thread (storage/sqlite/stack-readers.ts,
 * flame-threads.ts) as on the event loop (flame-tree.ts), and its result, a FlameForest, moves
 * between threads as typed arrays. It charges every new element to the budget, so a huge
 * analysis stops at its limit, and looks at the budget's abort every few hundred stacks.
 */
import type { FlameForest, StackFrame, StackType } from '../storage/types';
import type { AnalysisBudget } from './analysis-budget';

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

/** Stacks between two looks at the budget's abort. */
const STACKS_PER_ABORT_CHECK = 256;
const INITIAL_NODES = 1024;

/**
 * Stacks as the event loop hands them to an analysis thread: every frame's symbol in one list
 * (cloning a list of strings costs the sender far less than interning them would), a kernel bit
 * per frame, where each stack ends, and each stack's value.
 */
export interface StackPage {
  symbols: string[];
  kernel: Uint8Array;
  ends: Int32Array;
  values: Float64Array;
}

/** Builds a StackPage one stack at a time. */
export class StackPageWriter {
  private readonly symbols: string[] = [];
  private readonly kernel: number[] = [];
  private readonly ends: number[] = [];
  private readonly values: number[] = [];

  add(frames: readonly StackFrame[], value: number): void {
    for (const f of frames) {
      this.symbols.push(f.symbol);
      this.kernel.push(f.stackType === 'KERNEL_SPACE' ? 1 : 0);
    }
    this.ends.push(this.symbols.length);
    this.values.push(value);
  }

  get stacks(): number {
    return this.ends.length;
  }

  page(): StackPage {
    return {
      symbols: this.symbols,
      kernel: Uint8Array.from(this.kernel),
      ends: Int32Array.from(this.ends),
      values: Float64Array.from(this.values),
    };
  }
}

/** The buffers of a forest, to transfer rather than copy it to another thread. */
export const forestBuffers = (f: FlameForest): ArrayBuffer[] =>
  [f.treeEnds, f.parents, f.codes, f.counts].map((a) => a.buffer as ArrayBuffer);

export class FlameForestBuilder {
  private readonly symbolIds = new Map<string, number>();
  private readonly symbols: string[] = [];
  /** Root nodes by frame code, in order of first appearance. */
  private readonly roots = new Map<number, number>();
  /**
   * Per node: its first child (-1: none), and once it has a second, all its children by frame
   * code in order of first appearance. Most nodes have one child (a deep stack seen once is a
   * chain of them), and a Map for each made the worst-case analysis' 200,000 elements weigh
   * ~40 MB more in its thread's heap.
   */
  private firstChild = new Int32Array(INITIAL_NODES);
  private readonly children: Array<Map<number, number> | undefined> = [];
  private codes = new Int32Array(INITIAL_NODES);
  private counts = new Float64Array(INITIAL_NODES);
  private size = 0;
  private stacks = 0;

  constructor(private readonly budget: AnalysisBudget) {}

  /** Adds one stack, root first. Throws the budget's error when it passes a limit or was aborted. */
  add(frames: readonly StackFrame[], value: number): void {
    if (frames.length === 0) return;
    this.tick();
    let node = -1;
    for (const f of frames) node = this.step(node, this.code(f.symbol, f.stackType === 'KERNEL_SPACE'), value);
  }

  /** Adds every stack of a page, in order. */
  addPage(page: StackPage): void {
    let from = 0;
    for (let i = 0; i < page.ends.length; i++) {
      const to = page.ends[i]!;
      if (to > from) {
        this.tick();
        let node = -1;
        for (let f = from; f < to; f++)
          node = this.step(node, this.code(page.symbols[f]!, page.kernel[f] === 1), page.values[i]!);
      }
      from = to;
    }
  }

  /** The trees, each breadth-first. */
  finish(): FlameForest {
    const n = this.size;
    const order = new Int32Array(n);
    const parents = new Int32Array(n);
    const treeEnds = new Int32Array(this.roots.size);
    let at = 0;
    let tree = 0;
    for (const root of this.roots.values()) {
      const start = at;
      order[at++] = root;
      for (let head = start; head < at; head++) {
        const node = order[head]!;
        const id = head - start + 1;
        const kids = this.children[node];
        if (kids) {
          for (const child of kids.values()) {
            parents[at] = id;
            order[at++] = child;
          }
        } else if (this.firstChild[node]! >= 0) {
          parents[at] = id;
          order[at++] = this.firstChild[node]!;
        }
      }
      treeEnds[tree++] = at;
    }
    const codes = new Int32Array(n);
    const counts = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      codes[i] = this.codes[order[i]!]!;
      counts[i] = this.counts[order[i]!]!;
    }
    return { symbols: this.symbols, treeEnds, parents, codes, counts };
  }

  private tick(): void {
    if (this.stacks++ % STACKS_PER_ABORT_CHECK === 0) this.budget.checkAborted();
  }

  private code(symbol: string, kernel: boolean): number {
    let id = this.symbolIds.get(symbol);
    if (id === undefined) {
      id = this.symbols.length;
      this.symbolIds.set(symbol, id);
      this.symbols.push(symbol);
    }
    return id * 2 + (kernel ? 1 : 0);
  }

  /** The child of `parent` (-1: the forest) for `code`, created when new; adds `value` to it. */
  private step(parent: number, code: number, value: number): number {
    let node: number | undefined;
    let kids = parent < 0 ? this.roots : this.children[parent];
    if (kids) node = kids.get(code);
    else {
      const only = this.firstChild[parent]!;
      if (only >= 0 && this.codes[only] === code) node = only;
      else if (only >= 0) this.children[parent] = kids = new Map([[this.codes[only]!, only]]);
    }
    if (node === undefined) {
      this.budget.addElement(this.symbols[code >> 1]!);
      node = this.grow();
      this.codes[node] = code;
      if (kids) kids.set(code, node);
      else this.firstChild[parent] = node;
    }
    this.counts[node]! += value;
    return node;
  }

  private grow(): number {
    if (this.size === this.codes.length) {
      const codes = new Int32Array(this.size * 2);
      codes.set(this.codes);
      this.codes = codes;
      const counts = new Float64Array(this.size * 2);
      counts.set(this.counts);
      this.counts = counts;
      const firstChild = new Int32Array(this.size * 2);
      firstChild.set(this.firstChild);
      this.firstChild = firstChild;
    }
    this.firstChild[this.size] = -1;
    return this.size++;
  }
}

/** The trees as the GraphQL answer lists them. */
export const toFlameTrees = (forest: FlameForest): FlameTree[] => {
  const trees: FlameTree[] = [];
  let start = 0;
  for (const end of forest.treeEnds) {
    const elements = new Array<StackElement>(end - start);
    for (let i = start; i < end; i++) {
      const code = forest.codes[i]!;
      elements[i - start] = {
        id: String(i - start + 1),
        parentId: String(forest.parents[i]!),
        symbol: forest.symbols[code >> 1]!,
        stackType: code & 1 ? 'KERNEL_SPACE' : 'USER_SPACE',
        dumpCount: forest.counts[i]!,
      };
    }
    trees.push({ elements });
    start = end;
  }
  return trees;
};
