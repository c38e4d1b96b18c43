/**
 * Positions for a process topology, left to right in the direction of the calls: a node's column
 * is the longest chain of calls leading to it (calls that close a cycle are left out of that),
 * nodes of a column stacked in name order. Shared by the SVG and HTML renderers.
 */
import type { TopologyPicture } from './topology-types';

export interface NodeBox {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Layout {
  width: number;
  height: number;
  boxes: Map<string, NodeBox>;
}

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 44;
const COLUMN_GAP = 150;
const ROW_GAP = 46;
const MARGIN = 30;

/** Column of each node: longest path from a node nobody calls, over the calls that are not back edges. */
const columns = (picture: TopologyPicture): Map<string, number> => {
  const ids = picture.nodes.map((n) => n.id);
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of picture.edges) if (e.source !== e.target) out.get(e.source)?.push(e.target);
  // DFS colouring finds the back edges; what remains is acyclic.
  const state = new Map<string, 0 | 1 | 2>();
  const order: string[] = [];
  const forward = new Map<string, string[]>(ids.map((id) => [id, []]));
  const visit = (id: string) => {
    state.set(id, 1);
    for (const next of out.get(id) ?? []) {
      const s = state.get(next) ?? 0;
      if (s === 1) continue; // back edge
      forward.get(id)!.push(next);
      if (s === 0) visit(next);
    }
    state.set(id, 2);
    order.push(id);
  };
  const byName = [...picture.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const called = new Set(picture.edges.filter((e) => e.source !== e.target).map((e) => e.target));
  for (const n of byName) if (!called.has(n.id) && !state.has(n.id)) visit(n.id);
  for (const n of byName) if (!state.has(n.id)) visit(n.id);
  const column = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const id of order.reverse()) {
    for (const next of forward.get(id)!) column.set(next, Math.max(column.get(next)!, column.get(id)! + 1));
  }
  return column;
};

export const layoutTopology = (picture: TopologyPicture, top: number): Layout => {
  const column = columns(picture);
  const stacks: string[][] = [];
  const names = new Map(picture.nodes.map((n) => [n.id, n.name]));
  for (const n of picture.nodes) (stacks[column.get(n.id)!] ??= []).push(n.id);
  for (const s of stacks) s?.sort((a, b) => names.get(a)!.localeCompare(names.get(b)!));
  const rows = Math.max(1, ...stacks.map((s) => s?.length ?? 0));
  const columnHeight = (count: number) => count * NODE_HEIGHT + (count - 1) * ROW_GAP;
  const height = top + MARGIN + columnHeight(rows) + MARGIN;
  const width = Math.max(480, 2 * MARGIN + stacks.length * NODE_WIDTH + Math.max(0, stacks.length - 1) * COLUMN_GAP);
  const boxes = new Map<string, NodeBox>();
  stacks.forEach((stack, c) => {
    if (!stack) return;
    const offset = (columnHeight(rows) - columnHeight(stack.length)) / 2;
    stack.forEach((id, r) => {
      boxes.set(id, {
        id,
        x: MARGIN + c * (NODE_WIDTH + COLUMN_GAP),
        y: top + MARGIN + offset + r * (NODE_HEIGHT + ROW_GAP),
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
      });
    });
  });
  return { width, height, boxes };
};

/**
 * The path of a call between two boxes: a curve from the source's right side to the target's
 * left side, or, for a call back to an earlier column or within one, an arc around the outside;
 * `bend` separates the two directions of a pair. Returns the SVG path and the label position.
 */
export const edgePath = (from: NodeBox, to: NodeBox, bend: number): { d: string; labelX: number; labelY: number } => {
  if (from.id === to.id) {
    const x = from.x + from.width;
    const y = from.y + from.height / 2;
    return {
      d: `M ${x} ${y - 8} C ${x + 60} ${y - 50}, ${x + 60} ${y + 50}, ${x} ${y + 8}`,
      labelX: x + 48,
      labelY: y - 30,
    };
  }
  const forward = to.x > from.x;
  const x1 = forward ? from.x + from.width : from.x + from.width / 2;
  const y1 = forward ? from.y + from.height / 2 + bend : from.y + (to.y >= from.y ? from.height : 0);
  const x2 = forward ? to.x : to.x + to.width / 2;
  const y2 = forward ? to.y + to.height / 2 + bend : to.y + (to.y >= from.y ? 0 : to.height);
  if (forward) {
    const mx = (x1 + x2) / 2;
    return { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, labelX: mx, labelY: (y1 + y2) / 2 - 6 };
  }
  // backwards or the same column: bow out sideways
  const side = (to.x < from.x ? -1 : 1) * 70 + bend * 3;
  const cx = (x1 + x2) / 2 + side;
  const cy = (y1 + y2) / 2;
  return { d: `M ${x1} ${y1} Q ${cx} ${cy}, ${x2} ${y2}`, labelX: (x1 + x2) / 4 + cx / 2, labelY: cy - 6 };
};
