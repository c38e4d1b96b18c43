/** Flame graph → a static SVG (root at the bottom, one <title> tooltip per frame, no scripts). */
import { frameColor, LEGEND } from './colors';
import { escapeXml } from './escape';
import { formatValue, maxDepth, percent } from './tree';
import type { FlameNode, RenderOptions } from './types';

export interface SvgOptions extends RenderOptions {
  /** Image width in pixels (default 1200). */
  width?: number;
  /** Height of one frame row (default 16). */
  rowHeight?: number;
  /** Frames narrower than this many pixels are left out with everything above them (default 0.1). */
  minWidth?: number;
}

const FONT = 'Verdana, "DejaVu Sans", sans-serif';
const FONT_SIZE = 12;
const CHAR_WIDTH = FONT_SIZE * 0.59;
const PAD = 10;

const fit = (name: string, width: number): string => {
  const chars = Math.floor((width - 6) / CHAR_WIDTH);
  if (chars < 3) return '';
  return name.length <= chars ? name : `${name.slice(0, chars - 2)}..`;
};

export const treeToSvg = (root: FlameNode, options: SvgOptions = {}): string => {
  const width = options.width ?? 1200;
  const rowHeight = options.rowHeight ?? 16;
  const minWidth = options.minWidth ?? 0.1;
  const unit = options.unit ?? 'samples';
  const title = options.title ?? 'Flame Graph';
  const depth = maxDepth(root);
  const top = options.subtitle ? 58 : 40;
  const graphHeight = (depth + 1) * rowHeight;
  const height = top + graphHeight + 34;
  const scale = root.total > 0 ? (width - 2 * PAD) / root.total : 0;
  const out: string[] = [];
  out.push(
    `<?xml version="1.0" standalone="no"?>`,
    `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeXml(FONT)}" font-size="${FONT_SIZE}">`,
    `<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0"><stop stop-color="#f8f8f8" offset="5%"/><stop stop-color="#e8e8f0" offset="95%"/></linearGradient></defs>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="url(#background)"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="17" fill="#222">${escapeXml(title)}</text>`,
  );
  if (options.subtitle) out.push(`<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">${escapeXml(options.subtitle)}</text>`);

  const draw = (node: FlameNode, level: number, x: number): void => {
    const w = node.total * scale;
    if (w < minWidth) return;
    const y = top + (depth - level) * rowHeight;
    const share = percent(node.total, root.total);
    const label =
      node.kind === 'root'
        ? `all (${formatValue(node.total, unit)}, 100%)`
        : `${node.name} (${node.kind}, ${formatValue(node.total, unit)}, ${share})`;
    const text = fit(node.kind === 'root' ? 'all' : node.name, w);
    out.push(
      `<g class="frame" data-kind="${node.kind}"><title>${escapeXml(label)}</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${rowHeight - 1}" rx="2" ry="2" fill="${frameColor(node.name, node.kind)}"/>` +
        (text ? `<text x="${(x + 3).toFixed(2)}" y="${y + rowHeight - 4.5}" fill="#111">${escapeXml(text)}</text>` : '') +
        `</g>`,
    );
    let childX = x;
    for (const child of node.children) {
      draw(child, level + 1, childX);
      childX += child.total * scale;
    }
  };
  draw(root, 0, PAD);

  let lx = PAD;
  const ly = top + graphHeight + 14;
  for (const entry of LEGEND) {
    out.push(`<rect x="${lx}" y="${ly}" width="12" height="12" rx="2" fill="${entry.color}"/>`);
    out.push(`<text x="${lx + 17}" y="${ly + 10.5}" fill="#333">${entry.label}</text>`);
    lx += 120;
  }
  out.push(
    `<text x="${width - PAD}" y="${ly + 10.5}" text-anchor="end" fill="#333">total ${escapeXml(formatValue(root.total, unit))}</text>`,
  );
  out.push('</svg>', '');
  return out.join('\n');
};
