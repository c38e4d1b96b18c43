// Benchmark: cold load of node's own executable symbol table, and warm lookups per second.
//   npm run bench   (in libs/symbolizer)
import { statSync } from 'node:fs';
import { readElf, loadModuleSymbols, loadKallsyms, Symbolizer, readUnwindTable, demangleMany } from '../src/index.js';
import { debuginfodRows } from './debuginfod.js';

const path = process.execPath;
const rows: [string, string][] = [];
const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d });

// Cold: headers + .symtab/.dynsym read, filtered, sorted (page cache warm: a fresh
// process's first load; the disk is not what is measured).
let t0 = performance.now();
const elf = readElf(path);
const table = loadModuleSymbols(elf);
const coldMs = performance.now() - t0;
rows.push(['binary', `${path} (${fmt(statSync(path).size / 1048576)} MiB)`]);
rows.push(['function symbols', fmt(table.length, 0)]);
rows.push(['cold load (ms)', fmt(coldMs)]);
rows.push(['table bytes (MiB)', fmt(table.byteSize / 1048576)]);

// A second cold load (JIT warmed, as for later binaries in the same agent).
t0 = performance.now();
loadModuleSymbols(readElf(path));
rows.push(['second load (ms)', fmt(performance.now() - t0)]);

// Warm lookups: random addresses inside the text range, numbers (the hot path) and bigints.
const n = 1 << 20;
const lo = table.starts[0]!;
const hi = table.starts[table.length - 1]!;
const addrs = new Float64Array(n);
for (let i = 0; i < n; i++) addrs[i] = Math.floor(lo + Math.random() * (hi - lo));
let hits = 0;
for (let i = 0; i < n; i++) if (table.findIndex(addrs[i]!) >= 0) hits++; // warm-up
hits = 0;
t0 = performance.now();
const rounds = 4;
for (let r = 0; r < rounds; r++) for (let i = 0; i < n; i++) if (table.findIndex(addrs[i]!) >= 0) hits++;
let dt = performance.now() - t0;
rows.push(['lookups/s (index)', fmt((rounds * n) / (dt / 1000), 0)]);
rows.push(['hit ratio', fmt(hits / (rounds * n), 3)]);

const big = Array.from(addrs.subarray(0, 1 << 18), (a) => BigInt(a));
t0 = performance.now();
let named = 0;
for (const a of big) if (table.lookup(a)) named++;
dt = performance.now() - t0;
rows.push(['lookups/s (bigint, with name)', `${fmt(big.length / (dt / 1000), 0)} (${named} named)`]);

// Symbolizer on this very process (maps + LRU + names), 100 frames per call.
const s = new Symbolizer({ demangle: false });
const stacks: bigint[][] = [];
const base = BigInt(Math.floor(lo));
for (let i = 0; i < 2000; i++) stacks.push(Array.from({ length: 100 }, (_, k) => base + BigInt(Math.floor(addrs[i * 100 + k]! - lo))));
s.symbolizeUser(process.pid, stacks[0]!);
t0 = performance.now();
for (const st of stacks) s.symbolizeUser(process.pid, st);
dt = performance.now() - t0;
rows.push(['symbolizeUser frames/s', fmt((stacks.length * 100) / (dt / 1000), 0) + (elf.type === 2 ? '' : ' (PIE: addresses not rebased, mostly unknown)')]);

// CFI: .eh_frame compiled into the unwind table.
t0 = performance.now();
const unwind = readUnwindTable(elf);
rows.push(['unwind table (ms)', `${fmt(performance.now() - t0)} (${fmt(unwind.length, 0)} rows, ${fmt(unwind.byteSize / 1048576)} MiB)`]);

// Demangling: one c++filt batch of 1000 new C++ names, then the same names again (memoized).
const mangled: string[] = [];
for (let i = 0; i < table.length && mangled.length < 1000; i++) {
  const nm = table.nameAt(i);
  if (nm.startsWith('_Z')) mangled.push(nm);
}
if (mangled.length) {
  t0 = performance.now();
  demangleMany(mangled);
  const first = performance.now() - t0;
  t0 = performance.now();
  demangleMany(mangled);
  rows.push(['demangle batch (ms)', `${fmt(first)} for ${mangled.length} names via c++filt; ${fmt(performance.now() - t0, 2)} memoized`]);
}

try {
  t0 = performance.now();
  const k = loadKallsyms(true);
  rows.push(['kallsyms load (ms)', `${fmt(performance.now() - t0)} (${fmt(k.table.length, 0)} symbols)`]);
} catch {
  rows.push(['kallsyms load (ms)', 'unreadable']);
}

rows.push(...(await debuginfodRows()));

const w = Math.max(...rows.map((r) => r[0].length));
console.log('symbolizer benchmark');
for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
