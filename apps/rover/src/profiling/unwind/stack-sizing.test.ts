// Per-process stack copy sizing (stack-sizing.ts) in the real kernel, for both dwarf samplers: a
// thread of a workload built without frame pointers runs a few frames deep, then recurses (20 KiB
// on-CPU, 12 KiB off-CPU, below each ceiling) and goes on there. A sampler with sizing and one
// without watch it at once: with sizing, the bytes per snapshot fall once the process is sized,
// its stacks reach the root in the same share as without, and when the stack deepens the copy
// grows back, losing outer frames only in the snapshots taken before growth (counted, bounded).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { Symbolizer } from '@swlite/symbolizer';
import { compileWorkload, ensureBpfBuilt, startWorkload } from '@swlite/bpf/testing/workloads';
import type { DrainResult, ProfiledStack } from '@swlite/bpf';
import { SnapshotOffCpuSampler, SnapshotOnCpuSampler } from './snapshot-samplers';

const skip = bpfTestSkip();
const NO_FP = ['-O2', '-fomit-frame-pointer', '-g'];
const ROOT = /^(main|_start|__libc_start_main|__libc_start_call_main|start_thread|clone3|__clone3)$/;
const SECS = 9;
const SHALLOW_SECS = 4.5;

type Sampler = SnapshotOnCpuSampler | SnapshotOffCpuSampler;

interface Phase {
  records: number;
  bytes: number;
  total: number;
  rooted: number;
}

const phase = (): Phase => ({ records: 0, bytes: 0, total: 0, rooted: 0 });
const share = (p: Phase) => p.rooted / Math.max(1, p.total);
const perRecord = (p: Phase) => Math.round(p.bytes / Math.max(1, p.records));

/** Runs the workload under a sized and an unsized sampler; per sampler, the shallow and deep phases. */
async function watch(make: (sized: boolean) => Sampler, depth: number) {
  const exe = compileWorkload('deepening_stack', NO_FP);
  const sym = new Symbolizer();
  const samplers = { sized: make(true), plain: make(false) };
  const phases = { sized: { shallow: phase(), deep: phase() }, plain: { shallow: phase(), deep: phase() } };
  let sizedBytesShallow = 0;
  let sizedBytesDeep = 0;
  const wl = startWorkload(exe, [String(SECS), String(SHALLOW_SECS), String(depth)]);
  let deep = false;
  wl.child.stdout.on('data', (d: Buffer) => (deep ||= d.toString().includes('deep_at_ns')));
  const rooted = (s: ProfiledStack) => {
    const n = sym.symbolizeUser(s.tgid, s.userStack, { returnAddresses: true }).map((f) => f.name);
    return ROOT.test(n[n.length - 1] ?? '');
  };
  const consumed = { sized: { records: 0, bytes: 0 }, plain: { records: 0, bytes: 0 } };
  const take = (which: 'sized' | 'plain', r: DrainResult, inDeep: boolean, warm: boolean) => {
    const p = phases[which][inDeep ? 'deep' : 'shallow'];
    const c = samplers[which].consumed;
    if (warm) {
      p.records += c.records - consumed[which].records;
      p.bytes += c.bytes - consumed[which].bytes;
      for (const s of r.stacks) {
        p.total += s.count;
        if (rooted(s)) p.rooted += s.count;
      }
    }
    consumed[which] = { ...c };
  };
  try {
    await wl.ready();
    for (const s of Object.values(samplers)) s.start([wl.pid]);
    wl.go();
    // Drains each second; the first (warm-up, sizing) and the one the deep phase began in are left out.
    for (let i = 0, wasDeep = false; i < SECS + 1; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const inDeep = deep;
      for (const w of ['sized', 'plain'] as const) take(w, samplers[w].drain(), inDeep, i > 0 && inDeep === wasDeep);
      // Read while running: a stopped sampler's sizer has forgotten every process.
      if (inDeep) sizedBytesDeep = samplers.sized.sizer!.bytesOf(wl.pid);
      else sizedBytesShallow = samplers.sized.sizer!.bytesOf(wl.pid);
      wasDeep = inDeep;
    }
    await wl.done;
  } finally {
    for (const s of Object.values(samplers)) s.stop();
    wl.child.kill('SIGKILL');
  }
  const sizer = samplers.sized.sizer!;
  const figures = {
    sizedBytesShallow,
    sizedBytesDeep,
    cutShort: sizer.cutShort,
    regrown: sizer.regrown,
    snapshots: samplers.sized.stats.snapshots,
    sized: { ...phases.sized, bytesPerRecord: [perRecord(phases.sized.shallow), perRecord(phases.sized.deep)] },
    plain: { ...phases.plain, bytesPerRecord: [perRecord(phases.plain.shallow), perRecord(phases.plain.deep)] },
  };
  return { ...figures, phases, text: JSON.stringify(figures) };
}

/** What both samplers must show (ceiling: the unsized copy; depth: the deep phase's stack). */
function check(r: Awaited<ReturnType<typeof watch>>, ceiling: number, depth: number, cutBound: number): void {
  const { sized, plain } = r.phases;
  assert.ok(
    sized.shallow.total >= 20 && sized.deep.total >= 20 && plain.deep.total >= 20,
    `too few stacks to judge: ${r.text}`,
  );
  // Sized down while shallow: a few KiB, and the records through the ring shrank with it.
  assert.ok(r.sizedBytesShallow <= 4096, `not sized down: ${r.text}`);
  assert.ok(perRecord(sized.shallow) < perRecord(plain.shallow) / 3, `bytes per snapshot did not fall: ${r.text}`);
  // Grown back for the deep stack (to the ceiling), then cut again to what it needs.
  assert.ok(
    r.regrown >= 1 && r.sizedBytesDeep >= depth && r.sizedBytesDeep < ceiling,
    `not grown back and re-cut: ${r.text}`,
  );
  // Stacks reach the root as often as without sizing (phases without the growth's drain).
  assert.ok(share(plain.shallow) >= 0.9 && share(plain.deep) >= 0.9, `the unsized walk itself falls short: ${r.text}`);
  for (const p of ['shallow', 'deep'] as const)
    assert.ok(share(sized[p]) >= share(plain[p]) - 0.03, `${p}: fewer stacks reach the root when sized: ${r.text}`);
  // Frames lost to sizing: only snapshots taken before the growth (in the ring, or in flight).
  assert.ok(
    r.cutShort >= 1 && r.cutShort <= cutBound,
    `cut-short snapshots ${r.cutShort} (bound ${cutBound}): ${r.text}`,
  );
}

describe('stack copy sizing', { skip }, () => {
  before(() => ensureBpfBuilt());

  it('ON_CPU: copies shrink to what the shallow stack needs, grow back when it deepens, no root lost', async () => {
    const depth = 20 << 10;
    const r = await watch(
      (sized) =>
        new SnapshotOnCpuSampler(new Symbolizer(), 0, { frequency: 200, ...(sized ? {} : { stackSizing: false }) }),
      depth,
    );
    console.log(`ON_CPU sizing: ${r.text}`);
    // At 200 Hz, one poll of the ring (100 ms) holds ~20 samples; a starved event loop, more.
    check(r, 32768, depth, 100);
  });

  it('OFF_CPU: the same for switch-out snapshots', async () => {
    const depth = 12 << 10;
    const r = await watch(
      (sized) => new SnapshotOffCpuSampler(new Symbolizer(), sized ? {} : { stackSizing: false }),
      depth,
    );
    console.log(`OFF_CPU sizing: ${r.text}`);
    check(r, 16384, depth, 400);
  });
});
