// Unwinding through the kernel's signal frame (glibc's __restore_rt, CIE augmentation 'S',
// registers restored by DWARF expressions over the rt_sigframe's ucontext) and the bounded
// expression evaluator behind it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Symbolizer, readElf, readUnwindTable, CFA_EXPR, CFA_SIGNAL, decodeExprRule, evalCfiExpression, MAX_EXPR_OPS, unwindUser } from '../index.js';
import { have, run, startAndReadLine, stop, tempDir, write } from './fixtures.js';
import type { ChildProcess } from 'node:child_process';

const tmp = tempDir('swsym-sig-');
const children: ChildProcess[] = [];
after(() => {
  children.forEach(stop);
  tmp.cleanup();
});

const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

test('expression evaluator: the PLT CFA rule, derefs from the stack, the op limit', () => {
  // DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
  const plt = Uint8Array.from([0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22]);
  const none = () => undefined;
  assert.equal(evalCfiExpression(plt, { rsp: 0x1000n, rbp: 0n, rip: 0x4020n }, none), 0x1008n);
  assert.equal(evalCfiExpression(plt, { rsp: 0x1000n, rbp: 0n, rip: 0x402bn }, none), 0x1010n);
  // __restore_rt's CFA: DW_OP_breg7 160; DW_OP_deref (the interrupted rsp saved in the ucontext).
  const mem = new Map([[0x2000n + 160n, 0x7ff0n]]);
  const cfa = Uint8Array.from([0x77, 0xa0, 0x01, 0x06]);
  assert.equal(evalCfiExpression(cfa, { rsp: 0x2000n, rbp: undefined, rip: 0n }, (a) => mem.get(a)), 0x7ff0n);
  // A register the walk does not know (rbx), an unknown op, a truncated expression, a loop.
  assert.equal(evalCfiExpression(Uint8Array.from([0x73, 0x00]), { rsp: 1n, rbp: 1n, rip: 1n }, none), undefined);
  assert.equal(evalCfiExpression(Uint8Array.from([0x30, 0xe0]), { rsp: 1n, rbp: 1n, rip: 1n }, none), undefined);
  assert.equal(evalCfiExpression(Uint8Array.from([0x0c, 0x01]), { rsp: 1n, rbp: 1n, rip: 1n }, none), undefined);
  const loop = Uint8Array.from([0x2f, 0xfd, 0xff]); // DW_OP_skip -3: itself
  assert.equal(evalCfiExpression(loop, { rsp: 1n, rbp: 1n, rip: 1n }, none), undefined);
  assert.ok(MAX_EXPR_OPS <= 1000);
  // Register rules get the CFA pushed first: DW_OP_lit8; DW_OP_minus → CFA-8.
  assert.equal(evalCfiExpression(Uint8Array.from([0x38, 0x1c]), { rsp: 0n, rbp: 0n, rip: 0n }, none, 0x100n), 0xf8n);
});

test("libc's __restore_rt: a signal frame whose CFA, rip and rbp rules are expressions", { skip: !existsSync(LIBC) && 'no libc.so.6' }, () => {
  const table = readUnwindTable(readElf(LIBC));
  let signalRows = 0;
  for (let i = 0; i < table.length; i++) {
    if (!(table.cfa[i]! & CFA_SIGNAL)) continue;
    signalRows++;
    assert.equal(table.cfa[i]! & ~CFA_SIGNAL, CFA_EXPR);
    assert.ok(decodeExprRule(table.raOffset[i]!), 'rip by expression');
    assert.ok(decodeExprRule(table.rbpOffset[i]!), 'rbp by expression');
  }
  assert.ok(signalRows >= 1, 'a signal frame in libc');
});

const SRC = `
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
extern void *__libc_stack_end;
static unsigned char copy[1 << 18];
static const char *out_path;
static volatile int done;

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

__attribute__((noinline)) void on_alarm(int sig) {
  (void)sig;
  if (!done) capture();
  done = 1;
}

__attribute__((noinline)) unsigned long spin(void) {
  unsigned long n = 0;
  while (!done) n = n * 6364136223846793005ul + 1;
  return n;
}

int main(int argc, char **argv) {
  out_path = argv[1];
  signal(SIGALRM, on_alarm);
  struct itimerval it = { { 0, 0 }, { 0, 20000 } };
  setitimer(ITIMER_REAL, &it, 0);
  unsigned long r = spin();
  for (;;) pause();
  return (int)r;
}
`;

test('a stack captured inside a signal handler unwinds through the signal frame to _start', { skip: !have('gcc') && 'gcc missing' }, async () => {
  write(tmp.dir, 'sig.c', SRC);
  const exe = join(tmp.dir, 'swsig');
  run('gcc', ['-O2', '-fomit-frame-pointer', '-fno-optimize-sibling-calls', '-fno-inline', '-o', exe, join(tmp.dir, 'sig.c')]);
  const dump = join(tmp.dir, 'stack.bin');
  const { child, line } = await startAndReadLine(exe, [dump]);
  children.push(child);
  const [ip, sp, bp] = line.trim().split(/\s+/).map((x) => BigInt(x)) as [bigint, bigint, bigint];
  const s = new Symbolizer();
  const pcs = s.unwind(child.pid!, { ip, sp, bp }, readFileSync(dump));
  const frames = s.symbolizeUser(child.pid!, pcs, { returnAddresses: true });
  const names = frames.map((f) => f.name);
  const chain = names.join(' <- ');
  assert.deepEqual(names.slice(0, 2), ['capture', 'on_alarm'], chain);
  assert.equal(frames[2]!.module, 'libc.so.6', `the signal trampoline: ${chain}`);
  // Named __restore_rt where libc has the symbol, else by its CFI's signal-frame mark.
  assert.match(names[2]!, /^(__restore_rt|\[signal frame\])$/, chain);
  assert.deepEqual(names.slice(3, 5), ['spin', 'main'], chain);
  assert.equal(names[names.length - 1], '_start', chain);
  // The BigInt walk (no Number fast path) takes the same way.
  const maps = s.unwindMaps(child.pid!);
  assert.deepEqual(unwindUser({ ip, sp, bp }, readFileSync(dump), sp, { find: maps.find }), pcs);
  s.close();
});
