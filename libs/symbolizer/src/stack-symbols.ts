// The symbol strings of a stack as they go on the wire (EBPFProfilingStackMetadata.stackSymbols):
// one string per frame, leaf first, inlined functions as frames of their own. The wire format
// has no field for "inlined", so the mark is in the name: ` (inlined)`, as `perf report`
// writes it. The stock UI shows such frames as ordinary ones; our CLI's flame graph marks them.
import type { Frame } from './symbolizer.js';

export const INLINED_SUFFIX = ' (inlined)';

/** Leaf-first symbols of leaf-first frames: each frame's inlined functions come before it. */
export function stackSymbols(frames: readonly Frame[]): string[] {
  const out: string[] = [];
  for (const f of frames) {
    if (f.inlined) for (const n of f.inlined) out.push(n + INLINED_SUFFIX);
    out.push(f.name);
  }
  return out;
}

/** Whether a wire symbol names an inlined function, and its name without the mark. */
export function parseInlinedSymbol(symbol: string): { name: string; inlined: boolean } {
  return symbol.endsWith(INLINED_SUFFIX)
    ? { name: symbol.slice(0, -INLINED_SUFFIX.length), inlined: true }
    : { name: symbol, inlined: false };
}
