/** Topology layout and its SVG and HTML pictures: placement, routes that avoid boxes, escaping. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { layoutTopology, type NodeBox } from './topology-layout';
import { topologyToHtml, topologyToSvg } from './index';
import type { TopologyPicture } from './topology-types';

const node = (id: string, real = true) => ({ id, name: id, real });
const edge = (source: string, target: string, label = `${source}→${target}`, errors = false) => ({
  id: `${source}-${target}`,
  source,
  target,
  label,
  details: [['Req/min', '60']] as Array<[string, string]>,
  errors,
});

const PICTURE: TopologyPicture = {
  title: 'shop / node-1: process topology',
  subtitle: 'task abc',
  nodes: [
    node('nginx'),
    node('app'),
    node('db'),
    node('worker'),
    node('UNKNOWN_REMOTE', false),
    node('UNKNOWN_LOCAL', false),
  ],
  edges: [
    edge('UNKNOWN_LOCAL', 'nginx', 'http · 12/min', true),
    edge('nginx', 'app', 'http · 600/min'),
    edge('app', 'db', 'tcp · 1.2 MiB'),
    edge('db', 'app', 'tcp · 3 KiB'),
    edge('nginx', 'db', 'tcp · 1 KiB'),
    edge('worker', 'db', 'tcp · 9 KiB'),
    edge('app', 'UNKNOWN_REMOTE', 'tls · 600 B'),
    edge('app', 'app', 'tcp · 1 B'),
  ],
};

const column = (box: NodeBox) => Math.round((box.x - 30) / 340);
const overlaps = (a: NodeBox, b: NodeBox) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** The points an SVG path (M/L/Q/C with absolute coordinates) passes through or bends toward. */
const pathPoints = (d: string): Array<[number, number]> => {
  const numbers = d.match(/-?\d+(\.\d+)?/g)!.map(Number);
  const points: Array<[number, number]> = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) points.push([numbers[i]!, numbers[i + 1]!]);
  return points;
};

describe('topology layout', () => {
  const layout = layoutTopology(PICTURE, 50);
  const box = (id: string) => layout.boxes.get(id)!;

  it('places processes left to right along the calls; a process nobody calls sits left of what it calls', () => {
    assert.deepEqual(
      ['UNKNOWN_LOCAL', 'nginx', 'app', 'db', 'UNKNOWN_REMOTE', 'worker'].map((id) => column(box(id))),
      [0, 1, 2, 3, 3, 2],
    );
    const boxes = [...layout.boxes.values()];
    for (const a of boxes) for (const b of boxes) if (a !== b) assert.ok(!overlaps(a, b), `${a.id} overlaps ${b.id}`);
    for (const b of boxes) {
      assert.ok(b.x >= 0 && b.x + b.width <= layout.width, b.id);
      assert.ok(b.y >= 50 && b.y + b.height <= layout.height, b.id);
    }
  });

  it('routes every call; calls that skip a column run above the boxes, calls back below them', () => {
    assert.deepEqual([...layout.routes.keys()].sort(), PICTURE.edges.map((e) => e.id).sort());
    const top = Math.min(...[...layout.boxes.values()].map((b) => b.y));
    const bottom = Math.max(...[...layout.boxes.values()].map((b) => b.y + b.height));
    assert.ok(Math.min(...pathPoints(layout.routes.get('nginx-db')!.d).map(([, y]) => y)) < top);
    assert.ok(Math.max(...pathPoints(layout.routes.get('db-app')!.d).map(([, y]) => y)) > bottom);
    // lanes turn in the gaps between columns, never inside a box
    for (const id of ['nginx-db', 'db-app']) {
      for (const [x, y] of pathPoints(layout.routes.get(id)!.d)) {
        for (const b of layout.boxes.values()) {
          assert.ok(
            !(x > b.x + 1 && x < b.x + b.width - 1 && y > b.y + 1 && y < b.y + b.height - 1),
            `${id} enters ${b.id}`,
          );
        }
      }
    }
    for (const r of layout.routes.values()) assert.ok(r.labelY > 0 && r.labelY < layout.height);
  });

  it('keeps labels apart where curves cross', () => {
    const spots = PICTURE.edges.map((e) => {
      const r = layout.routes.get(e.id)!;
      const w = e.label.length * 6.6;
      const x0 = r.anchor === 'start' ? r.labelX : r.labelX - w / 2;
      return { id: e.id, x0, x1: x0 + w, y0: r.labelY - 11, y1: r.labelY + 2 };
    });
    for (const a of spots)
      for (const b of spots)
        if (a !== b) assert.ok(!(a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1), `${a.id} and ${b.id}`);
  });

  it('lays out a cycle and an empty topology', () => {
    const cycle = layoutTopology(
      { title: 't', nodes: [node('a'), node('b')], edges: [edge('a', 'b'), edge('b', 'a')] },
      0,
    );
    assert.equal(cycle.routes.size, 2);
    assert.notEqual(cycle.boxes.get('a')!.x, cycle.boxes.get('b')!.x);
    const empty = layoutTopology({ title: 't', nodes: [], edges: [] }, 0);
    assert.equal(empty.boxes.size, 0);
    assert.ok(empty.width > 0 && empty.height > 0);
  });
});

describe('topology pictures', () => {
  it('draws an SVG: processes (virtual ones dashed), labelled calls, failing ones red, tooltips', () => {
    const svg = topologyToSvg(PICTURE);
    assert.match(svg, /^<\?xml[^]*<svg [^]*<\/svg>\n$/);
    assert.equal((svg.match(/class="node"/g) ?? []).length, 6);
    assert.equal((svg.match(/class="edge"/g) ?? []).length, 8);
    assert.match(
      svg,
      /<g class="node" data-id="UNKNOWN_REMOTE"><title>UNKNOWN_REMOTE \(virtual process\)<\/title><rect [^>]*stroke-dasharray/,
    );
    assert.doesNotMatch(svg, /<g class="node" data-id="nginx"><title>nginx<\/title><rect [^>]*stroke-dasharray/);
    assert.match(
      svg,
      /<g class="edge" data-id="UNKNOWN_LOCAL-nginx"><title>UNKNOWN_LOCAL → nginx\nReq\/min: 60<\/title><path [^>]*stroke="#dc2626"/,
    );
    assert.match(svg, />http · 600\/min<\/text>/);
    assert.doesNotMatch(svg, /<script/);
  });

  it('escapes names in SVG and HTML, and keeps the page data inside its script element', () => {
    const evil: TopologyPicture = {
      title: 'a <b> & "c"',
      nodes: [node('<x>'), node('</script><script>alert(1)</script>')],
      edges: [edge('<x>', '</script><script>alert(1)</script>')],
    };
    const svg = topologyToSvg(evil);
    assert.match(svg, /a &lt;b&gt; &amp; &quot;c&quot;/);
    assert.doesNotMatch(svg, /<x>/);
    const html = topologyToHtml(evil, { tables: [{ title: 'Edges', head: ['<h>'], rows: [['<r>']] }] });
    assert.equal((html.match(/<\/script>/g) ?? []).length, 2);
    assert.match(html, /<th>&lt;h&gt;<\/th>/);
    assert.match(html, /<td>&lt;r&gt;<\/td>/);
  });

  it('says so when there is no traffic', () => {
    assert.match(topologyToSvg({ title: 't', nodes: [], edges: [] }), />no traffic observed</);
    assert.match(topologyToHtml({ title: 't', nodes: [], edges: [] }), />no traffic observed</);
  });
});
