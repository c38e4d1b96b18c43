// A compact, sorted table of function symbols with binary-search lookup.
//
// Starts and sizes are kept in Float64Arrays relative to a bigint `base`, so that
// kernel addresses (0xffffffff8...) fit in the 53 exact bits of a double. Names
// are decoded lazily: either from C-string tables (ELF .strtab/.dynstr, Go
// funcnametab) by offset, or from a plain string array (kallsyms, perf maps).

import { cleanElfName } from './names.js';

export interface SymbolHit {
  /** Index into the table. */
  index: number;
  /** Symbol name (not demangled). */
  name: string;
  /** Symbol start, absolute (same address space as the lookup). */
  start: bigint;
  /** Symbol size; 0 when unknown. */
  size: number;
  /** Offset of the looked-up address within the symbol. */
  offset: number;
  /** Module tag for tables that mix modules (kallsyms): '' otherwise. */
  module: string;
}

/** Where names come from. */
export type NameSource =
  | { kind: 'cstr'; buffers: Buffer[]; bufferBase: number[] }
  | { kind: 'strings'; names: string[] };

export interface SymbolInput {
  starts: Float64Array; // relative to base
  sizes: Float64Array;
  names: Float64Array; // name offset (cstr) or index into names[] (strings)
  rank?: Uint8Array; // tie-break when several symbols share a start: higher wins
  modules?: Uint16Array; // index into moduleNames
  moduleNames?: string[];
}

export class SymbolTable {
  readonly base: bigint;
  readonly starts: Float64Array;
  readonly sizes: Float64Array;
  private readonly nameRefs: Float64Array;
  private readonly source: NameSource;
  private readonly modules?: Uint16Array;
  private readonly moduleNames: string[];
  private readonly nameCache: (string | undefined)[];
  /** End of the covered region (relative): size-0 fallbacks never go past it. */
  readonly limit: number;

  private constructor(
    base: bigint,
    starts: Float64Array,
    sizes: Float64Array,
    nameRefs: Float64Array,
    source: NameSource,
    modules: Uint16Array | undefined,
    moduleNames: string[],
    limit: number,
  ) {
    this.base = base;
    this.starts = starts;
    this.sizes = sizes;
    this.nameRefs = nameRefs;
    this.source = source;
    this.modules = modules;
    this.moduleNames = moduleNames;
    this.nameCache = new Array(starts.length);
    this.limit = limit;
  }

  get length(): number {
    return this.starts.length;
  }

  /** Approximate bytes held (for cache accounting). */
  get byteSize(): number {
    let n = this.starts.byteLength + this.sizes.byteLength + this.nameRefs.byteLength + 64;
    if (this.modules) n += this.modules.byteLength;
    if (this.source.kind === 'cstr') for (const b of this.source.buffers) n += b.byteLength;
    else for (const s of this.source.names) n += 40 + s.length * 2;
    return n;
  }

  /**
   * Sorts and de-duplicates symbols. Among symbols sharing a start, the one with a
   * size wins, then the higher rank (e.g. GLOBAL over WEAK over LOCAL).
   */
  static build(
    base: bigint,
    input: SymbolInput,
    source: NameSource,
    limit = Number.POSITIVE_INFINITY,
  ): SymbolTable {
    const n = input.starts.length;
    const { starts, sizes, names, rank, modules } = input;
    const order = sortedOrder(starts, sizes, rank);
    // De-duplicate equal starts (first in order wins).
    const outStarts = new Float64Array(n);
    const outSizes = new Float64Array(n);
    const outNames = new Float64Array(n);
    const outMods = modules ? new Uint16Array(n) : undefined;
    let m = 0;
    let prev = Number.NaN;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const s = starts[i]!;
      if (s === prev) continue;
      prev = s;
      outStarts[m] = s;
      outSizes[m] = sizes[i]!;
      outNames[m] = names[i]!;
      if (outMods) outMods[m] = modules![i]!;
      m++;
    }
    return new SymbolTable(
      base,
      outStarts.slice(0, m),
      outSizes.slice(0, m),
      outNames.slice(0, m),
      source,
      outMods?.slice(0, m),
      input.moduleNames ?? [],
      limit,
    );
  }

  /** Index of the symbol covering `rel` (an address minus base), or -1. */
  findIndex(rel: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    if (hi < 0 || rel < starts[0]!) return -1;
    // Last index with starts[i] <= rel.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= rel) lo = mid;
      else hi = mid - 1;
    }
    const size = this.sizes[lo]!;
    if (size > 0) {
      if (rel < starts[lo]! + size) return lo;
      // A sized symbol that ends before `rel`: an enclosing symbol may still cover it
      // (rare: nested local labels). Look back a few entries.
      for (let j = lo - 1, k = 0; j >= 0 && k < 4; j--, k++) {
        const sz = this.sizes[j]!;
        if (sz > 0 && rel < starts[j]! + sz) return j;
      }
      return -1;
    }
    // Unknown size: nearest preceding symbol, bounded by the table's limit.
    return rel < this.limit ? lo : -1;
  }

  /** Looks up an absolute address. */
  lookup(addr: bigint | number): SymbolHit | undefined {
    const rel = typeof addr === 'bigint' ? Number(addr - this.base) : addr - Number(this.base);
    const i = this.findIndex(rel);
    if (i < 0) return undefined;
    return {
      index: i,
      name: this.nameAt(i),
      start: this.base + BigInt(this.starts[i]!),
      size: this.sizes[i]!,
      offset: rel - this.starts[i]!,
      module: this.modules ? (this.moduleNames[this.modules[i]!] ?? '') : '',
    };
  }

  nameAt(i: number): string {
    const cached = this.nameCache[i];
    if (cached !== undefined) return cached;
    let name: string;
    const src = this.source;
    if (src.kind === 'strings') {
      name = src.names[this.nameRefs[i]!] ?? '';
    } else {
      const off = this.nameRefs[i]!;
      let b = src.bufferBase.length - 1;
      while (b > 0 && src.bufferBase[b]! > off) b--;
      const buf = src.buffers[b]!;
      const start = off - src.bufferBase[b]!;
      let end = buf.indexOf(0, start);
      if (end < 0) end = buf.length;
      name = cleanElfName(buf.toString('utf8', start, end));
    }
    this.nameCache[i] = name;
    return name;
  }

  startAt(i: number): bigint {
    return this.base + BigInt(this.starts[i]!);
  }

  /** Iterates all symbols (for tests and tools). */
  *entries(): IterableIterator<{ name: string; start: bigint; size: number }> {
    for (let i = 0; i < this.starts.length; i++) {
      yield { name: this.nameAt(i), start: this.startAt(i), size: this.sizes[i]! };
    }
  }

  /** Finds the first symbol with this exact name (linear; for tests and tools). */
  findByName(name: string): { start: bigint; size: number } | undefined {
    for (let i = 0; i < this.starts.length; i++) {
      if (this.nameAt(i) === name) return { start: this.startAt(i), size: this.sizes[i]! };
    }
    return undefined;
  }
}

/**
 * Sort order of symbols: by start, then size>0 first, then higher rank. Uses a
 * packed Float64 key sort (fast native typed-array sort) when starts are small
 * enough, and a comparator sort otherwise.
 */
function sortedOrder(starts: Float64Array, sizes: Float64Array, rank?: Uint8Array): Uint32Array {
  const n = starts.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (starts[i]! > max) max = starts[i]!;
  const idxBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const tieBits = 3; // size>0 (1 bit) + rank (2 bits)
  const shift = idxBits + tieBits;
  if (max * 2 ** shift < 2 ** 53) {
    const keys = new Float64Array(n);
    const mul = 2 ** shift;
    for (let i = 0; i < n; i++) {
      const tie = (sizes[i]! > 0 ? 0 : 4) + (3 - Math.min(3, rank ? rank[i]! : 0));
      keys[i] = starts[i]! * mul + tie * 2 ** idxBits + i;
    }
    keys.sort();
    const order = new Uint32Array(n);
    const idxMod = 2 ** idxBits;
    for (let k = 0; k < n; k++) order[k] = keys[k]! % idxMod;
    return order;
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => {
    const d = starts[a]! - starts[b]!;
    if (d !== 0) return d;
    const sa = sizes[a]! > 0 ? 0 : 1;
    const sb = sizes[b]! > 0 ? 0 : 1;
    if (sa !== sb) return sa - sb;
    const r = (rank ? rank[b]! : 0) - (rank ? rank[a]! : 0);
    return r !== 0 ? r : a - b;
  });
  return order;
}
