/**
 * Positions for a process topology, left to right in the direction of the calls, shared by the
 * SVG and HTML renderers:
 * - a node's column is the longest chain of calls leading to it (calls that close a cycle are left
 *   out of that), and a node nobody calls sits just left of the first node it calls;
 * - nodes of a column are stacked in name order and centred;
 * - a call to the next column is an S-curve between the boxes' sides; a call that skips columns
 *   runs in its own lane above the boxes and a call back in its own lane below them, turning in
 *   the gaps between columns, so that no call crosses a box and no two lane labels overlap.
 */
import type { TopologyPicture } from './topology-types';

export interface NodeBox {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EdgeRoute {
  /** SVG path data. */
  d: string;
  labelX: number;
  labelY: number;
  /** text-anchor of the label (default middle). */
  anchor?: 'start' | 'middle';
}

export interface Layout {
  width: number;
  height: number;
  boxes: Map<string, NodeBox>;
  routes: Map<string, EdgeRoute>;
}

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 44;
const COLUMN_GAP = 150;
const ROW_GAP = 46;
const MARGIN = 30;
const LANE = 22;

/** Column of each node (see the module comment). */
const columns = (picture: TopologyPicture): Map<string, number> => {
  const ids = picture.nodes.map((n) => n.id);
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of picture.edges) if (e.source !== e.target && out.has(e.target)) out.get(e.source)?.push(e.target);
  // DFS colouring finds the back edges; what remains is acyclic.
  const state = new Map<string, 1 | 2>();
  const finished: string[] = [];
  const forward = new Map<string, string[]>(ids.map((id) => [id, []]));
  const visit = (id: string) => {
    state.set(id, 1);
    for (const next of out.get(id) ?? []) {
      if (state.get(next) === 1) continue; // back edge
      forward.get(id)!.push(next);
      if (!state.has(next)) visit(next);
    }
    state.set(id, 2);
    finished.push(id);
  };
  const byName = [...picture.nodes].sort((a, b) => a.name.localeCompare(b.name));
  const called = new Set(picture.edges.filter((e) => e.source !== e.target).map((e) => e.target));
  for (const n of byName) if (!called.has(n.id) && !state.has(n.id)) visit(n.id);
  for (const n of byName) if (!state.has(n.id)) visit(n.id);
  const column = new Map<string, number>(ids.map((id) => [id, 0]));
  const order = finished.reverse();
  for (const id of order) {
    for (const next of forward.get(id)!) column.set(next, Math.max(column.get(next)!, column.get(id)! + 1));
  }
  const callers = new Set(order.flatMap((id) => forward.get(id)!));
  for (const id of order) {
    const targets = forward.get(id)!;
    if (!callers.has(id) && targets.length)
      column.set(id, Math.max(0, Math.min(...targets.map((t) => column.get(t)!)) - 1));
  }
  return column;
};

type Kind = 'next' | 'over' | 'under';

export const layoutTopology = (picture: TopologyPicture, top: number): Layout => {
  const column = columns(picture);
  const stacks: string[][] = [];
  const names = new Map(picture.nodes.map((n) => [n.id, n.name]));
  for (const n of picture.nodes) (stacks[column.get(n.id)!] ??= []).push(n.id);
  for (const s of stacks) s?.sort((a, b) => names.get(a)!.localeCompare(names.get(b)!));

  const edges = picture.edges.filter((e) => column.has(e.source) && column.has(e.target));
  const kindOf = (e: { source: string; target: string }): Kind => {
    const span = column.get(e.target)! - column.get(e.source)!;
    return span === 1 ? 'next' : span > 1 ? 'over' : 'under';
  };
  const overLanes = edges.filter((e) => kindOf(e) === 'over').length;
  const underLanes = edges.filter((e) => kindOf(e) === 'under').length;

  const rows = Math.max(1, ...stacks.map((s) => s?.length ?? 0));
  const columnHeight = (count: number) => count * NODE_HEIGHT + (count - 1) * ROW_GAP;
  const boxesTop = top + MARGIN + overLanes * LANE;
  const boxesBottom = boxesTop + columnHeight(rows);
  const height = boxesBottom + underLanes * LANE + MARGIN;
  const width = Math.max(
    480,
    2 * MARGIN + stacks.length * NODE_WIDTH + Math.max(0, stacks.length - 1) * COLUMN_GAP + 60,
  );
  const boxes = new Map<string, NodeBox>();
  stacks.forEach((stack, c) => {
    if (!stack) return;
    const offset = (columnHeight(rows) - columnHeight(stack.length)) / 2;
    stack.forEach((id, r) => {
      boxes.set(id, {
        id,
        x: MARGIN + c * (NODE_WIDTH + COLUMN_GAP),
        y: boxesTop + offset + r * (NODE_HEIGHT + ROW_GAP),
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
      });
    });
  });

  const routes = new Map<string, EdgeRoute>();
  let over = 0;
  let under = 0;
  let side = 0;
  // vertical runs go through the gaps between columns, spread so that they do not overlap
  const gapRight = (box: NodeBox, k: number) => box.x + box.width + 16 + (k % 6) * 10;
  const gapLeft = (box: NodeBox, k: number) => box.x - 16 - (k % 6) * 10;
  for (const e of edges) {
    const from = boxes.get(e.source)!;
    const to = boxes.get(e.target)!;
    const kind = kindOf(e);
    const fromMid = from.y + from.height / 2;
    const toMid = to.y + to.height / 2;
    if (e.source === e.target) {
      const x = from.x + from.width;
      routes.set(e.id, {
        d: `M ${x} ${fromMid - 8} C ${x + 50} ${fromMid - 40}, ${x + 50} ${fromMid + 40}, ${x} ${fromMid + 8}`,
        labelX: x + 40,
        labelY: fromMid - 24,
      });
    } else if (kind === 'next') {
      const [x1, x2] = [from.x + from.width, to.x];
      const mx = (x1 + x2) / 2;
      routes.set(e.id, {
        d: `M ${x1} ${fromMid} C ${mx} ${fromMid}, ${mx} ${toMid}, ${x2} ${toMid}`,
        labelX: mx,
        labelY: (fromMid + toMid) / 2 - 5,
      });
    } else if (kind === 'over') {
      const k = over++;
      const lane = boxesTop - 14 - k * LANE;
      const points: Point[] = [
        [from.x + from.width, fromMid],
        [gapRight(from, k), fromMid],
        [gapRight(from, k), lane],
        [gapLeft(to, k), lane],
        [gapLeft(to, k), toMid],
        [to.x, toMid],
      ];
      routes.set(e.id, { d: roundedPath(points), labelX: (gapRight(from, k) + gapLeft(to, k)) / 2, labelY: lane - 5 });
    } else if (column.get(e.source) === column.get(e.target)) {
      // within a column: out of the right side and back in
      const x = gapRight(from, side++);
      routes.set(e.id, {
        d: roundedPath([
          [from.x + from.width, fromMid],
          [x, fromMid],
          [x, toMid],
          [to.x + to.width, toMid],
        ]),
        labelX: x + 4,
        labelY: (fromMid + toMid) / 2,
        anchor: 'start',
      });
    } else {
      // back to an earlier column: in a lane below the boxes, into the target's right side
      const k = under++;
      const lane = boxesBottom + 18 + k * LANE;
      const points: Point[] = [
        [from.x, fromMid],
        [gapLeft(from, k), fromMid],
        [gapLeft(from, k), lane],
        [gapRight(to, k), lane],
        [gapRight(to, k), toMid],
        [to.x + to.width, toMid],
      ];
      routes.set(e.id, { d: roundedPath(points), labelX: (gapLeft(from, k) + gapRight(to, k)) / 2, labelY: lane - 5 });
    }
  }
  separateLabels(edges, routes);
  return { width, height, boxes, routes };
};

const LABEL_CHAR_WIDTH = 6.6;
const LABEL_HEIGHT = 13;

/** Moves labels that would overlap an earlier one down, a line at a time (crossing curves share midpoints). */
const separateLabels = (edges: TopologyPicture['edges'], routes: Map<string, EdgeRoute>) => {
  const placed: Array<{ x0: number; x1: number; y0: number; y1: number }> = [];
  for (const e of edges) {
    const r = routes.get(e.id);
    if (!r) continue;
    const w = e.label.length * LABEL_CHAR_WIDTH;
    const x0 = r.anchor === 'start' ? r.labelX : r.labelX - w / 2;
    const box = () => ({ x0, x1: x0 + w, y0: r.labelY - LABEL_HEIGHT + 2, y1: r.labelY + 2 });
    for (let tries = 0; tries < 20; tries++) {
      const b = box();
      if (!placed.some((p) => b.x0 < p.x1 && p.x0 < b.x1 && b.y0 < p.y1 && p.y0 < b.y1)) break;
      r.labelY += LABEL_HEIGHT;
    }
    placed.push(box());
  }
};

type Point = [number, number];

/** A polyline through the points with rounded corners. */
const roundedPath = (points: Point[], radius = 8): string => {
  const parts = [`M ${points[0]![0]} ${points[0]![1]}`];
  for (let i = 1; i < points.length - 1; i++) {
    const [px, py] = points[i - 1]!;
    const [x, y] = points[i]!;
    const [nx, ny] = points[i + 1]!;
    const r = Math.min(radius, Math.hypot(x - px, y - py) / 2, Math.hypot(nx - x, ny - y) / 2);
    const toward = (ax: number, ay: number, d: number): Point => {
      const len = Math.hypot(ax - x, ay - y) || 1;
      return [x + ((ax - x) / len) * d, y + ((ay - y) / len) * d];
    };
    const [ax, ay] = toward(px, py, r);
    const [bx, by] = toward(nx, ny, r);
    parts.push(`L ${ax.toFixed(1)} ${ay.toFixed(1)}`, `Q ${x} ${y}, ${bx.toFixed(1)} ${by.toFixed(1)}`);
  }
  const last = points[points.length - 1]!;
  parts.push(`L ${last[0]} ${last[1]}`);
  return parts.join(' ');
};
