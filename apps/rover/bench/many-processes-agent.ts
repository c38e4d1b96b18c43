/**
 * The operator's view of a task over many processes (npm run bench:many:agent in apps/rover;
 * needs root/BPF): oap-lite and rover (from source) as processes, rover reporting N sleeping + 2
 * spinning processes of one service, an ON_CPU task over the service (the OAP sends one command
 * per process). Prints, per size, the time from the task's creation to rover's "profiling task
 * started", and rover's RSS and file descriptors before the task and while it runs.
 * The start time includes rover's task poll (every 1 s here).
 * Env: BENCH_SIZES (10,100,1000), BENCH_TASK_SECONDS (20), BENCH_BUNDLE (1: run dist/rover.js).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTask, processNames, startOap, startRover, waitFor } from '@swlite/testkit';
import { startProcessCrowd } from '../src/profiling/testing/process-crowd';

const SIZES = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
const TASK_SECONDS = Number(process.env.BENCH_TASK_SECONDS ?? 20);
const SERVICE = 'swlite-many-svc';
/** rover's bundle (dist/rover.js: build it first, `npx nx run rover:build`) instead of the sources under tsx. */
const BUNDLE = process.env.BENCH_BUNDLE === '1';

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

console.log('processes  start_s  rss_before_MiB  rss_task_MiB  fds_before  fds_task');
for (const n of SIZES) {
  const crowd = await startProcessCrowd(n, 2);
  const oap = await startOap();
  const rover = await startRover({
    backend: oap.grpcAddress,
    matchCmd: "^sleep 600$|^sh -c while :; do :; done$",
    fromSource: !BUNDLE,
    env: { ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: SERVICE, ROVER_PROFILING_FLUSH_INTERVAL: '5s' },
  });
  try {
    const pid = rover.child.pid!;
    await waitFor('processes reported', async () => (await processNames(oap.graphqlUrl, SERVICE)).length >= n + 2, 120_000, rover);
    await sleep(2000);
    const before = { rss: rssMiB(pid), fds: fds(pid) };
    const t0 = Date.now();
    await createTask(oap.graphqlUrl, SERVICE, 'ON_CPU', TASK_SECONDS);
    await waitFor('task started', () => rover.output().includes('profiling task started'), 120_000, rover);
    const startS = (Date.now() - t0) / 1000;
    await sleep(5000);
    const during = { rss: rssMiB(pid), fds: fds(pid) };
    console.log(
      [n + 2, startS.toFixed(1), before.rss.toFixed(0), during.rss.toFixed(0), before.fds, during.fds]
        .map((v, i) => String(v).padStart([9, 7, 14, 12, 10, 8][i]!))
        .join('  '),
    );
  } finally {
    await rover.stop();
    await oap.cleanup();
    await crowd.end();
  }
}
