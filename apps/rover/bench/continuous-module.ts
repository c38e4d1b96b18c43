/**
 * The continuous profiling module's own CPU (npm run bench:continuous-module in apps/rover; no
 * root needed): 50 real idle processes (sleep) of one service, fetch every simulated second and
 * check every 5th, real /proc reads, with no policy and with a PROCESS_CPU item that never trips.
 * The clock is simulated so BENCH_SECONDS of monitoring run back to back; CPU is process.cpuUsage
 * over that run divided by the simulated time. The backend answers at once (its gRPC cost is
 * rover's, measured by bench:continuous, which also counts process discovery and the rest).
 * Env: BENCH_PROCESSES (50), BENCH_SECONDS (2000).
 */
import { spawn } from 'node:child_process';
import pino from 'pino';
import { ContinuousProfiling, type ContinuousOptions } from '../src/continuous/continuous';
import type { ReportedProcess } from '../src/process/reporter';

const N = Number(process.env.BENCH_PROCESSES ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2000);

const kids = Array.from({ length: N }, () => spawn('sleep', ['600'], { stdio: 'ignore' }));
const procs = kids.map(
  (k, i) =>
    ({
      processId: `p${i}`,
      process: { pid: k.pid!, serviceName: 'svc', instanceName: 'inst', processName: `sleep-${i}`, layer: 'OS_LINUX' },
    }) as unknown as ReportedProcess,
);
const targets = { get: () => ({ unavailable: () => null, continuousReport: {} }) } as unknown as ContinuousOptions['targets'];

/** % of one core the module spends per second of monitoring under this policy JSON ('' = none). */
const measure = async (policyJson: string): Promise<number> => {
  let now = Date.now();
  const c = new ContinuousProfiling(
    {
      queryPolicies: async () => ({
        commands: policyJson ? [{ command: 'ContinuousProfilingPolicyQuery', args: [{ key: 'ServiceWithPolicyJSON', value: policyJson }] }] : [],
      }),
      reportProfilingTask: async () => ({ commands: [] }),
      collectMeters: async () => ({ commands: [] }),
    },
    { all: () => procs },
    { runLocalTask: () => undefined as never },
    {
      meterPrefix: 'rover_con_p',
      fetchIntervalMs: 1000,
      checkIntervalMs: 5000,
      policyIntervalMs: 1000,
      executeDurationMs: 10_000,
      silenceDurationMs: 10_000,
      targets,
      log: pino({ level: 'silent' }),
      now: () => now,
    },
  );
  await c.syncPolicies();
  const start = process.cpuUsage();
  for (let s = 0; s < SECONDS; s++) {
    now += 1000;
    c.fetch();
    if (s % 5 === 4) await c.check();
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) / 1000 / (SECONDS * 1000)) * 100;
};

try {
  const none = await measure('');
  const cpu = await measure(
    JSON.stringify([{ ServiceName: 'svc', UUID: 'u', Profiling: { ON_CPU: { PROCESS_CPU: { Threshold: '95', Period: 10, Count: 10 } } } }]),
  );
  console.log(`continuous module CPU, ${N} idle processes, fetch 1 s, check 5 s (${SECONDS} s simulated):`);
  console.log(`  no policy:         ${none.toFixed(4)} % of one core`);
  console.log(`  PROCESS_CPU item:  ${cpu.toFixed(4)} % of one core`);
} finally {
  for (const k of kids) k.kill();
}
