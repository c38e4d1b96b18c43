/**
 * Flame graph → one self-contained interactive HTML page (no external assets): click a frame to
 * zoom, Reset (or Esc) to zoom out, a search box that highlights matches and shows their share
 * of the total, tooltips with symbol, value and share; kernel and user frames coloured apart;
 * inlined functions (`name (inlined)` on the wire) drawn striped and italic under their plain name.
 */
import { frameColor, LEGEND } from './colors';
import { escapeXml } from './escape';
import { splitInlined } from './inlined';
import { formatValue, maxDepth } from './tree';
import type { FlameNode, RenderOptions } from './types';

const KIND_CODE = { root: 0, user: 1, kernel: 2 } as const;
/** Added to the kind code of an inlined frame. */
const INLINED_BIT = 4;

/** Compact form: [name index, kind code (+ INLINED_BIT), total, colour index, children?]. */
type Packed = [number, number, number, number, Packed[]?];

const pack = (root: FlameNode) => {
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const colors: string[] = [];
  const colorIndex = new Map<string, number>();
  const intern = <T>(list: T[], index: Map<T, number>, value: T) => {
    let i = index.get(value);
    if (i === undefined) {
      i = list.length;
      list.push(value);
      index.set(value, i);
    }
    return i;
  };
  const go = (node: FlameNode): Packed => {
    const { name, inlined } = node.kind === 'root' ? { name: node.name, inlined: false } : splitInlined(node.name);
    const packed: Packed = [
      intern(names, nameIndex, name),
      KIND_CODE[node.kind] + (inlined ? INLINED_BIT : 0),
      node.total,
      // The plain name's colour: a function keeps it whether inlined or not.
      intern(colors, colorIndex, frameColor(name, node.kind)),
    ];
    if (node.children.length) packed.push(node.children.map(go));
    return packed;
  };
  return { names, colors, tree: go(root) };
};

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const STYLE = `
:root { --bg:#fbfbfd; --fg:#1d1d24; --muted:#6a6a78; --line:#dcdce4; --accent:#6d28d9; --match:#d946ef; }
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--fg); font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { padding: 14px 18px 10px; border-bottom: 1px solid var(--line); background: #fff; position: sticky; top: 0; z-index: 5; }
h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
.subtitle { color: var(--muted); margin-top: 2px; }
.toolbar { display: flex; gap: 10px; align-items: center; margin-top: 10px; flex-wrap: wrap; }
.toolbar input { width: 300px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; outline: none; }
.toolbar input:focus { border-color: var(--accent); box-shadow: 0 0 0 3px rgba(109,40,217,.15); }
.toolbar button { padding: 6px 12px; border: 1px solid var(--line); border-radius: 6px; background: #fff; font: inherit; cursor: pointer; }
.toolbar button:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
.toolbar button:disabled { opacity: .45; cursor: default; }
#match { font-variant-numeric: tabular-nums; color: var(--muted); min-width: 16ch; }
#match.hit { color: #a21caf; font-weight: 600; }
.legend { margin-left: auto; display: flex; gap: 14px; color: var(--muted); }
.legend span::before { content: ""; display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; background: var(--c); }
main { padding: 12px 18px 24px; }
#chart { position: relative; width: 100%; user-select: none; }
.frame { position: absolute; height: calc(var(--row) - 1px); border-radius: 2px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
  padding: 0 4px; font: 11.5px/var(--row) ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; color: #1a1a1a; cursor: pointer; }
.frame:hover { filter: brightness(1.12) saturate(1.1); outline: 1px solid rgba(0,0,0,.35); z-index: 1; }
.frame.ancestor { opacity: .55; }
.frame.match { background: var(--match) !important; color: #fff; }
.frame.dim { opacity: .35; }
.frame.inlined { font-style: italic; background-image: repeating-linear-gradient(135deg, rgba(255,255,255,.45) 0 3px, transparent 3px 7px); }
.legend span.inlined::before { background: repeating-linear-gradient(135deg, rgba(255,255,255,.6) 0 2px, transparent 2px 4px), rgb(240,140,55); }
#tip { position: fixed; pointer-events: none; z-index: 10; background: rgba(24,24,32,.94); color: #f4f4f8; padding: 8px 10px; border-radius: 6px;
  max-width: 560px; box-shadow: 0 6px 20px rgba(0,0,0,.25); display: none; font-size: 12px; }
#tip .sym { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-weight: 600; word-break: break-all; margin-bottom: 4px; }
#tip .kind { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; margin-right: 6px; color: #111; }
#tip table { border-collapse: collapse; }
#tip td { padding: 1px 10px 1px 0; }
#tip td:last-child { text-align: right; font-variant-numeric: tabular-nums; }
footer { color: var(--muted); padding: 0 18px 16px; font-size: 12px; }
`;

const SCRIPT = `
(() => {
  const data = JSON.parse(document.getElementById('flame-data').textContent);
  const KIND = ['root', 'user', 'kernel'];
  const KIND_LABEL = ['all', 'user space', 'kernel space'];
  const unit = data.unit;
  const fmt = (v) => {
    if (unit === 'samples') return v.toLocaleString('en-US') + (v === 1 ? ' sample' : ' samples');
    if (v >= 1e9) return (v / 1e9).toFixed(v >= 1e10 ? 1 : 2) + ' s';
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 1 : 2) + ' ms';
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 1 : 2) + ' µs';
    return v + ' ns';
  };
  const pct = (part, whole) => (whole > 0 ? (100 * part / whole).toFixed(2) : '0.00') + '%';
  // Unpack into linked nodes.
  let maxDepth = 0;
  const build = (p, parent, depth) => {
    const node = { name: data.names[p[0]], kind: p[1] & 3, inlined: (p[1] & 4) !== 0, total: p[2], color: data.colors[p[3]], parent, depth, children: [], self: p[2], match: false };
    if (depth > maxDepth) maxDepth = depth;
    for (const c of p[4] || []) { const child = build(c, node, depth + 1); node.children.push(child); node.self -= child.total; }
    return node;
  };
  const root = build(data.tree, null, 0);
  const ROW = data.rowHeight;
  const chart = document.getElementById('chart');
  const tip = document.getElementById('tip');
  const search = document.getElementById('search');
  const matchEl = document.getElementById('match');
  const resetBtn = document.getElementById('reset');
  chart.style.setProperty('--row', ROW + 'px');
  chart.style.height = (maxDepth + 1) * ROW + 'px';
  let zoomed = root;
  let frames = [];

  const render = () => {
    const W = chart.clientWidth;
    chart.textContent = '';
    frames = [];
    const fragment = document.createDocumentFragment();
    const add = (node, x, w, cls) => {
      const el = document.createElement('div');
      el.className = 'frame' + (cls ? ' ' + cls : '') + (node.match ? ' match' : '') + (node.inlined ? ' inlined' : '');
      el.style.left = x + 'px';
      el.style.width = Math.max(w - 1, 1) + 'px';
      el.style.top = (maxDepth - node.depth) * ROW + 'px';
      el.style.backgroundColor = node.color; // not the shorthand: it would clear the stripes of inlined frames
      el.dataset.i = String(frames.length);
      el.dataset.name = node.name;
      el.dataset.kind = KIND[node.kind];
      if (node.inlined) el.dataset.inlined = 'true';
      if (w > 22) el.textContent = node.name;
      frames.push(node);
      fragment.appendChild(el);
    };
    for (let a = zoomed.parent; a; a = a.parent) add(a, 0, W, 'ancestor');
    const scale = zoomed.total > 0 ? W / zoomed.total : 0;
    const draw = (node, x) => {
      const w = node.total * scale;
      if (w < 0.5) return;
      add(node, x, w, node === zoomed ? 'zoomed' : '');
      let cx = x;
      for (const c of node.children) { draw(c, cx); cx += c.total * scale; }
    };
    draw(zoomed, 0);
    chart.appendChild(fragment);
    resetBtn.disabled = zoomed === root;
  };

  const zoom = (node) => { zoomed = node; tip.style.display = 'none'; render(); };
  chart.addEventListener('click', (e) => {
    const el = e.target.closest('.frame');
    if (el) zoom(frames[Number(el.dataset.i)]);
  });
  resetBtn.addEventListener('click', () => zoom(root));

  const applySearch = () => {
    const q = search.value.trim();
    let re = null;
    if (q) { try { re = new RegExp(q, 'i'); } catch { re = new RegExp(q.replace(/[.*+?^\${}()|[\\]\\\\]/g, '\\\\$&'), 'i'); } }
    let matched = 0;
    const visit = (node, under) => {
      node.match = !!re && node.kind !== 0 && re.test(node.name);
      if (node.match && !under) matched += node.total;
      for (const c of node.children) visit(c, under || node.match);
    };
    visit(root, false);
    if (!re) { matchEl.textContent = ''; matchEl.className = ''; }
    else {
      matchEl.textContent = 'Matched: ' + pct(matched, root.total) + ' (' + fmt(matched) + ')';
      matchEl.className = matched > 0 ? 'hit' : '';
    }
    render();
  };
  search.addEventListener('input', applySearch);

  const showTip = (e) => {
    const el = e.target.closest('.frame');
    if (!el) { tip.style.display = 'none'; return; }
    const n = frames[Number(el.dataset.i)];
    const rows = [['total', fmt(n.total)], ['of all', pct(n.total, root.total)]];
    if (zoomed !== root && n !== root) rows.push(['of zoomed', pct(n.total, zoomed.total)]);
    if (n.kind !== 0) rows.push(['self', fmt(n.self) + ' (' + pct(n.self, root.total) + ')']);
    tip.innerHTML = '<div class="sym"></div><span class="kind"></span><table></table>';
    tip.querySelector('.sym').textContent = n.kind === 0 ? 'all' : n.name;
    const kind = tip.querySelector('.kind');
    kind.textContent = KIND_LABEL[n.kind] + (n.inlined ? ' · inlined' : '');
    kind.style.background = n.color;
    const table = tip.querySelector('table');
    for (const [k, v] of rows) { const tr = table.insertRow(); tr.insertCell().textContent = k; tr.insertCell().textContent = v; }
    tip.style.display = 'block';
    const pad = 14, r = tip.getBoundingClientRect();
    let x = e.clientX + pad, y = e.clientY + pad;
    if (x + r.width > innerWidth - 4) x = e.clientX - r.width - pad;
    if (y + r.height > innerHeight - 4) y = e.clientY - r.height - pad;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  };
  chart.addEventListener('mousemove', showTip);
  chart.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { if (document.activeElement === search && search.value) { search.value = ''; applySearch(); } else zoom(root); }
    else if ((e.key === '/' || (e.key === 'f' && (e.ctrlKey || e.metaKey))) && document.activeElement !== search) { e.preventDefault(); search.focus(); }
  });
  let resizeTimer = 0;
  addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 60); });
  render();
  window.flamegraph = { zoom: (name) => { const find = (n) => n.name === name ? n : n.children.map(find).find(Boolean); const n = find(root); if (n) zoom(n); return !!n; }, reset: () => zoom(root) };
})();
`;

export interface HtmlOptions extends RenderOptions {
  /** Height of one frame row in CSS pixels (default 18). */
  rowHeight?: number;
}

const hasInlined = (node: FlameNode): boolean =>
  (node.kind !== 'root' && splitInlined(node.name).inlined) || node.children.some(hasInlined);

export const treeToHtml = (root: FlameNode, options: HtmlOptions = {}): string => {
  const unit = options.unit ?? 'samples';
  const title = options.title ?? 'Flame Graph';
  const { names, colors, tree } = pack(root);
  const payload = {
    unit,
    rowHeight: options.rowHeight ?? 18,
    names,
    colors,
    tree,
  };
  const legend =
    LEGEND.map((l) => `<span style="--c:${l.color}">${l.label}</span>`).join('') +
    (hasInlined(root) ? '<span class="inlined" title="a function the compiler inlined into its caller">inlined</span>' : '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>${escapeXml(title)}</h1>
  ${options.subtitle ? `<div class="subtitle">${escapeXml(options.subtitle)}</div>` : ''}
  <div class="toolbar">
    <input id="search" type="search" placeholder="Search symbols (regex)  —  press /" autocomplete="off" spellcheck="false">
    <button id="reset" type="button" disabled>Reset zoom</button>
    <span id="match" aria-live="polite"></span>
    <div class="legend">${legend}<span style="--c:${frameColor('all', 'root')}">total ${escapeXml(formatValue(root.total, unit))}, depth ${maxDepth(root)}</span></div>
  </div>
</header>
<main><div id="chart" role="img" aria-label="flame graph"></div></main>
<footer>Click a frame to zoom in, Reset or Esc to zoom out. Frame width is the share of ${unit === 'samples' ? 'samples' : 'off-CPU time'}; the root is at the bottom.</footer>
<div id="tip"></div>
<script id="flame-data" type="application/json">${scriptJson(payload)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
};
