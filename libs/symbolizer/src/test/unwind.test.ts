// CFI unwinding: the compiled table agrees with readelf's interpretation of .eh_frame, and a
// stack copied out of a -fomit-frame-pointer program unwinds to its known call chain.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  Symbolizer,
  readElf,
  readUnwindTable,
  CFA_RSP,
  CFA_RBP,
  RULE_UNCHANGED,
  RULE_UNDEFINED,
  unwindUser,
} from '../index.js';
import { have, run, startAndReadLine, stop, tempDir, write } from './fixtures.js';
import type { ChildProcess } from 'node:child_process';
import type { UnwindReach } from '../unwind.js';

const tmp = tempDir();
const children: ChildProcess[] = [];
after(() => {
  children.forEach(stop);
  tmp.cleanup();
});

/** Compares our rows with `readelf --debug-dump=frames-interp` (CFA, rbp and ra columns). */
function compareWithReadelf(path: string): { rows: number; mismatches: string[] } {
  const table = readUnwindTable(readElf(path));
  const out = spawnSync('readelf', ['--debug-dump=frames-interp', path], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  }).stdout;
  let cols: string[] = [];
  let inFde = false;
  let rows = 0;
  const mismatches: string[] = [];
  for (const line of out.split('\n')) {
    if (/ FDE cie=/.test(line)) inFde = true;
    else if (/ CIE /.test(line)) inFde = false;
    if (/^\s+LOC\s+CFA/.test(line)) {
      cols = line.trim().split(/\s+/).slice(2); // register columns after LOC, CFA
      continue;
    }
    const m = /^([0-9a-f]{16})\s+(\S+)\s*(.*)$/.exec(line);
    if (!m || !inFde) continue;
    const cfa = m[2]!;
    if (!/^(rsp|rbp)\+\d+$/.test(cfa)) continue; // expressions: only the PLT one is modelled
    if (m[3]!.includes('(')) continue; // "r3 (rbx)": a register-held value, not modelled
    const rest = m[3]!.trim().split(/\s+/);
    const rbp = cols.includes('rbp') ? rest[cols.indexOf('rbp')]! : 'u';
    const ra = rest[cols.indexOf('ra')]!;
    if (!/^(u|c-\d+)$/.test(rbp) || !/^(u|c-\d+)$/.test(ra)) continue; // register-held values
    rows++;
    const r = table.row(parseInt(m[1]!, 16));
    const got = r
      ? `${r.cfa === CFA_RSP ? 'rsp' : r.cfa === CFA_RBP ? 'rbp' : '?'}+${r.cfaOffset} ${r.rbpOffset === RULE_UNCHANGED ? 'u' : 'c' + r.rbpOffset} ${r.raOffset === RULE_UNDEFINED ? 'u' : 'c' + r.raOffset}`
      : 'none';
    const want = `${cfa} ${rbp} ${ra}`;
    if (got !== want) mismatches.push(`${m[1]}: want ${want}, got ${got}`);
  }
  return { rows, mismatches };
}

test('.eh_frame table matches readelf for nginx and libc', { skip: !have('readelf') && 'readelf missing' }, () => {
  for (const p of ['/usr/sbin/nginx', '/usr/lib/x86_64-linux-gnu/libc.so.6']) {
    if (!existsSync(p)) continue;
    const { rows, mismatches } = compareWithReadelf(p);
    assert.ok(rows > 1000, `${p}: ${rows} rows compared`);
    assert.deepEqual(mismatches.slice(0, 5), [], `${p}: ${mismatches.length} mismatches of ${rows}`);
  }
});

const SRC = `
#include <alloca.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
extern void *__libc_stack_end;
static unsigned char copy[1 << 18];
static const char *out_path;

__attribute__((noinline)) void capture(void) {
  uint64_t ip, sp, bp;
  __asm__ volatile("lea 0(%%rip), %0\\n\\tmov %%rsp, %1\\n\\tmov %%rbp, %2" : "=r"(ip), "=r"(sp), "=r"(bp));
  size_t len = (uintptr_t)__libc_stack_end - sp;
  if (len > sizeof copy) len = sizeof copy;
  memcpy(copy, (void *)sp, len);
  FILE *f = fopen(out_path, "wb");
  fwrite(copy, 1, len, f);
  fclose(f);
  printf("%#lx %#lx %#lx %zu\\n", ip, sp, bp, len);
  fflush(stdout);
}

__attribute__((noinline)) int level_c(int x) {
  volatile int buf[9];
  buf[x & 7] = x;
  capture();
  return buf[x & 7] + 1;
}

/* alloca forces a frame pointer here even with -fomit-frame-pointer: CFA = rbp+16. */
__attribute__((noinline)) int level_b(int x) {
  char *p = alloca((x & 15) * 16 + 64);
  memset(p, x, 16);
  int r = level_c(x + 1);
  return r + p[3];
}

__attribute__((noinline)) int level_a(int x) {
  volatile long big[40];
  big[x % 40] = x;
  int r = level_b(x * 2);
  return r + (int)big[x % 40];
}

int main(int argc, char **argv) {
  out_path = argv[1];
  int r = level_a(argc);
  for (;;) pause();
  return r;
}
`;

test(
  'unwinds a -fomit-frame-pointer stack copy to its call chain',
  { skip: !have('gcc') && 'gcc missing' },
  async () => {
    write(tmp.dir, 'omit.c', SRC);
    const exe = join(tmp.dir, 'swomit');
    run('gcc', [
      '-O2',
      '-fomit-frame-pointer',
      '-fno-optimize-sibling-calls',
      '-fno-inline',
      '-o',
      exe,
      join(tmp.dir, 'omit.c'),
    ]);
    const dump = join(tmp.dir, 'stack.bin');
    const { child, line } = await startAndReadLine(exe, [dump]);
    children.push(child);
    const [ip, sp, bp] = line
      .trim()
      .split(/\s+/)
      .map((x) => BigInt(x)) as [bigint, bigint, bigint];
    const stack = readFileSync(dump);
    const s = new Symbolizer();
    const pcs = s.unwind(child.pid!, { ip, sp, bp }, stack);
    const names = s.symbolizeUser(child.pid!, pcs, { returnAddresses: true }).map((f) => f.name);
    assert.deepEqual(names.slice(0, 5), ['capture', 'level_c', 'level_b', 'level_a', 'main'], names.join(' <- '));
    assert.ok(
      names.some((n) => n.startsWith('__libc_start')),
      names.join(' <- '),
    );
    assert.equal(names[names.length - 1], '_start', names.join(' <- '));

    // The CFA rules used include an rbp-based one (level_b, which uses alloca).
    const levelB = readElf(exe).symbols().findByName('level_b')!;
    const table = readUnwindTable(readElf(exe));
    let sawRbp = false;
    for (let a = levelB.start; a < levelB.start + BigInt(levelB.size); a++)
      if (table.row(a)?.cfa === CFA_RBP) sawRbp = true;
    assert.ok(sawRbp, 'level_b has an rbp-based CFA');

    // A stack cut short stops the walk cleanly instead of producing garbage, and says so.
    const cut: UnwindReach = { end: 'other', used: 0, shortAt: -1 };
    const short = unwindUser({ ip, sp, bp }, stack.subarray(0, 64), sp, s.unwindMaps(child.pid!), { reach: cut });
    assert.ok(short.length >= 1 && short.length < pcs.length);
    assert.equal(cut.end, 'short');
    assert.ok(cut.shortAt >= 57 && cut.used <= 64, JSON.stringify(cut));

    // The whole walk reached the root reading `used` bytes, and a copy that long finds the same frames.
    const reach: UnwindReach = { end: 'other', used: 0, shortAt: -1 };
    assert.deepEqual(s.unwind(child.pid!, { ip, sp, bp }, stack, sp, { reach }), pcs);
    assert.equal(reach.end, 'root');
    assert.ok(reach.used > 40 * 8 && reach.used <= stack.length, JSON.stringify(reach));
    const again: UnwindReach = { end: 'other', used: 0, shortAt: -1 };
    assert.deepEqual(s.unwind(child.pid!, { ip, sp, bp }, stack.subarray(0, reach.used), sp, { reach: again }), pcs);
    assert.deepEqual(again, reach);
    // The BigInt walk (no Number fast path) reports the same.
    const maps = s.unwindMaps(child.pid!);
    const slow: UnwindReach = { end: 'other', used: 0, shortAt: -1 };
    assert.deepEqual(unwindUser({ ip, sp, bp }, stack, sp, { find: (pc) => maps.find(pc) }, { reach: slow }), pcs);
    assert.deepEqual(slow, reach);
  },
);

test('gdb agrees on the frames beyond main', { skip: !have('gdb') && 'gdb missing' }, async (t) => {
  // The process pauses in main after the capture; frames past main (libc start code, _start)
  // are the same for gdb's backtrace now and for our walk from the captured point.
  const exe = join(tmp.dir, 'swomit');
  const dump = join(tmp.dir, 'stack2.bin');
  const { child, line } = await startAndReadLine(exe, [dump]);
  children.push(child);
  const [ip, sp, bp] = line
    .trim()
    .split(/\s+/)
    .map((x) => BigInt(x)) as [bigint, bigint, bigint];
  const s = new Symbolizer();
  const pcs = s.unwind(child.pid!, { ip, sp, bp }, readFileSync(dump));
  const names = s.symbolizeUser(child.pid!, pcs, { returnAddresses: true }).map((f) => f.name);
  const r = spawnSync(
    'gdb',
    ['-nx', '-batch', '-p', String(child.pid), '-ex', 'set backtrace past-main on', '-ex', 'bt'],
    {
      encoding: 'utf8',
      timeout: 60000,
    },
  );
  const frames = [...(r.stdout ?? '').matchAll(/^#(\d+)\s+(0x[0-9a-f]+) in (\S+)/gm)].map((m) => ({
    pc: BigInt(m[2]!),
    name: m[3]!,
  }));
  const mainAt = frames.findIndex((f) => f.name === 'main');
  if (mainAt < 0) {
    t.skip(`gdb gave no backtrace through main: ${(r.stderr ?? '').slice(0, 200)}`);
    return;
  }
  const gdbBeyond = frames.slice(mainAt + 1).map((f) => f.pc);
  const ours = pcs.slice(names.indexOf('main') + 1);
  assert.ok(gdbBeyond.length >= 2, r.stdout);
  assert.deepEqual(
    ours.map((p) => '0x' + p.toString(16)),
    gdbBeyond.map((p) => '0x' + p.toString(16)),
    `gdb: ${frames.map((f) => f.name).join(' <- ')}; ours: ${names.join(' <- ')}`,
  );
});
