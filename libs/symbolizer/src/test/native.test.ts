// End-to-end symbolization of live native processes built here: a PIE C program with a
// shared library of our own, a deleted executable, a C++ program, and a stripped Go binary.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Symbolizer } from '../index.js';
import { cli, goBinary, have, run, startAndReadLine, stop, tempDir, write } from './fixtures.js';
import type { ChildProcess } from 'node:child_process';

const tmp = tempDir();
const children: ChildProcess[] = [];
after(() => {
  children.forEach(stop);
  tmp.cleanup();
});

const LIB_C = `
#include <stdio.h>
__attribute__((noinline)) int swlib_export_one(int x) { return x * 7 + 1; }
__attribute__((noinline)) int swlib_export_two(int x) { return swlib_export_one(x) - 3; }
void *swlib_addr_one(void) { return (void *)&swlib_export_one; }
void *swlib_addr_two(void) { return (void *)&swlib_export_two; }
`;

const MAIN_C = `
#include <stdio.h>
#include <unistd.h>
void *swlib_addr_one(void);
void *swlib_addr_two(void);
int swlib_export_two(int);
__attribute__((noinline)) int known_func_alpha(int x) { return x + swlib_export_two(x); }
__attribute__((noinline)) static int known_func_beta(int x) { return known_func_alpha(x) * 2; }
int main(int argc, char **argv) {
  volatile int v = known_func_beta(argc);
  printf("%p %p %p %p\\n", (void *)&known_func_alpha, (void *)&known_func_beta, swlib_addr_one(), swlib_addr_two());
  fflush(stdout);
  for (;;) pause();
  return v;
}
`;

function buildC(): { exe: string } {
  write(tmp.dir, 'lib.c', LIB_C);
  write(tmp.dir, 'main.c', MAIN_C);
  run('gcc', ['-O1', '-g0', '-fPIC', '-shared', '-o', join(tmp.dir, 'libswtest.so'), join(tmp.dir, 'lib.c')]);
  const exe = join(tmp.dir, 'swmain');
  run('gcc', ['-O1', '-o', exe, join(tmp.dir, 'main.c'), `-L${tmp.dir}`, '-lswtest', `-Wl,-rpath,${tmp.dir}`]);
  return { exe };
}

const hex = (s: string) => BigInt(s);

test('names addresses in a PIE executable and its shared library of a live process', async () => {
  const { exe } = buildC();
  const { child, line } = await startAndReadLine(exe, []);
  children.push(child);
  const [alpha, beta, one, two] = line.trim().split(/\s+/).map(hex) as [bigint, bigint, bigint, bigint];
  const s = new Symbolizer();
  const frames = s.symbolizeUser(child.pid!, [alpha, beta + 2n, one + 1n, two, 0x10n]);
  assert.deepEqual(
    frames.map((f) => [f.name, f.module, f.resolved]),
    [
      ['known_func_alpha', 'swmain', true],
      ['known_func_beta', 'swmain', true],
      ['swlib_export_one', 'libswtest.so', true],
      ['swlib_export_two', 'libswtest.so', true],
      ['[unknown]+0x10', '[unknown]', false],
    ],
  );
  assert.equal(frames[1]!.offset, 2n);
  assert.equal(frames[2]!.offset, 1n);
  assert.ok(frames[0]!.buildId && /^[0-9a-f]+$/.test(frames[0]!.buildId));

  // The CLI gives the same names.
  const out = cli(['--pid', String(child.pid), '0x' + alpha.toString(16), '0x' + one.toString(16)]);
  assert.match(out, /known_func_alpha\s+swmain/);
  assert.match(out, /swlib_export_one\s+libswtest\.so/);
  const json = cli(['--pid', String(child.pid), '--json', '0x' + two.toString(16)]);
  assert.equal(JSON.parse(json.trim()).name, 'swlib_export_two');
});

test('an address in a mapping but outside any symbol is module+0xfileoffset', async () => {
  const exe = join(tmp.dir, 'swmain');
  const { child, line } = await startAndReadLine(exe, []);
  children.push(child);
  void line;
  const s = new Symbolizer();
  // The last byte of the executable mapping of swmain is page padding past .fini: no symbol.
  const maps = (await import('node:fs')).readFileSync(`/proc/${child.pid}/maps`, 'utf8');
  const m = maps.split('\n').find((l) => l.includes('r-xp') && l.endsWith('/swmain'))!;
  const [range, , off] = m.split(/\s+/) as [string, string, string];
  const [start, end] = range.split('-').map((x) => BigInt('0x' + x)) as [bigint, bigint];
  const [f] = s.symbolizeUser(child.pid!, [end - 1n]);
  assert.equal(f!.resolved, false);
  assert.equal(f!.module, 'swmain');
  assert.equal(f!.name, `swmain+0x${(BigInt('0x' + off) + end - 1n - start).toString(16)}`);
});

test('a mapping that appears later is found at the next maps read (at most one per mapsRetryMs); known frames are resolved once', async () => {
  const exe = join(tmp.dir, 'swmain');
  const { child, line } = await startAndReadLine(exe, []);
  children.push(child);
  const [alpha, , one] = line.trim().split(/\s+/).map(hex) as [bigint, bigint, bigint];
  // A procfs of our own: the process's maps first without its library, as before a dlopen.
  const proc = join(tmp.dir, 'fakeproc');
  const { mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
  mkdirSync(join(proc, String(child.pid)), { recursive: true });
  const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
  const mapsFile = join(proc, String(child.pid), 'maps');
  writeFileSync(
    mapsFile,
    maps
      .split('\n')
      .filter((l) => !l.includes('libswtest'))
      .join('\n'),
  );
  const s = new Symbolizer({ procRoot: proc, mapsRetryMs: 300 });
  const first = s.symbolizeUser(child.pid!, [alpha, one]);
  assert.deepEqual(
    first.map((f) => f.resolved),
    [true, false],
  );
  writeFileSync(mapsFile, maps);
  // Within mapsRetryMs of the last read the unknown address does not re-read the maps.
  const again = s.symbolizeUser(child.pid!, [alpha, one]);
  assert.equal(again[1]!.resolved, false);
  assert.equal(again[0], first[0], 'a frame of file-backed code is resolved once and shared');
  await new Promise((r) => setTimeout(r, 350));
  const later = s.symbolizeUser(child.pid!, [alpha, one]);
  assert.deepEqual(
    later.map((f) => f.name),
    ['known_func_alpha', 'swlib_export_one'],
  );
});

test('a deleted executable is read through /proc/PID/map_files', async () => {
  const exe = join(tmp.dir, 'swmain-deleted');
  copyFileSync(join(tmp.dir, 'swmain'), exe);
  const { child, line } = await startAndReadLine(exe, []);
  children.push(child);
  unlinkSync(exe);
  const [alpha] = line.trim().split(/\s+/).map(hex) as [bigint];
  const [f] = new Symbolizer().symbolizeUser(child.pid!, [alpha + 1n]);
  assert.equal(f!.name, 'known_func_alpha');
  assert.equal(f!.module, 'swmain-deleted');
});

test('a stopped process keeps the maps it had (samples outlive processes)', async () => {
  const { child, line } = await startAndReadLine(join(tmp.dir, 'swmain'), []);
  const [alpha] = line.trim().split(/\s+/).map(hex) as [bigint];
  const s = new Symbolizer({ mapsMaxAgeMs: 0 });
  assert.equal(s.symbolizeUser(child.pid!, [alpha])[0]!.name, 'known_func_alpha');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(s.symbolizeUser(child.pid!, [alpha])[0]!.name, 'known_func_alpha');
  s.forgetProcess(child.pid!);
  assert.equal(s.symbolizeUser(child.pid!, [alpha])[0]!.module, '[unknown]');
});

const CXX = `
#include <cstdio>
#include <unistd.h>
__attribute__((noinline)) void *here() { return __builtin_extract_return_addr(__builtin_return_address(0)); }
namespace ns {
struct Klass {
  int v;
  __attribute__((noinline)) void *method(int x);
  template <typename T> __attribute__((noinline)) void *tmpl(T x) { v += (int)x; return here(); }
};
void *Klass::method(int x) { v += x; void *p = here(); v += 1; return p; }
}
int main() {
  ns::Klass k{1};
  void *a = k.method(3);
  void *b = k.tmpl<double>(2.0);
  std::printf("%p %p\\n", a, b);
  std::fflush(stdout);
  for (;;) pause();
}
`;

test('C++ names are demangled', { skip: !have('g++') && 'g++ missing' }, async () => {
  write(tmp.dir, 'k.cpp', CXX);
  const exe = join(tmp.dir, 'swcxx');
  run('g++', ['-O1', '-o', exe, join(tmp.dir, 'k.cpp')]);
  const { child, line } = await startAndReadLine(exe, []);
  children.push(child);
  const [a, b] = line.trim().split(/\s+/).map(hex) as [bigint, bigint];
  const frames = new Symbolizer().symbolizeUser(child.pid!, [a, b]);
  assert.equal(frames[0]!.name, 'ns::Klass::method(int)');
  assert.equal(frames[1]!.name, 'void* ns::Klass::tmpl<double>(double)');
});

test('stripped Go binary: names from .gopclntab', async (t) => {
  const go = goBinary();
  if (!go) {
    if (process.env.CI === 'true') assert.fail('go toolchain missing under CI');
    t.skip('go toolchain missing');
    return;
  }
  const dir = join(tmp.dir, 'gosrc');
  run('mkdir', ['-p', dir]);
  write(dir, 'go.mod', 'module example.com/swgo\n\ngo 1.18\n');
  write(
    dir,
    'main.go',
    `package main

import (
	"fmt"
	"os"
	"reflect"
	"time"
)

//go:noinline
func SwliteGoMarker(x int) int { return x*3 + 1 }

func main() {
	fmt.Printf("%#x %d\\n", reflect.ValueOf(SwliteGoMarker).Pointer(), SwliteGoMarker(len(os.Args)))
	time.Sleep(time.Hour)
}
`,
  );
  const exe = join(tmp.dir, 'swgo');
  run(go, ['build', '-ldflags=-s -w', '-o', exe, '.'], {
    cwd: dir,
    env: {
      ...process.env,
      GOFLAGS: '-mod=mod',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
      // go needs a cache and a GOPATH; without HOME (bare CI environments) use the temp dir.
      ...(process.env.HOME ? {} : { GOCACHE: join(tmp.dir, 'gocache'), GOPATH: join(tmp.dir, 'gopath') }),
    },
  });
  const { readElf } = await import('../elf.js');
  const elf = readElf(exe);
  assert.equal(elf.hasSymtab, false, 'binary should be stripped');
  assert.ok(elf.section('.gopclntab'));
  const { child, line } = await startAndReadLine(exe, []);
  children.push(child);
  const pc = BigInt(line.split(' ')[0]!);
  const frames = new Symbolizer().symbolizeUser(child.pid!, [pc, pc + 4n]);
  assert.deepEqual(
    frames.map((f) => [f.name, f.module, f.resolved]),
    [
      ['main.SwliteGoMarker', 'swgo', true],
      ['main.SwliteGoMarker', 'swgo', true],
    ],
  );
  // The runtime's own functions are there too.
  assert.ok(elf.symbols().findByName('runtime.main'));
});
