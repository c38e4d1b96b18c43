// Kernel symbols from /proc/kallsyms.
import { readFileSync } from 'node:fs';
import { SymbolTable } from './symtab.js';

export interface KernelSymbols {
  table: SymbolTable;
  /** Address of _stext/_text (0n when unknown). */
  textStart: bigint;
}

const NL = 0x0a;
const SP = 0x20;
const TAB = 0x09;

/** Writes the hex number buf[from, to) to out as [high 32 bits, low 32 bits]; false when not hex. */
function hexHalves(buf: Buffer, from: number, to: number, out: Uint32Array): boolean {
  let hi = 0;
  let lo = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
    else return false;
    hi = ((hi << 4) | (lo >>> 28)) >>> 0;
    lo = ((lo << 4) | d) >>> 0;
  }
  out[0] = hi;
  out[1] = lo;
  return to > from;
}

/**
 * Parses kallsyms text. Keeps text symbols (t/T/w/W); names of module symbols carry their
 * module in `module` ("" for the core kernel). All-zero addresses (kptr_restrict) are
 * dropped, so an unprivileged read yields an empty table.
 *
 * The table is compact: addresses in typed arrays, names as NUL-terminated bytes in one buffer
 * (decoded only when a lookup hits them), so nothing of the ~5 MB text (or a string per line)
 * stays alive after parsing.
 */
export function parseKallsyms(text: string | Buffer): KernelSymbols {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const len = buf.length;
  let lines = 1;
  for (let i = buf.indexOf(NL); i >= 0; i = buf.indexOf(NL, i + 1)) lines++;
  const his = new Uint32Array(lines);
  const los = new Uint32Array(lines);
  const nameOffs = new Float64Array(lines);
  const mods = new Uint16Array(lines);
  const names = Buffer.allocUnsafe(len + 1);
  let namesLen = 0;
  const moduleNames: string[] = [''];
  const modIndex = new Map<string, number>([['', 0]]);
  const hl = new Uint32Array(2);
  let textStart = 0n;
  let count = 0;
  for (let start = 0; start < len; ) {
    let end = buf.indexOf(NL, start);
    if (end < 0) end = len;
    const lineStart = start;
    start = end + 1;
    if (end - lineStart < 20) continue;
    const sp1 = buf.indexOf(SP, lineStart);
    if (sp1 < 0 || sp1 >= end) continue;
    const typeAt = sp1 + 1;
    const type = buf[typeAt]! | 0x20; // lower-case
    if (type !== 0x74 /* t */ && type !== 0x77 /* w */) continue;
    const nameStart = Math.min(end, typeAt + 2);
    let nameEnd = nameStart;
    while (nameEnd < end && buf[nameEnd] !== TAB) nameEnd++;
    let mod = '';
    if (nameEnd < end) {
      const m = buf.toString('latin1', nameEnd + 1, end).trim();
      mod = m.startsWith('[') && m.endsWith(']') ? m.slice(1, -1) : m;
    }
    if (!hexHalves(buf, lineStart, sp1, hl)) continue;
    const hi = hl[0]!;
    const lo = hl[1]!;
    if (hi === 0 && lo === 0) continue;
    if (textStart === 0n) {
      const n = nameEnd - nameStart;
      const name = n === 5 || n === 6 ? buf.toString('latin1', nameStart, nameEnd) : '';
      if (name === '_stext' || name === '_text') {
        textStart = (BigInt(hi) << 32n) | BigInt(lo);
      }
    }
    let mi = modIndex.get(mod);
    if (mi === undefined) {
      mi = moduleNames.length;
      moduleNames.push(mod);
      modIndex.set(mod, mi);
    }
    his[count] = hi;
    los[count] = lo;
    mods[count] = mi;
    nameOffs[count] = namesLen;
    namesLen += buf.copy(names, namesLen, nameStart, nameEnd);
    names[namesLen++] = 0;
    count++;
  }
  // base: the lowest address; starts relative to it (exact below 2^53, as kernel ranges are).
  let baseHi = 0;
  let baseLo = 0;
  for (let i = 0; i < count; i++) {
    const hi = his[i]!;
    const lo = los[i]!;
    if (i === 0 || hi < baseHi || (hi === baseHi && lo < baseLo)) {
      baseHi = hi;
      baseLo = lo;
    }
  }
  const base = count ? (BigInt(baseHi) << 32n) | BigInt(baseLo) : 0n;
  const starts = new Float64Array(count);
  let maxStart = 0;
  for (let i = 0; i < count; i++) {
    const s = (his[i]! - baseHi) * 4294967296 + (los[i]! - baseLo);
    starts[i] = s;
    if (s > maxStart) maxStart = s;
  }
  // One buffer of exactly the names' size (not a view that would keep the scratch one alive).
  const nameBytes = Buffer.allocUnsafeSlow(namesLen);
  names.copy(nameBytes, 0, 0, namesLen);
  // kallsyms has no sizes: the nearest preceding symbol covers an address. Bound the last
  // symbol's reach to 1 MiB past it so wild addresses stay unresolved.
  const table = SymbolTable.build(
    base,
    { starts, sizes: new Float64Array(count), names: nameOffs.subarray(0, count), modules: mods.subarray(0, count), moduleNames },
    { kind: 'cstr', buffers: [nameBytes], bufferBase: [0] },
    maxStart + (1 << 20),
  );
  return { table, textStart };
}

let cached: KernelSymbols | undefined;

/** Loads /proc/kallsyms (cached; pass reload=true to re-read, e.g. after module loads). */
export function loadKallsyms(reload = false, path = '/proc/kallsyms'): KernelSymbols {
  if (!cached || reload || path !== '/proc/kallsyms') {
    const k = parseKallsyms(readFileSync(path));
    if (path !== '/proc/kallsyms') return k;
    cached = k;
  }
  return cached;
}
