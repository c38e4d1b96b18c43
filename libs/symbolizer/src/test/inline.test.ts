// Inline chains from DWARF, checked against elfutils: for 1,000 addresses sampled over the
// code of each file, the function names of `eu-addr2line -f -i` (innermost first) equal ours.
// Files: gcc -O2 -g programs built here (static inline helpers, DWARF 5 and 4, zlib-compressed
// sections, a separate debug file found by build-id), and the debug files of Debian's nginx and
// haproxy rebuilt by tools/debian-debug-builds.sh (skipped with the reason when that build is
// missing, failed under CI=true).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DwarfInlines,
  findSupplementaryFile,
  readElf,
  stackSymbols,
  Symbolizer,
  parseInlinedSymbol,
} from '../index.js';
import { euAddr2line, hasEuAddr2line } from './addr2line.js';
import { have, run, tempDir, write } from './fixtures.js';

const inCI = process.env.CI === 'true';
const tmp = tempDir('swsym-inline-');
after(() => tmp.cleanup());

const noTools = !have('gcc')
  ? 'gcc is missing'
  : !hasEuAddr2line()
    ? 'eu-addr2line is missing (tools/setup.sh installs elfutils)'
    : false;
if (inCI && noTools) throw new Error(`${noTools}: CI must run the inline-chain comparison`);

const HOT_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static inline __attribute__((always_inline)) unsigned mix(unsigned x) { return x * 2654435761u ^ (x >> 13); }
static inline __attribute__((always_inline)) unsigned twice(unsigned x) { return mix(mix(x) + 7); }
static inline unsigned checksum(const char *s) { unsigned h = 0; while (*s) h = twice(h + (unsigned char)*s++); return h; }
__attribute__((noinline)) unsigned work(unsigned n) { unsigned s = 0; for (unsigned i = 0; i < n; i++) s += twice(i); return s; }
__attribute__((noinline)) unsigned words(int argc, char **argv) {
  unsigned s = 0;
  for (int i = 0; i < argc; i++) s += checksum(argv[i]) + (unsigned)strlen(argv[i]);
  return s;
}
unsigned other(unsigned);
int main(int argc, char **argv) { printf("%u\\n", work(argc > 1 ? atoi(argv[1]) : 1000) + words(argc, argv) + other(argc)); return 0; }
`;
const OTHER_C = `
static inline __attribute__((always_inline)) unsigned sq(unsigned x) { return x * x + 1; }
static inline unsigned poly(unsigned x) { return sq(x) * 3 + sq(x + 1); }
unsigned other(unsigned n) { unsigned s = 0; for (unsigned i = 0; i < n * 100; i++) s ^= poly(i); return s; }
`;

function build(name: string, flags: string[]): string {
  const out = join(tmp.dir, name);
  run('gcc', ['-O2', ...flags, '-o', out, write(tmp.dir, 'hot.c', HOT_C), write(tmp.dir, 'other.c', OTHER_C)]);
  return out;
}

/** 1,000 addresses spread evenly (deterministic) over the code ranges of the file's functions. */
function sampleAddresses(elf: string, n = 1000): number[] {
  const out: number[] = [];
  const text = readElf(elf).section('.text');
  assert.ok(text, `${elf}: no .text`);
  const lo = Number(text.addr);
  const step = text.size / n;
  for (let i = 0; i < n; i++) out.push(lo + Math.floor(i * step + step / 2));
  return out;
}

/**
 * Compares ours with eu-addr2line's; returns how many chains had an inlined function. elfutils
 * answers "??" inside a function for scopes GCC gave code outside their parent's ranges; those
 * addresses (at most 1%) are only counted.
 */
function compare(debugFile: string, addrs: number[]): { inlined: number; unnamedByElfutils: number } {
  const s = new Symbolizer({ debugDirs: [] });
  const frames = s.symbolizeFile(debugFile, addrs.map(BigInt));
  s.close();
  const ref = euAddr2line(debugFile, addrs);
  let inlined = 0;
  let unnamedByElfutils = 0;
  const diffs: string[] = [];
  addrs.forEach((a, i) => {
    const theirs = ref[i]!;
    const f = frames[i]!;
    // Outside every function (padding between them): unnamed for both.
    if (theirs.length === 1 && theirs[0] === '??' && !f.resolved) return;
    if (theirs.includes('??')) {
      unnamedByElfutils++;
      return;
    }
    const ours = [...(f.inlined ?? []), f.name];
    if (JSON.stringify(ours) !== JSON.stringify(theirs))
      diffs.push(`0x${a.toString(16)}: ours ${JSON.stringify(ours)} elfutils ${JSON.stringify(theirs)}`);
    if (theirs.length > 1) inlined++;
  });
  assert.deepEqual(diffs.slice(0, 10), [], `${diffs.length} of ${addrs.length} chains differ`);
  assert.ok(unnamedByElfutils <= addrs.length * 0.01, `elfutils found no function for ${unnamedByElfutils} addresses`);
  return { inlined, unnamedByElfutils };
}

test('gcc -O2 -g (DWARF 5): 1,000 inline chains equal eu-addr2line -f -i', { skip: noTools }, () => {
  const exe = build('hot5', ['-g']);
  const r = compare(exe, sampleAddresses(exe));
  assert.ok(r.inlined >= 100, `only ${r.inlined} addresses in inlined code`);
});

test('units are found from .debug_aranges or, without it, from their root DIEs: same chains', { skip: noTools }, () => {
  const exe = build('hotaranges', ['-g']);
  assert.ok(readElf(exe).section('.debug_aranges'), 'gcc wrote .debug_aranges');
  const bare = join(tmp.dir, 'hot-noaranges');
  run('objcopy', ['--remove-section', '.debug_aranges', exe, bare]);
  assert.equal(readElf(bare).section('.debug_aranges'), undefined);
  const addrs = sampleAddresses(exe);
  const withIndex = new DwarfInlines(readElf(exe));
  const fromRoots = new DwarfInlines(readElf(bare));
  const chains = (d: DwarfInlines) => addrs.map((a) => JSON.stringify(d.lookup(a)));
  const a = chains(withIndex);
  assert.deepEqual(a, chains(fromRoots));
  assert.ok(a.filter((c) => c !== undefined && JSON.parse(c).length > 1).length >= 100, 'inlined chains compared');
  compare(exe, addrs); // and the indexed ones are elfutils' (which needs .debug_aranges)
});

test('gcc -O2 -gdwarf-4, sections compressed with zlib: chains equal eu-addr2line', { skip: noTools }, () => {
  const exe = build('hot4z', ['-gdwarf-4', '-Wl,--compress-debug-sections=zlib']);
  const elf = readElf(exe);
  assert.ok(elf.section('.debug_info')!.flags & 0x800, 'the linker compressed .debug_info');
  const r = compare(exe, sampleAddresses(exe));
  assert.ok(r.inlined >= 100, `only ${r.inlined} addresses in inlined code`);
});

test(
  'the symbolizer expands an address into its inline chain from a separate debug file (build-id)',
  { skip: noTools },
  () => {
    const exe = build('hotdbg', ['-g', '-Wl,--build-id']);
    const elf = readElf(exe);
    const debugDir = join(tmp.dir, 'debug');
    const id = elf.buildId!;
    mkdirSync(join(debugDir, '.build-id', id.slice(0, 2)), { recursive: true });
    const debugFile = join(debugDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`);
    run('objcopy', ['--only-keep-debug', '--compress-debug-sections=zlib', exe, debugFile]);
    run('strip', ['--strip-all', exe]);
    assert.equal(readElf(exe).section('.debug_info'), undefined);
    // An address inside mix() inlined into twice() inlined into work(): the one of the loop body.
    const d = new DwarfInlines(readElf(debugFile));
    const text = readElf(debugFile).section('.text')!;
    let at = -1;
    for (let a = Number(text.addr); a < Number(text.addr) + text.size && at < 0; a++) {
      const c = d.lookup(a);
      if (c && c.length === 3 && c[0]!.name === 'work') at = a;
    }
    assert.ok(at > 0, 'an address of mix in twice in work');
    const s = new Symbolizer({ debugDirs: [debugDir] });
    const [f] = s.symbolizeFile(exe, [BigInt(at)]);
    assert.equal(f!.name, 'work');
    assert.deepEqual(f!.inlined, ['mix', 'twice']);
    assert.deepEqual(stackSymbols([f!]), ['mix (inlined)', 'twice (inlined)', 'work']);
    assert.deepEqual(parseInlinedSymbol('mix (inlined)'), { name: 'mix', inlined: true });
    assert.deepEqual(parseInlinedSymbol('work'), { name: 'work', inlined: false });
    // Off: frames are the symbol table's only.
    const [g] = new Symbolizer({ debugDirs: [debugDir], inlineFrames: false }).symbolizeFile(exe, [BigInt(at)]);
    assert.equal(g!.inlined, undefined);
    s.close();
  },
);

/** A Debian package rebuilt with its -dbgsym debug file by tools/debian-debug-builds.sh. */
function debianDebugFile(pkg: string): string | string {
  const dir = join(import.meta.dirname, '..', '..', '..', '..', '.cache', 'debian-debug', pkg);
  try {
    const meta = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8')) as { debugFile: string };
    const f = join(dir, meta.debugFile);
    return existsSync(f) ? f : `${f} is missing (run tools/debian-debug-builds.sh)`;
  } catch {
    return `no build of Debian's ${pkg} in .cache/debian-debug (run tools/debian-debug-builds.sh)`;
  }
}

for (const pkg of ['nginx', 'haproxy']) {
  const file = debianDebugFile(pkg);
  const missing = file.startsWith('/') && existsSync(file) ? false : file;
  test(
    `Debian ${pkg}-dbgsym (dwz, DWARF 5, compressed): 1,000 chains equal eu-addr2line`,
    { skip: noTools || (!inCI && missing) },
    () => {
      if (missing) assert.fail(missing);
      const r = compare(file, sampleAddresses(file));
      assert.ok(r.inlined >= 100, `only ${r.inlined} addresses in inlined code`);
      console.log(
        `${pkg}: ${r.inlined} of 1000 addresses in inlined code; elfutils without a name at ${r.unnamedByElfutils}`,
      );
    },
  );
}

test(
  'dwz -m: names in the supplementary file (.gnu_debugaltlink) are read; chains equal eu-addr2line',
  { skip: noTools || (!have('dwz') && 'dwz is missing (tools/setup.sh installs it)') },
  () => {
    if (inCI && !have('dwz')) assert.fail('dwz is missing: CI must run the supplementary-file comparison');
    // Two programs from the same sources: dwz moves their common DIEs (the abstract instances of
    // the inlined helpers among them) into one shared file and references it from both.
    const a = build('alt-a', ['-g']);
    const b = build('alt-b', ['-g', '-DVARIANT']);
    const common = join(tmp.dir, 'common.debug');
    run('dwz', ['-m', common, '-M', common, a, b]);
    const elf = readElf(a);
    assert.deepEqual(elf.debugAltLink, { file: common, buildId: readElf(common).buildId });
    // Without the supplementary file, inlined functions lose their names; with it, none does.
    const addrs = sampleAddresses(a);
    const unnamed = (d: DwarfInlines) => addrs.filter((x) => d.lookup(x)?.some((f) => f.name === undefined)).length;
    assert.ok(unnamed(new DwarfInlines(elf)) > 50, 'dwz moved names into the supplementary file');
    assert.equal(unnamed(new DwarfInlines(elf, readElf(common))), 0);
    const r = compare(a, addrs);
    assert.ok(r.inlined >= 100, `only ${r.inlined} addresses in inlined code`);

    // Where a Debian package puts it (/usr/lib/debug/.dwz/...) but unpacked elsewhere: found under
    // the debug directory given, by the path with /usr/lib/debug replaced, and by build-id.
    const c = build('alt-c', ['-g']);
    const d = build('alt-d', ['-g', '-DVARIANT']);
    const root = join(tmp.dir, 'debugroot');
    const linked = '/usr/lib/debug/.dwz/x86_64-linux-gnu/swsym-test.debug';
    mkdirSync(join(root, '.dwz', 'x86_64-linux-gnu'), { recursive: true });
    run('dwz', ['-m', join(root, '.dwz', 'x86_64-linux-gnu', 'swsym-test.debug'), '-M', linked, c, d]);
    assert.equal(readElf(c).debugAltLink!.file, linked);
    assert.ok(findSupplementaryFile(readElf(c), { debugDirs: [root] }), 'found by the path under the debug directory');
    assert.equal(findSupplementaryFile(readElf(c), { debugDirs: [join(tmp.dir, 'elsewhere')] }), undefined);
    const s = new Symbolizer({ debugDirs: [root] });
    const frames = s.symbolizeFile(c, addrs.map(BigInt));
    s.close();
    assert.ok(
      frames.filter((f) => f.inlined?.length).length >= 100,
      'inline chains named through the relocated supplementary file',
    );
    assert.ok(
      frames.every((f) => !f.inlined?.some((n) => !n || n.startsWith('['))),
      'no unnamed inlined frame',
    );
  },
);
