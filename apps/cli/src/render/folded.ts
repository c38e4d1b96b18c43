/** Flame graph → Brendan Gregg's folded stacks: `root;…;leaf count`, one line per distinct stack. */
import { walk } from './tree';
import type { FlameNode } from './types';

export interface FoldedOptions {
  /** Append `_[k]` to kernel frames, as stackcollapse-perf.pl --kernel does (default true). */
  annotateKernel?: boolean;
}

/** `;` separates frames and a newline ends a record: neither may appear inside a frame name. */
export const foldedFrameName = (node: FlameNode, annotateKernel = true): string => {
  const name =
    node.name
      .replace(/;/g, ':')
      .replace(/[\r\n]+/g, ' ')
      .trim() || '[unknown]';
  return annotateKernel && node.kind === 'kernel' ? `${name}_[k]` : name;
};

export const treeToFolded = (root: FlameNode, options: FoldedOptions = {}): string => {
  const annotate = options.annotateKernel ?? true;
  const counts = new Map<string, number>();
  walk(root, (node, path) => {
    if (node.self <= 0) return;
    const line = path.map((p) => foldedFrameName(p, annotate)).join(';');
    counts.set(line, (counts.get(line) ?? 0) + node.self);
  });
  const lines = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([stack, n]) => `${stack} ${n}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
};
