/**
 * rover's CPU with Python frames read versus not, same run: two CPython workloads (Debian's
 * python3, hot_a/hot_b loops) profiled ON_CPU by rover's dwarf sampler at the default 9 ms period,
 * drained and symbolized every second as a task would; rounds alternate python on / off with
 * fresh samplers over the same workload processes. Prints per round the CPU of this process (the
 * sampler's user-space side: ring buffer, unwinding, naming, symbolization; % of one core) and
 * the samples (and the CPU per sample: the workloads get what a busy host leaves them), and the share of samples whose stack shows the hot Python function by name.
 * The kernel side (the frame walk in the BPF program) runs on the workloads' CPU, not rover's.
 *
 *   npm run bench:python -w @swlite/rover      (root; ~1 minute; --rounds N, default 3)
 */
import { Symbolizer } from '@swlite/symbolizer';
import { ensureBpfBuilt, startPythonWorkload } from '@swlite/bpf/testing/workloads';
import { bpfSamplerFactory } from '../src/profiling/sampler';
import { symbolizeStacks } from '../src/profiling/stack-converter';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const ROUND_S = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

ensureBpfBuilt();
const ws = [
  startPythonWorkload(['cpu', String(ROUNDS * 2 * (ROUND_S + 1) + 5)]),
  startPythonWorkload(['cpu', String(ROUNDS * 2 * (ROUND_S + 1) + 5)]),
];
await sleep(300);
for (const w of ws) w.go();
await sleep(1000);

const rows: Record<'on' | 'off', { cpu: number[]; cpuUs: number; samples: number; named: number }> = {
  on: { cpu: [], cpuUs: 0, samples: 0, named: 0 },
  off: { cpu: [], cpuUs: 0, samples: 0, named: 0 },
};
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['on', 'off'] as const) {
    const sym = new Symbolizer();
    const sampler = bpfSamplerFactory(9, { unwind: 'dwarf', symbolizer: sym, python: mode === 'on' })('ON_CPU');
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    sampler.start(ws.map((w) => w.pid));
    for (let s = 0; s < ROUND_S; s++) {
      await sleep(1000);
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
const fmt = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return `${s[0]!.toFixed(2)} / ${s[s.length >> 1]!.toFixed(2)} / ${s[s.length - 1]!.toFixed(2)} %`;
};
for (const mode of ['on', 'off'] as const) {
  const r = rows[mode];
  console.log(
    `python ${mode.padEnd(3)}: rover CPU (min / median / max of ${ROUNDS}) ${fmt(r.cpu)}, ` +
      `${(r.cpuUs / Math.max(1, r.samples)).toFixed(0)} µs per sample; samples ${r.samples}, ` +
      `named hot_a/hot_b ${((100 * r.named) / Math.max(1, r.samples)).toFixed(1)}%`,
  );
}
