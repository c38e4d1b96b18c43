/**
 * A process topology → one self-contained HTML page (no external assets): the SVG picture, where
 * clicking a call shows its details beside it and clicking a process highlights its calls (Esc
 * clears), and below it the tables the terminal printed.
 */
import { escapeXml } from './escape';
import { layoutTopology } from './topology-layout';
import { topologyShapes } from './topology-svg';
import type { TopologyPicture } from './topology-types';

export interface TopologyTable {
  title: string;
  head: string[];
  rows: string[][];
}

export interface TopologyHtmlOptions {
  tables?: TopologyTable[];
}

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const STYLE = `
:root { --bg:#fbfbfd; --fg:#1d1d24; --muted:#6a6a78; --line:#dcdce4; --accent:#4f46e5; }
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--fg); font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { padding: 14px 18px 10px; border-bottom: 1px solid var(--line); background: #fff; }
h1 { font-size: 17px; margin: 0 0 2px; }
.sub { color: var(--muted); }
main { display: flex; gap: 16px; padding: 16px 18px; align-items: flex-start; }
#picture { overflow: auto; border: 1px solid var(--line); background: #fff; border-radius: 6px; flex: 1 1 auto; }
#picture svg { display: block; }
#details { width: 320px; flex: 0 0 320px; border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 10px 12px; }
#details h2 { font-size: 14px; margin: 0 0 8px; word-break: break-all; }
#details dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 10px; margin: 0; }
#details dt { color: var(--muted); }
#details dd { margin: 0; word-break: break-all; }
.edge, .node { cursor: pointer; }
.edge.selected path:first-of-type { stroke-width: 3; }
.node.selected rect { stroke-width: 3; }
.dim { opacity: 0.25; }
section { padding: 0 18px 16px; }
section h2 { font-size: 14px; margin: 12px 0 6px; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f8; }
`;

const SCRIPT = `
const data = JSON.parse(document.getElementById('topology-data').textContent);
const panel = document.getElementById('details');
const edges = [...document.querySelectorAll('.edge')];
const nodes = [...document.querySelectorAll('.node')];
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const clear = () => {
  for (const el of [...edges, ...nodes]) el.classList.remove('selected', 'dim');
  panel.innerHTML = '<p class="sub">Click a call (arrow) for its metrics, or a process to highlight its calls.</p>';
};
const show = (title, rows) => {
  panel.innerHTML = '<h2>' + esc(title) + '</h2><dl>' + rows.map(([k, v]) => '<dt>' + esc(k) + '</dt><dd>' + esc(v) + '</dd>').join('') + '</dl>';
};
for (const el of edges) el.addEventListener('click', (ev) => {
  ev.stopPropagation();
  clear();
  const e = data.edges[el.dataset.id];
  for (const other of [...edges, ...nodes]) other.classList.add('dim');
  el.classList.remove('dim'); el.classList.add('selected');
  for (const n of nodes) if (n.dataset.id === e.source || n.dataset.id === e.target) n.classList.remove('dim');
  show(data.names[e.source] + ' → ' + data.names[e.target], e.details);
});
for (const el of nodes) el.addEventListener('click', (ev) => {
  ev.stopPropagation();
  clear();
  const id = el.dataset.id;
  el.classList.add('selected');
  const mine = [];
  for (const other of edges) {
    const e = data.edges[other.dataset.id];
    if (e.source === id || e.target === id) mine.push(e); else other.classList.add('dim');
  }
  const linked = new Set(mine.flatMap((e) => [e.source, e.target]));
  for (const n of nodes) if (!linked.has(n.dataset.id) && n !== el) n.classList.add('dim');
  show(data.names[id], [['calls', String(mine.length)], ...mine.map((e) => [data.names[e.source] + ' → ' + data.names[e.target], e.label])]);
});
document.getElementById('picture').addEventListener('click', clear);
document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') clear(); });
clear();
`;

const tableHtml = (t: TopologyTable) =>
  `<section><h2>${escapeXml(t.title)}</h2>` +
  (t.rows.length
    ? `<table><thead><tr>${t.head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${t.rows
        .map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`
    : `<p class="sub">none</p>`) +
  `</section>`;

export const topologyToHtml = (picture: TopologyPicture, options: TopologyHtmlOptions = {}): string => {
  const layout = layoutTopology(picture, 0);
  const data = {
    names: Object.fromEntries(picture.nodes.map((n) => [n.id, n.name])),
    edges: Object.fromEntries(
      picture.edges.map((e) => [e.id, { source: e.source, target: e.target, label: e.label, details: e.details }]),
    ),
  };
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(picture.title)}</title><style>${STYLE}</style></head><body>`,
    `<header><h1>${escapeXml(picture.title)}</h1>${picture.subtitle ? `<div class="sub">${escapeXml(picture.subtitle)}</div>` : ''}</header>`,
    `<main><div id="picture"><svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" font-family="Verdana, 'DejaVu Sans', sans-serif" font-size="12">`,
    ...(picture.nodes.length
      ? []
      : [`<text x="${layout.width / 2}" y="60" text-anchor="middle" fill="#777">no traffic observed</text>`]),
    ...topologyShapes(picture, layout),
    `</svg></div><aside id="details"></aside></main>`,
    ...(options.tables ?? []).map(tableHtml),
    `<script type="application/json" id="topology-data">${scriptJson(data)}</script>`,
    `<script>${SCRIPT}</script>`,
    '</body></html>',
    '',
  ].join('\n');
};
