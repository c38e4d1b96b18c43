/**
 * rover's CPU with Python frames read versus not, same run: two CPython workloads (Debian's
 * python3, hot_a/hot_b loops) profiled ON_CPU by rover's dwarf sampler at the default 9 ms period,
 * drained and symbolized every second as a task would; rounds alternate python on / off with
 * fresh samplers over the same workload processes. Prints per round the CPU of this process (the
 * sampler's user-space side: ring buffer, unwinding, naming, symbolization; % of one core) and
 * the samples (and the CPU per sample: the workloads get what a busy host leaves them), and the share of samples whose stack shows the hot Python function by name.
 * The kernel side (the frame walk in the BPF program) runs on the workloads' CPU, not rover's: its
 * time per run of on_cpu_snapshot is read from the kernel's BPF statistics (bpf_stats_enabled is
 * turned on for the run and restored after).
 *
 *   npm run bench:python -w @swlite/rover      (root; ~1 minute; --rounds N, default 3)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Symbolizer } from '@swlite/symbolizer';
import { ensureBpfBuilt, startPythonWorkload } from '@swlite/bpf/testing/workloads';
import { bpfSamplerFactory } from '../src/profiling/sampler';
import { symbolizeStacks } from '../src/profiling/stack-converter';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const ROUND_S = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

ensureBpfBuilt();
const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const statsBefore = readFileSync(STATS, 'utf8').trim();
writeFileSync(STATS, '1');
type ProgInfo = { id: number; name?: string; run_time_ns?: number; run_cnt?: number };
const snapshotProgs = (): ProgInfo[] =>
  (JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as ProgInfo[]).filter(
    (p) => p.name === 'on_cpu_snapshot',
  );
/** run_time_ns and run_cnt of the program with this id (bpftool lists no owner: the id loaded by this round). */
const progStats = (id: number | undefined): { ns: number; runs: number } => {
  const p = snapshotProgs().find((x) => x.id === id);
  return { ns: p?.run_time_ns ?? 0, runs: p?.run_cnt ?? 0 };
};
const ws = [
  startPythonWorkload(['cpu', String(ROUNDS * 2 * (ROUND_S + 1) + 5)]),
  startPythonWorkload(['cpu', String(ROUNDS * 2 * (ROUND_S + 1) + 5)]),
];
await sleep(300);
for (const w of ws) w.go();
await sleep(1000);

const rows: Record<
  'on' | 'off',
  { cpu: number[]; cpuUs: number; samples: number; named: number; bpfNs: number; bpfRuns: number }
> = {
  on: { cpu: [], cpuUs: 0, samples: 0, named: 0, bpfNs: 0, bpfRuns: 0 },
  off: { cpu: [], cpuUs: 0, samples: 0, named: 0, bpfNs: 0, bpfRuns: 0 },
};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['on', 'off'] as const) {
    const sym = new Symbolizer();
    const sampler = bpfSamplerFactory(9, { unwind: 'dwarf', symbolizer: sym, python: mode === 'on' })('ON_CPU');
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const before = new Set(snapshotProgs().map((p) => p.id));
    sampler.start(ws.map((w) => w.pid));
    const loaded = snapshotProgs().filter((p) => !before.has(p.id));
    const progId = loaded.length === 1 ? loaded[0]!.id : undefined; // another loader at the same moment: no figure
    for (let s = 0; s < ROUND_S; s++) {
      await sleep(1000);
      if (s === ROUND_S - 1) {
        const st = progStats(progId);
        rows[mode].bpfNs += st.ns;
        rows[mode].bpfRuns += st.runs;
      }
      const stacks = s === ROUND_S - 1 ? sampler.stop().stacks : sampler.drain().stacks;
      for (const w of ws) {
        for (const st of symbolizeStacks(
          sym,
          w.pid,
          stacks.filter((x) => x.tgid === w.pid),
        )) {
          rows[mode].samples += st.count;
          const user = st.parts.find((p) => p.stackType === 'PROCESS_USER_SPACE')?.stackSymbols ?? [];
          if (user.some((f) => /^hot_[ab] \(/.test(f))) rows[mode].named += st.count;
        }
      }
    }
    const c = process.cpuUsage(c0);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    rows[mode].cpu.push((100 * (c.user + c.system)) / wallUs);
    rows[mode].cpuUs += c.user + c.system;
  }
}
for (const w of ws) w.child.kill();
writeFileSync(STATS, statsBefore);
const fmt = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return `${s[0]!.toFixed(2)} / ${s[s.length >> 1]!.toFixed(2)} / ${s[s.length - 1]!.toFixed(2)} %`;
};
for (const mode of ['on', 'off'] as const) {
  const r = rows[mode];
  console.log(
    `python ${mode.padEnd(3)}: rover CPU (min / median / max of ${ROUNDS}) ${fmt(r.cpu)}, ` +
      `${(r.cpuUs / Math.max(1, r.samples)).toFixed(0)} µs per sample; samples ${r.samples}, ` +
      `named hot_a/hot_b ${((100 * r.named) / Math.max(1, r.samples)).toFixed(1)}%; ` +
      `BPF program ${(r.bpfNs / Math.max(1, r.samples) / 1000).toFixed(1)} µs per workload sample ` +
      `(${(r.bpfNs / Math.max(1, r.bpfRuns) / 1000).toFixed(1)} µs per run, ${r.bpfRuns} runs on every CPU)`,
  );
}
