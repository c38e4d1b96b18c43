/**
 * Continuous profiling figures (npm run bench:continuous in apps/rover; needs root/BPF and wrk):
 *
 * 1. rover's CPU (% of one core) with 50 idle processes and no policy, then with a PROCESS_CPU item
 *    on them (never trips), then while it monitors them with the eBPF HTTP
 *    observation on (HTTP_ERROR_RATE + HTTP_AVG_RESPONSE_TIME + PROCESS_THREAD_COUNT items that
 *    never trip), idle and while wrk loads one of them on 127.0.0.1 for a bounded time;
 * 2. HTTP error-rate accuracy: the loaded server answers 500 to every 10th /mix request; the
 *    exchanges and errors rover observed are compared with wrk's own counts (and the server's).
 *
 * oap-lite and rover run as processes (rover from source unless ROVER_BENCH_BUNDLE); loopback only.
 * Env: BENCH_PROCESSES (50), BENCH_WRK_SECONDS (10), BENCH_WRK_CONNECTIONS (4), BENCH_ERROR_EVERY (10),
 * BENCH_CHECK_INTERVAL (5s, rover's default), ROVER_BENCH_BUNDLE (run this rover bundle, e.g. a copy of an
 * older dist/rover.js with bpf/ beside it, instead of the source: alternate runs of two builds
 * for an A/B on a machine whose load drifts). `--perf DIR`: `perf record -g` of rover over each
 * measured window into DIR (rover runs with --perf-basic-prof so JS frames have names; perf sends
 * it no signals, unlike --cpu-prof whose SIGPROF makes BPF program loads fail with EAGAIN). rover runs with its production scan (3 s),
 * heartbeat (20 s) and task-check (10 s) periods, not the tests' faster ones, so the figures are
 * what a deployment pays; it logs at DEBUG (the observed totals are read from its debug log),
 * which costs a little CPU itself.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildContinuousWorkloads,
  cpuTicks,
  runContinuousWorkload,
  setPolicy,
  startRover,
  type ContinuousWorkload,
  processNames,
  startOap,
  waitFor,
} from '@swlite/testkit';
import { perfRecord } from './perf-record';

const N = Number(process.env.BENCH_PROCESSES ?? 50);
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_WRK_CONNECTIONS ?? 4);
const ERROR_EVERY = Number(process.env.BENCH_ERROR_EVERY ?? 10);
const CHECK_INTERVAL = process.env.BENCH_CHECK_INTERVAL ?? '5s';
const SERVICE = 'swlite-con-bench';
const TICKS = 100;
const BUNDLE = process.env.ROVER_BENCH_BUNDLE;
const perfArg = process.argv.indexOf('--perf');
const PERF_DIR = perfArg > 0 ? process.argv[perfArg + 1] : undefined;
const nodeArgsArg = process.argv.indexOf('--node-args');
/** `--node-args "--trace-gc ..."`: node flags for rover (before the hashbang's). */
const NODE_ARGS = nodeArgsArg > 0 ? process.argv[nodeArgsArg + 1]!.split(/\s+/).filter(Boolean) : [];

interface Totals {
  exchanges: number;
  errors: number;
}

/** The last "http observation totals" debug line of rover for this pid. */
const observedTotals = (
  output: string,
  pid: number,
): { totals: Totals; observer: Record<string, number> | undefined } | null => {
  const lines = output.split('\n').filter((l) => l.includes('http observation totals'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const entry = JSON.parse(lines[i]!) as { totals: Record<string, Totals>; observer?: Record<string, number> };
      return { totals: entry.totals[String(pid)] ?? { exchanges: 0, errors: 0 }, observer: entry.observer };
    } catch {
      // not JSON
    }
  }
  return null;
};

const main = async () => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed (apt-get install wrk)');
  }
  const bins = buildContinuousWorkloads([SERVICE]);
  const oap = await startOap();
  const servers: ContinuousWorkload[] = [];
  let rover: Awaited<ReturnType<typeof startRover>> | undefined;
  try {
    for (let i = 0; i < N; i++)
      servers.push(runContinuousWorkload(bins[SERVICE], ['http', i === 0 ? String(ERROR_EVERY) : '0', '600']));
    const target = servers[0]!;
    const port = await target.port();
    rover = await startRover({
      backend: oap.grpcAddress,
      matchCmd: SERVICE,
      ...(BUNDLE ? { bundle: BUNDLE } : { fromSource: true }),
      nodeArgs: [...NODE_ARGS, ...(PERF_DIR ? ['--perf-basic-prof'] : [])],
      env: {
        ROVER_LOGGER_LEVEL: 'DEBUG',
        ROVER_PROFILING_CONTINUOUS_CHECK_INTERVAL: CHECK_INTERVAL,
        ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '3s',
        ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: '20s',
        ROVER_PROFILING_CHECK_INTERVAL: '10s',
      },
    });
    const roverPid = rover.child.pid!;
    await waitFor(
      `${N} processes reported`,
      async () => (await processNames(oap.graphqlUrl, SERVICE)).length >= N,
      60_000,
    );
    const measure = async (name: string, ms: number, during?: () => Promise<void>) => {
      const perf = PERF_DIR ? perfRecord(roverPid, join(PERF_DIR, `${name}-${roverPid}.perf.data`)) : undefined;
      const t0 = Date.now();
      const c0 = cpuTicks(roverPid);
      if (during) await during();
      else await sleep(ms);
      await sleep(during ? 500 : 0);
      const cpu = ((cpuTicks(roverPid) - c0) / TICKS / ((Date.now() - t0) / 1000)) * 100;
      await perf?.stop();
      return cpu;
    };
    await sleep(2_000);
    const noPolicy = await measure('no-policy', 20_000);
    await setPolicy(oap.graphqlUrl, SERVICE, [
      { targetType: 'ON_CPU', checkItems: [{ type: 'PROCESS_CPU', threshold: '95', period: 10, count: 10 }] },
    ]);
    await waitFor('CPU policy received', () => rover!.output().includes('PROCESS_CPU'), 20_000);
    await sleep(3_000);
    const cpuPolicy = await measure('cpu-policy', 20_000);
    await setPolicy(oap.graphqlUrl, SERVICE, [
      {
        targetType: 'ON_CPU',
        checkItems: [
          { type: 'HTTP_ERROR_RATE', threshold: '100', period: 10, count: 10 },
          { type: 'PROCESS_THREAD_COUNT', threshold: '100000', period: 10, count: 10 },
        ],
      },
      {
        targetType: 'OFF_CPU',
        checkItems: [{ type: 'HTTP_AVG_RESPONSE_TIME', threshold: '60000', period: 10, count: 10 }],
      },
    ]);
    await waitFor(
      'HTTP observation of every server',
      () => {
        const m = /"pids":\[([\d,]+)\][^\n]*HTTP observation started/.exec(rover!.output());
        return m !== null;
      },
      20_000,
    );
    await sleep(3_000); // further servers are added on the next fetch ticks

    const idle = await measure('http-idle', 20_000);
    const before = observedTotals(rover.output(), target.pid)?.totals ?? { exchanges: 0, errors: 0 };
    let wrkOut = '';
    const loaded = await measure('http-wrk', 0, async () => {
      wrkOut = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${WRK_SECONDS}s`, `http://127.0.0.1:${port}/mix`], {
        encoding: 'utf8',
      });
    });
    // The ring buffer is drained and one more check logs the totals.
    const checkMs = /ms$/.test(CHECK_INTERVAL) ? parseFloat(CHECK_INTERVAL) : parseFloat(CHECK_INTERVAL) * 1000;
    await sleep(checkMs + 2_500);
    const after = observedTotals(rover.output(), target.pid);
    const requests = Number(/(\d+) requests in/.exec(wrkOut)?.[1] ?? NaN);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(wrkOut)?.[1] ?? 0);
    const seen = {
      exchanges: (after?.totals.exchanges ?? 0) - before.exchanges,
      errors: (after?.totals.errors ?? 0) - before.errors,
    };
    for (const s of servers) await s.stop();
    const mix = /MIX total=(\d+) errors=(\d+)/.exec(target.output());
    const wrkRate = (non2xx / requests) * 100;
    const seenRate = (seen.errors / seen.exchanges) * 100;
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(wrkOut)?.[1];
    console.log(
      `continuous profiling bench: ${N} HTTP server processes monitored (HTTP observation on), wrk -t1 -c${CONNECTIONS} -d${WRK_SECONDS}s on one`,
    );
    console.log(`rover CPU, ${N} processes, no policy:  ${noPolicy.toFixed(1)} % of one core`);
    console.log(`rover CPU, ${N} idle processes, PROCESS_CPU policy: ${cpuPolicy.toFixed(1)} % of one core`);
    console.log(`rover CPU idle (monitoring, check ${CHECK_INTERVAL}): ${idle.toFixed(1)} % of one core`);
    console.log(`rover CPU under wrk (${rps} req/s): ${loaded.toFixed(1)} % of one core`);
    console.log(`wrk:    ${requests} requests, ${non2xx} non-2xx → error rate ${wrkRate.toFixed(3)} %`);
    if (mix) console.log(`server: ${mix[1]} /mix requests, ${mix[2]} answered 500 (1 in ${ERROR_EVERY})`);
    console.log(
      `rover:  ${seen.exchanges} exchanges observed, ${seen.errors} errors → error rate ${seenRate.toFixed(3)} %`,
    );
    console.log(
      `        coverage ${((seen.exchanges / requests) * 100).toFixed(2)} % of wrk's requests; error-rate difference ${(seenRate - wrkRate).toFixed(3)} points`,
    );
    console.log(`        observer counters: ${JSON.stringify(after?.observer ?? {})}`);
  } finally {
    for (const s of servers) await s.stop();
    await rover?.stop();
    await oap.cleanup();
  }
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
