export * from './types';
export { buildFlameGraph, formatValue, hottestFrames, maxDepth, percent, walk } from './tree';
export { treeToFolded, foldedFrameName, type FoldedOptions } from './folded';
export { treeToSvg, type SvgOptions } from './svg';
export { treeToHtml, type HtmlOptions } from './html';
export { encodeProfile, treeToPprof, type PprofOptions } from './pprof';
export { frameColor } from './colors';
