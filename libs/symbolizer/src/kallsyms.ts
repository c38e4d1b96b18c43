// Kernel symbols from /proc/kallsyms.
import { readFileSync } from 'node:fs';
import { SymbolTable } from './symtab.js';

export interface KernelSymbols {
  table: SymbolTable;
  /** Address of _stext/_text (0n when unknown). */
  textStart: bigint;
}

/**
 * Parses kallsyms text. Keeps text symbols (t/T/w/W); names of module symbols carry their
 * module in `module` ("" for the core kernel). All-zero addresses (kptr_restrict) are
 * dropped, so an unprivileged read yields an empty table.
 */
export function parseKallsyms(text: string): KernelSymbols {
  const lines = text.split('\n');
  const n = lines.length;
  const addrs: bigint[] = [];
  const names: string[] = [];
  const mods: number[] = [];
  const moduleNames: string[] = [''];
  const modIndex = new Map<string, number>([['', 0]]);
  let textStart = 0n;
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    if (line.length < 20) continue;
    const sp1 = line.indexOf(' ');
    const type = line.charCodeAt(sp1 + 1) | 0x20; // lower-case
    if (type !== 0x74 /* t */ && type !== 0x77 /* w */) continue;
    const rest = line.slice(sp1 + 3);
    let name = rest;
    let mod = '';
    const tab = rest.indexOf('\t');
    if (tab >= 0) {
      name = rest.slice(0, tab);
      const m = rest.slice(tab + 1).trim();
      mod = m.startsWith('[') && m.endsWith(']') ? m.slice(1, -1) : m;
    }
    const addr = BigInt('0x' + line.slice(0, sp1));
    if (addr === 0n) continue;
    if (textStart === 0n && (name === '_stext' || name === '_text')) textStart = addr;
    let mi = modIndex.get(mod);
    if (mi === undefined) {
      mi = moduleNames.length;
      moduleNames.push(mod);
      modIndex.set(mod, mi);
    }
    addrs.push(addr);
    names.push(name);
    mods.push(mi);
  }
  let base = 0n;
  if (addrs.length) {
    base = addrs[0]!;
    for (const a of addrs) if (a < base) base = a;
  }
  const count = addrs.length;
  const starts = new Float64Array(count);
  const sizes = new Float64Array(count);
  const nameIdx = new Float64Array(count);
  const modules = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    starts[i] = Number(addrs[i]! - base);
    nameIdx[i] = i;
    modules[i] = mods[i]!;
  }
  // kallsyms has no sizes: the nearest preceding symbol covers an address. Bound the last
  // symbol's reach to 1 MiB past it so wild addresses stay unresolved.
  let maxStart = 0;
  for (let i = 0; i < count; i++) if (starts[i]! > maxStart) maxStart = starts[i]!;
  const table = SymbolTable.build(
    base,
    { starts, sizes, names: nameIdx, modules, moduleNames },
    { kind: 'strings', names },
    maxStart + (1 << 20),
  );
  return { table, textStart };
}

let cached: KernelSymbols | undefined;

/** Loads /proc/kallsyms (cached; pass reload=true to re-read, e.g. after module loads). */
export function loadKallsyms(reload = false, path = '/proc/kallsyms'): KernelSymbols {
  if (!cached || reload || path !== '/proc/kallsyms') {
    const k = parseKallsyms(readFileSync(path, 'latin1'));
    if (path !== '/proc/kallsyms') return k;
    cached = k;
  }
  return cached;
}
