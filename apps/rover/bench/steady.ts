/**
 * rover in steady state, as deployed: the real rover (bundle) reporting every process of this
 * host with the default intervals (task check 10 s, flush 5 s, heartbeat 20 s, scan 3 s), profiling one busy
 * process at the default 9 ms period through a task created in oap-lite. Its CPU (% of one core)
 * and RSS are read from /proc after a warm-up, for each unwinding mode.
 *
 *   npm run bench:steady -w @swlite/rover      (root; ~3 minutes)
 */
import { readFileSync } from 'node:fs';
import {
  createTask,
  startOap,
  startRover,
  waitFor,
  buildWorkload,
  runWorkload,
  processNames,
} from '@swlite/testkit';

const WARMUP_MS = 20_000;
const MEASURE_MS = 40_000;

const cpuTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const measure = async (unwind: 'fp' | 'auto') => {
  const oap = await startOap({ SW_LOG_LEVEL: 'warn' });
  const rover = await startRover({
    backend: oap.grpcAddress,
    matchCmd: '.+',
    env: {
      ROVER_PROFILING_UNWIND: unwind,
      ROVER_PROFILING_CHECK_INTERVAL: '10s',
      ROVER_PROFILING_FLUSH_INTERVAL: '5s',
      ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: '20s',
      ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '3s',
    },
  });
  const binary = buildWorkload('swlite-steady-wl');
  const wl = runWorkload(binary, 'cpu', (WARMUP_MS + MEASURE_MS) / 1000 + 30);
  try {
    await waitFor(
      'workload reported',
      async () => (await processNames(oap.graphqlUrl, 'swlite-steady-wl')).length > 0,
      30_000,
    );
    await createTask(oap.graphqlUrl, 'swlite-steady-wl', 'ON_CPU', (WARMUP_MS + MEASURE_MS) / 1000 + 10);
    const pid = rover.child.pid!;
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const t0 = cpuTicks(pid);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 500);
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    clearInterval(sampler);
    const cpu = ((cpuTicks(pid) - t0) / 100 / (MEASURE_MS / 1000)) * 100;
    const processes = (rover.output().match(/"processes":(\d+)/) ?? [])[1] ?? '?';
    return { unwind, cpu, rss: rssMiB(pid), peak, processes };
  } finally {
    wl.child.kill();
    await rover.stop();
    await oap.cleanup();
  }
};

const main = async () => {
  const rows = [];
  for (const mode of ['fp', 'auto'] as const) rows.push(await measure(mode));
  console.log('\nrover in steady state: every process of this host reported, one busy process profiled at 9 ms');
  console.log('unwind  CPU % of one core  RSS MiB  peak RSS MiB  processes reported at start');
  for (const r of rows) {
    console.log(
      `${r.unwind.padEnd(6)}  ${r.cpu.toFixed(2).padStart(17)}  ${r.rss.toFixed(0).padStart(7)}  ${r.peak.toFixed(0).padStart(12)}  ${String(r.processes).padStart(27)}`,
    );
  }
};

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
