/** Analysis trees (flat element lists) → one merged FlameNode tree. */
import type { AnalysisTree, FrameKind, FlameNode } from './types';

const kindOf = (stackType: string): FrameKind => (stackType === 'KERNEL_SPACE' ? 'kernel' : 'user');

const toNumber = (value: number | string): number => {
  const n = typeof value === 'string' ? Number(value) : value;
  return Number.isFinite(n) && n > 0 ? n : 0;
};

const byName = (a: FlameNode, b: FlameNode) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0;

/** Merges `child` into `siblings`: same name and kind are one frame, as the OAP merges them. */
const mergeInto = (siblings: FlameNode[], child: FlameNode): void => {
  const same = siblings.find((s) => s.name === child.name && s.kind === child.kind);
  if (!same) {
    siblings.push(child);
    return;
  }
  same.total += child.total;
  same.self += child.self;
  for (const grandchild of child.children) mergeInto(same.children, grandchild);
};

const finish = (node: FlameNode): void => {
  node.children.sort(byName);
  let childTotal = 0;
  for (const child of node.children) {
    finish(child);
    childTotal += child.total;
  }
  // Inclusive counts are authoritative; a parent never reads smaller than its children.
  if (node.total < childTotal) node.total = childTotal;
  node.self = node.total - childTotal;
};

/**
 * Builds the flame graph of one or more analysis trees under a synthetic root named "all".
 * Elements whose parent is missing become roots; frames with the same name and kind under the
 * same parent are merged; children are sorted by name (as flamegraph.pl does).
 */
export const buildFlameGraph = (trees: readonly AnalysisTree[]): FlameNode => {
  const root: FlameNode = {
    name: 'all',
    kind: 'root',
    total: 0,
    self: 0,
    children: [],
  };
  for (const tree of trees) {
    const nodes = new Map<string, FlameNode>();
    for (const e of tree.elements) {
      nodes.set(String(e.id), {
        name: e.symbol,
        kind: kindOf(e.stackType),
        total: toNumber(e.dumpCount),
        self: 0,
        children: [],
      });
    }
    const tops: FlameNode[] = [];
    for (const e of tree.elements) {
      const node = nodes.get(String(e.id))!;
      const parent = String(e.parentId) === String(e.id) ? undefined : nodes.get(String(e.parentId));
      (parent ? parent.children : tops).push(node);
    }
    for (const top of tops) mergeInto(root.children, top);
  }
  for (const child of root.children) finish(child);
  root.children.sort(byName);
  root.total = root.children.reduce((sum, c) => sum + c.total, 0);
  root.self = 0;
  return root;
};

/** Depth of the deepest frame (root = 0). */
export const maxDepth = (node: FlameNode): number => {
  let depth = 0;
  for (const child of node.children) depth = Math.max(depth, 1 + maxDepth(child));
  return depth;
};

/** Visits every frame below the root with its path (root excluded). */
export const walk = (root: FlameNode, visit: (node: FlameNode, path: readonly FlameNode[]) => void): void => {
  const path: FlameNode[] = [];
  const go = (node: FlameNode) => {
    path.push(node);
    visit(node, path);
    for (const child of node.children) go(child);
    path.pop();
  };
  for (const child of root.children) go(child);
};

/** The frames with the most self value, hottest first. */
export const hottestFrames = (root: FlameNode, limit = 10): Array<{ name: string; kind: FrameKind; self: number; total: number }> => {
  const bySymbol = new Map<string, { name: string; kind: FrameKind; self: number; total: number }>();
  walk(root, (node, path) => {
    const key = `${node.kind}\u0000${node.name}`;
    let entry = bySymbol.get(key);
    if (!entry) bySymbol.set(key, (entry = { name: node.name, kind: node.kind, self: 0, total: 0 }));
    entry.self += node.self;
    // Count inclusive time once per stack even when the symbol recurses.
    if (!path.slice(0, -1).some((p) => p.name === node.name && p.kind === node.kind)) entry.total += node.total;
  });
  return [...bySymbol.values()]
    .filter((e) => e.self > 0)
    .sort((a, b) => b.self - a.self || (a.name < b.name ? -1 : 1))
    .slice(0, limit);
};

/** "1.2 s", "340 ms"... for nanosecond values; plain counts for samples. */
export const formatValue = (value: number, unit: 'samples' | 'nanoseconds' = 'samples'): string => {
  if (unit === 'samples') return `${value.toLocaleString('en-US')} sample${value === 1 ? '' : 's'}`;
  if (value >= 1e9) return `${(value / 1e9).toFixed(value >= 1e10 ? 1 : 2)} s`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 1 : 2)} ms`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e4 ? 1 : 2)} µs`;
  return `${value} ns`;
};

export const percent = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : '0.00%');
