// Demangling of C++ (Itanium, `_Z...`) and Rust (legacy `_ZN...17h<hash>E`, v0 `_R...`)
// symbol names.
//
// Choice: binutils' c++filt, run once per batch of new names, with results memoized.
// The npm registry has no maintained pure-JS Itanium demangler; the one candidate that
// covers both C++ and Rust (gecko-profiler-demangle) is a WebAssembly build needing async
// instantiation and is barely maintained. c++filt (binutils, installed with gcc) handles
// C++, Rust legacy and Rust v0. Profiling flushes symbolize many frames at once and names
// repeat heavily, so the process cost (~2 ms per batch, measured in the tests) is paid
// rarely. Without c++filt names are returned mangled (Rust legacy still gets a built-in
// fallback below).
import { spawnSync } from 'node:child_process';

const cache = new Map<string, string>();
const CACHE_MAX = 200_000;
let cxxfiltMissing = false;

export function isMangled(name: string): boolean {
  return name.startsWith('_Z') || name.startsWith('_R') || name.startsWith('__Z');
}

/** Removes Rust hashes: legacy `::h0123456789abcdef` suffix and v0 `[abcdef]` crate ids. */
function tidyRust(s: string): string {
  return s.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{1,16}\]/g, '');
}

/** Demangles many names at once; returns one output per input (unchanged when not mangled). */
export function demangleMany(names: readonly string[]): string[] {
  const todo: string[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    if (isMangled(n) && !cache.has(n) && !seen.has(n)) {
      seen.add(n);
      todo.push(n);
    }
  }
  if (todo.length) runCxxfilt(todo);
  return names.map((n) => (isMangled(n) ? (cache.get(n) ?? n) : n));
}

export function demangle(name: string): string {
  return demangleMany([name])[0]!;
}

function runCxxfilt(todo: string[]): void {
  let out: string[] | undefined;
  // c++filt reads one name per line; names never contain newlines.
  if (!cxxfiltMissing) {
    const r = spawnSync('c++filt', [], { input: todo.join('\n') + '\n', encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.error) cxxfiltMissing = true;
    else if (r.status === 0) {
      const lines = r.stdout.split('\n');
      if (lines.length >= todo.length) out = lines.slice(0, todo.length);
    }
  }
  if (cache.size + todo.length > CACHE_MAX) cache.clear();
  for (let i = 0; i < todo.length; i++) {
    const m = todo[i]!;
    let d = out?.[i] ?? m;
    if (d === m) d = legacyRust(m) ?? m;
    const isRust = m.startsWith('_R') || /17h[0-9a-f]{16}E$/.test(m);
    cache.set(m, isRust ? tidyRust(d) : d);
  }
}

/** Minimal Rust legacy demangler (`_ZN` len-prefixed path `E`), used without c++filt. */
export function legacyRust(m: string): string | undefined {
  if (!m.startsWith('_ZN') || !m.endsWith('E')) return undefined;
  const parts: string[] = [];
  let i = 3;
  while (i < m.length - 1) {
    let j = i;
    while (j < m.length && m.charCodeAt(j) >= 48 && m.charCodeAt(j) <= 57) j++;
    if (j === i) return undefined;
    const len = Number(m.slice(i, j));
    parts.push(m.slice(j, j + len));
    i = j + len;
  }
  if (parts.length && /^h[0-9a-f]{16}$/.test(parts[parts.length - 1]!)) parts.pop();
  const esc: Record<string, string> = {
    '$SP$': '@', '$BP$': '*', '$RF$': '&', '$LT$': '<', '$GT$': '>', '$LP$': '(', '$RP$': ')', '$C$': ',',
    '$u7e$': '~', '$u20$': ' ', '$u27$': "'", '$u5b$': '[', '$u5d$': ']', '$u7b$': '{', '$u7d$': '}', '$u3b$': ';',
  };
  return parts
    .map((p) => p.replace(/^_\$/, '$').replace(/\$[A-Za-z0-9]+\$/g, (e) => esc[e] ?? e).replace(/\.\./g, '::'))
    .join('::');
}
