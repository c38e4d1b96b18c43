/**
 * rover's OFF_CPU dwarf sampler under a high switch rate (`npm run bench:offcpu-switches -w
 * @swlite/rover`, root, ~15 s): two processes ping-pong a byte over pipes (each blocks in read,
 * then write, in turn: tens of thousands of switch-outs a second from two places per thread), the
 * sampler drains every second for 10 s. Prints the switch-outs seen, the switches delivered, the
 * snapshots unwound in user space (the kernel reuses a thread's recent snapshots), their bytes
 * through the ring, losses, and this process's CPU (% of one core, process.cpuUsage) over the
 * drains. `--no-sizing`: every snapshot copies the full 16 KiB (no per-process stack sizing).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Symbolizer } from '@swlite/symbolizer';
import { SnapshotOffCpuSampler } from '../src/profiling/unwind/snapshot-samplers';

const PINGPONG_C = `
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int secs = argc > 1 ? atoi(argv[1]) : 10;
  int a[2], b[2];
  char c = 0;
  if (pipe(a) || pipe(b)) return 1;
  time_t end = time(0) + secs;
  if (fork() == 0) {
    for (;;) { if (read(a[0], &c, 1) != 1) return 0; if (write(b[1], &c, 1) != 1) return 0; }
  }
  while (time(0) < end)
    for (int i = 0; i < 1000; i++) { if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1) return 1; }
  close(a[1]);
  return 0;
}
`;

const SECONDS = 10;

const main = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swlite-bench-switches-'));
  const exe = join(dir, 'pingpong');
  writeFileSync(`${exe}.c`, PINGPONG_C);
  execFileSync('gcc', ['-O1', '-o', exe, `${exe}.c`]);
  const child = spawn(exe, [String(SECONDS + 3)], { stdio: 'ignore' });
  const sampler = new SnapshotOffCpuSampler(
    new Symbolizer(),
    process.argv.includes('--no-sizing') ? { stackSizing: false } : {},
  );
  try {
    await new Promise((r) => setTimeout(r, 300));
    const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    sampler.start([child.pid!, ...kids.map(Number)]);
    const c0 = process.cpuUsage();
    let seen = 0;
    let delivered = 0;
    let lost = 0;
    for (let i = 0; i < SECONDS; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const d = sampler.drain();
      seen += d.lost.samples;
      delivered += d.stacks.reduce((n, s) => n + s.count, 0);
      lost += d.lost.missingStacks + d.lost.ringBufferFull + d.lost.aggregationFull + d.lost.startMapFull;
    }
    const u = process.cpuUsage(c0);
    console.log(
      `${SECONDS} s: switch-outs ${seen} (${(seen / SECONDS).toFixed(0)}/s), switches delivered ${delivered}, lost ${lost}, ` +
        `snapshots unwound ${sampler.stats.snapshots}, reused in the kernel ${sampler.snapshotsReused}, ` +
        `${Math.round(sampler.consumed.bytes / Math.max(1, sampler.consumed.records))} B per snapshot; ` +
        `CPU ${((u.user + u.system) / 1e4 / SECONDS).toFixed(2)}% of a core`,
    );
  } finally {
    sampler.stop();
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
};

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
