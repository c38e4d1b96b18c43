// Processes in other mount and PID namespaces (as containers are): binaries only visible
// inside the namespace, and perf maps named by the in-namespace pid.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Symbolizer } from '../index.js';
import { have, run, startAndReadLine, stop, tempDir, write } from './fixtures.js';
import type { ChildProcess } from 'node:child_process';

const tmp = tempDir();
const children: ChildProcess[] = [];
after(() => {
  children.forEach(stop);
  tmp.cleanup();
});
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const skip = (!root && 'needs root for unshare') || (!have('unshare') && 'unshare missing') || (!have('gcc') && 'gcc missing');

/** The only child of a process (unshare --fork runs the program as its child). */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
    const kids = r.stdout.trim().split('\n').filter(Boolean).map(Number);
    if (kids.length === 1) return kids[0]!;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`no child of ${pid}`);
}

test('a binary visible only inside another mount namespace is read through /proc/PID/root', { skip }, async () => {
  const src = write(
    tmp.dir,
    'ns.c',
    `#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) int swns_only_inside(int x) { return x * 11; }
int main(void) { printf("%p %d\\n", (void *)&swns_only_inside, swns_only_inside(2)); fflush(stdout); for (;;) pause(); }
`,
  );
  const exe = join(tmp.dir, 'swns');
  run('gcc', ['-O1', '-o', exe, src]);
  const mnt = join(tmp.dir, 'mnt');
  mkdirSync(mnt);
  // A private tmpfs over `mnt`, holding a copy of the program: the host sees an empty dir.
  const script = `mount -t tmpfs none ${mnt} && cp ${exe} ${mnt}/swns-inner && exec ${mnt}/swns-inner`;
  const { child, line } = await startAndReadLine('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
  children.push(child);
  assert.equal(existsSync(join(mnt, 'swns-inner')), false, 'not visible from the host');
  const addr = BigInt(line.split(' ')[0]!);
  const [f] = new Symbolizer().symbolizeUser(child.pid!, [addr + 1n]);
  assert.deepEqual([f!.name, f!.module, f!.path], ['swns_only_inside', 'swns-inner', join(mnt, 'swns-inner')]);
});

test('a perf map written in another PID namespace is found by its namespace pid', { skip: (!root && 'needs root') || (!have('unshare') && 'unshare missing') }, async () => {
  const script = `
    function swliteNsMarker(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }
    let a = 0; for (let i = 0; i < 3000; i++) a += swliteNsMarker(500);
    console.log(process.pid + ' ' + a);
    setInterval(() => swliteNsMarker(10), 100);
  `;
  const { child, line } = await startAndReadLine('unshare', ['--pid', '--fork', process.execPath, '--perf-basic-prof', '-e', script]);
  children.push(child);
  const nsPid = Number(line.split(' ')[0]);
  const hostPid = await childOf(child.pid!);
  assert.notEqual(nsPid, hostPid, 'different pid inside the namespace');
  const map = `/tmp/perf-${nsPid}.map`;
  try {
    let entry: string | undefined;
    for (let i = 0; i < 100 && !entry; i++) {
      if (existsSync(map)) entry = readFileSync(map, 'utf8').split('\n').find((l) => l.includes('swliteNsMarker'));
      if (!entry) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(entry, 'the perf map names the JS function');
    const start = BigInt('0x' + entry.split(' ')[0]);
    const [f] = new Symbolizer().symbolizeUser(hostPid, [start + 2n]);
    assert.equal(f!.module, '[jit]');
    assert.match(f!.name, /swliteNsMarker/);
  } finally {
    stop(child);
    try {
      process.kill(hostPid, 'SIGKILL');
    } catch {
      /* gone with its namespace */
    }
    try {
      unlinkSync(map);
    } catch {
      /* not written */
    }
  }
});
