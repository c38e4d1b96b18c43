/**
 * Inlined frames on the wire. Rover names a function the compiler inlined into its caller
 * `<name> (inlined)` (the wire format has no field for it, and `perf report` writes it so); the
 * convention is set by @swlite/symbolizer's stackSymbols. The HTML flame graph shows the plain
 * name and marks the frame instead.
 */
export const INLINED_SUFFIX = ' (inlined)';

/** The name without the mark, and whether the frame is inlined. */
export const splitInlined = (symbol: string): { name: string; inlined: boolean } =>
  symbol.endsWith(INLINED_SUFFIX) ? { name: symbol.slice(0, -INLINED_SUFFIX.length), inlined: true } : { name: symbol, inlined: false };
