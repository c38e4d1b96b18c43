/** Frame colours shared by the SVG and HTML renderers: user frames warm, kernel frames cool. */
import type { FrameKind } from './types';

/** A stable 0..1 value from a name (FNV-1a), so a symbol keeps its colour across renders. */
const hash01 = (name: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0xffffffff;
};

export const frameColor = (name: string, kind: FrameKind): string => {
  const v = hash01(name);
  if (kind === 'root') return 'rgb(190,190,200)';
  if (kind === 'kernel') {
    // Blues and teals.
    return `rgb(${Math.round(70 + 60 * v)},${Math.round(140 + 60 * v)},${Math.round(205 + 40 * (1 - v))})`;
  }
  // flamegraph.pl's "hot" palette: reds to yellows.
  return `rgb(${Math.round(205 + 50 * v)},${Math.round(80 + 150 * (1 - v) * v * 2)},${Math.round(40 + 30 * v)})`;
};

export const LEGEND: Array<{ kind: FrameKind; label: string; color: string }> = [
  { kind: 'user', label: 'user space', color: 'rgb(240,140,55)' },
  { kind: 'kernel', label: 'kernel space', color: 'rgb(100,170,225)' },
];
