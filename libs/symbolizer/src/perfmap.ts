// JIT perf maps: /tmp/perf-PID.map, lines "START SIZE name" (hex start and size).
// Written append-only by Node.js (--perf-basic-prof), Java agents, Python (-X perf).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SymbolTable } from './symtab.js';

export interface PerfMapEntry {
  start: bigint;
  size: number;
  name: string;
}

/** Parses perf map text (complete lines only). */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const out: PerfMapEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(?:0x)?([0-9a-fA-F]+)\s+(?:0x)?([0-9a-fA-F]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: BigInt('0x' + m[1]), size: parseInt(m[2]!, 16), name: m[3]!.trimEnd() });
  }
  return out;
}

/**
 * An incrementally read perf map. `refresh()` reads only what was appended since the last
 * read (the file is append-only); the sorted table is rebuilt lazily on the next lookup.
 * Later entries for the same start win (code can be re-JITted at a reused address).
 */
export class PerfMap {
  readonly path: string;
  private consumed = 0;
  private tail = '';
  private readonly entries: PerfMapEntry[] = [];
  private table?: SymbolTable;
  private ino = -1;

  constructor(path: string) {
    this.path = path;
  }

  /** Reads new lines; returns true when entries were added. Missing file → false. */
  refresh(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return false;
    }
    try {
      const st = fstatSync(fd);
      if (st.ino !== this.ino || st.size < this.consumed) {
        // A new file (pid reuse) or truncated: start over.
        this.ino = st.ino;
        this.consumed = 0;
        this.tail = '';
        this.entries.length = 0;
        this.table = undefined;
      }
      if (st.size === this.consumed) return false;
      const len = st.size - this.consumed;
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, buf, got, len - got, this.consumed + got);
        if (n <= 0) break;
        got += n;
      }
      this.consumed += got;
      const text = this.tail + buf.toString('utf8', 0, got);
      const cut = text.lastIndexOf('\n');
      this.tail = cut < 0 ? text : text.slice(cut + 1);
      const added = parsePerfMap(cut < 0 ? '' : text.slice(0, cut));
      if (added.length === 0) return false;
      for (const e of added) this.entries.push(e);
      this.table = undefined;
      return true;
    } finally {
      closeSync(fd);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  private build(): SymbolTable {
    const n = this.entries.length;
    let base = n ? this.entries[0]!.start : 0n;
    for (const e of this.entries) if (e.start < base) base = e.start;
    const starts = new Float64Array(n);
    const sizes = new Float64Array(n);
    const names = new Float64Array(n);
    const rank = new Uint8Array(n);
    const strings: string[] = new Array(n);
    // Reverse order so that the latest entry for a start sorts first and survives.
    for (let k = 0; k < n; k++) {
      const e = this.entries[n - 1 - k]!;
      starts[k] = Number(e.start - base);
      sizes[k] = e.size;
      names[k] = k;
      strings[k] = e.name;
    }
    return SymbolTable.build(base, { starts, sizes, names, rank }, { kind: 'strings', names: strings });
  }

  /** Looks up an address (refresh first if the file may have grown). */
  lookup(addr: bigint): { name: string; start: bigint; offset: number } | undefined {
    if (!this.table) this.table = this.build();
    const hit = this.table.lookup(addr);
    return hit && { name: hit.name, start: hit.start, offset: hit.offset };
  }
}
