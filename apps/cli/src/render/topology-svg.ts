/**
 * A process topology → a static SVG: processes as boxes (virtual ones dashed), calls as arrows
 * labelled with protocol and rate, red where responses failed; a <title> tooltip on each call
 * carries its details. No scripts.
 */
import { escapeXml } from './escape';
import { layoutTopology, type Layout } from './topology-layout';
import type { TopologyPicture } from './topology-types';

const FONT = 'Verdana, "DejaVu Sans", sans-serif';
const CHAR_WIDTH = 12 * 0.6;

export const EDGE_COLOR = '#4b5563';
export const ERROR_COLOR = '#dc2626';

const fit = (text: string, width: number) => {
  const chars = Math.floor((width - 16) / CHAR_WIDTH);
  return text.length <= chars ? text : `${text.slice(0, Math.max(1, chars - 1))}…`;
};

/** The <g> elements of the picture (shared with the HTML page, which adds behaviour by class and data-id). */
export const topologyShapes = (picture: TopologyPicture, layout: Layout): string[] => {
  const out: string[] = [
    `<defs>`,
    `<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${EDGE_COLOR}"/></marker>`,
    `<marker id="arrow-error" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="${ERROR_COLOR}"/></marker>`,
    `</defs>`,
  ];
  for (const e of picture.edges) {
    const path = layout.routes.get(e.id);
    if (!path) continue;
    const color = e.errors ? ERROR_COLOR : EDGE_COLOR;
    const tooltip = [
      `${nameOf(picture, e.source)} → ${nameOf(picture, e.target)}`,
      ...e.details.map(([k, v]) => `${k}: ${v}`),
    ].join('\n');
    out.push(
      `<g class="edge" data-id="${escapeXml(e.id)}"><title>${escapeXml(tooltip)}</title>` +
        `<path d="${path.d}" fill="none" stroke="${color}" stroke-width="1.6" marker-end="url(#${e.errors ? 'arrow-error' : 'arrow'})"/>` +
        `<path d="${path.d}" fill="none" stroke="transparent" stroke-width="12"/>` +
        `<text x="${path.labelX.toFixed(1)}" y="${path.labelY.toFixed(1)}" text-anchor="${path.anchor ?? 'middle'}" font-size="11" fill="${color}" paint-order="stroke" stroke="#fff" stroke-width="3">${escapeXml(e.label)}</text>` +
        `</g>`,
    );
  }
  for (const n of picture.nodes) {
    const box = layout.boxes.get(n.id);
    if (!box) continue;
    out.push(
      `<g class="node" data-id="${escapeXml(n.id)}"><title>${escapeXml(`${n.name}${n.real ? '' : ' (virtual process)'}`)}</title>` +
        `<rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" rx="8" ry="8" fill="${n.real ? '#e0e7ff' : '#f3f4f6'}" stroke="${n.real ? '#4f46e5' : '#9ca3af'}" stroke-width="1.5"${n.real ? '' : ' stroke-dasharray="5 3"'}/>` +
        `<text x="${box.x + box.width / 2}" y="${box.y + box.height / 2 + 4.5}" text-anchor="middle" font-size="13" fill="#111">${escapeXml(fit(n.name, box.width))}</text>` +
        `</g>`,
    );
  }
  return out;
};

const nameOf = (picture: TopologyPicture, id: string) => picture.nodes.find((n) => n.id === id)?.name ?? id;

export const topologyToSvg = (picture: TopologyPicture): string => {
  const top = picture.subtitle ? 56 : 38;
  const layout = layoutTopology(picture, top);
  const { width, height } = layout;
  return [
    `<?xml version="1.0" standalone="no"?>`,
    `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeXml(FONT)}" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fbfbfd"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" fill="#222">${escapeXml(picture.title)}</text>`,
    ...(picture.subtitle
      ? [`<text x="${width / 2}" y="43" text-anchor="middle" fill="#555">${escapeXml(picture.subtitle)}</text>`]
      : []),
    ...(picture.nodes.length
      ? []
      : [`<text x="${width / 2}" y="${top + 40}" text-anchor="middle" fill="#777">no traffic observed</text>`]),
    ...topologyShapes(picture, layout),
    '</svg>',
    '',
  ].join('\n');
};
