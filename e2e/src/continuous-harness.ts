/**
 * Support for the continuous profiling scenarios: the C workloads of fixtures/continuous (one
 * executable name per service), rover from source (so the scenario runs the code under test even
 * when an older bundle exists), GraphQL helpers for policies and triggered tasks.
 */
import { graphqlOk } from '@swlite/oap-lite/testing/graphql-client';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceIdOf } from './harness/flows';
import { REPO_ROOT, waitFor, type RoverProcess } from './harness/processes';

const FIXTURE = join(REPO_ROOT, 'e2e', 'fixtures', 'continuous', 'workload.c');

/** Compiles the continuous workload under each name (same source, distinct executables). */
export const buildContinuousWorkloads = <N extends string>(names: N[]): Record<N, string> => {
  const dir = mkdtempSync(join(tmpdir(), 'swlite-continuous-'));
  const out = {} as Record<N, string>;
  for (const name of names) {
    const path = join(dir, name);
    execFileSync('gcc', ['-O1', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', path, FIXTURE]);
    out[name] = path;
  }
  return out;
};

export interface ContinuousWorkload {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** The HTTP port (http mode). */
  port: () => Promise<number>;
  stop: () => Promise<string>;
}

export const runContinuousWorkload = (binary: string, args: string[]): ContinuousWorkload => {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    pid: child.pid!,
    output: () => out,
    port: async () => {
      await waitFor('workload port', () => /PORT \d+/.test(out), 5_000);
      return Number(/PORT (\d+)/.exec(out)![1]);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      return out;
    },
  };
};

/** rover from its TypeScript source under tsx, with short intervals and the given overrides. */
export const startRoverFromSource = async (backend: string, matchCmd: string, env: Record<string, string> = {}): Promise<RoverProcess & { pid: number }> => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'apps', 'rover', 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ROVER_BACKEND_ADDR: backend,
      ROVER_PROFILING_CHECK_INTERVAL: '1s',
      ROVER_PROFILING_FLUSH_INTERVAL: '2s',
      ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: '2s',
      ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '500ms',
      ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s',
      // the tests' workloads are not servers: every process matching matchCmd is reported
      ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'REGEX',
      ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: matchCmd,
      ROVER_LOGGER_LEVEL: 'INFO',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString();
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const proc = {
    child,
    pid: child.pid!,
    output: () => out,
    stop: async (graceMs = 8_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  await waitFor('rover', () => out.includes('rover started'), 60_000, proc);
  return proc;
};

export interface PolicyItem {
  type: 'PROCESS_CPU' | 'PROCESS_THREAD_COUNT' | 'SYSTEM_LOAD' | 'HTTP_ERROR_RATE' | 'HTTP_AVG_RESPONSE_TIME';
  threshold: string;
  period: number;
  count: number;
  uriList?: string[];
  uriRegex?: string;
}

export const setPolicy = async (
  graphqlUrl: string,
  service: string,
  targets: Array<{ targetType: 'ON_CPU' | 'OFF_CPU' | 'NETWORK'; checkItems: PolicyItem[] }>,
): Promise<void> => {
  const r = await graphqlOk(
    graphqlUrl,
    `mutation ($r: ContinuousProfilingPolicyCreation!) { setContinuousProfilingPolicy(request: $r) { status errorReason } }`,
    { r: { serviceId: serviceIdOf(service), targets } },
  );
  if (!r.setContinuousProfilingPolicy.status) throw new Error(`policy not set: ${r.setContinuousProfilingPolicy.errorReason}`);
};

export interface ContinuousTask {
  taskId: string;
  serviceName: string;
  processId: string | null;
  processName: string | null;
  taskStartTime: number;
  triggerType: string;
  targetType: string;
  fixedTriggerDuration: number | null;
  continuousProfilingCauses: Array<{
    type: string;
    singleValue: { threshold: number; current: number } | null;
    uri: { uriRegex: string | null; uriPath: string | null; threshold: number; current: number } | null;
    message: string;
  }> | null;
}

export const continuousTasks = async (graphqlUrl: string, service: string): Promise<ContinuousTask[]> =>
  (
    await graphqlOk(
      graphqlUrl,
      `query ($s: ID!) { queryEBPFProfilingTasks(serviceId: $s, triggerType: CONTINUOUS_PROFILING) {
        taskId serviceName processId processName taskStartTime triggerType targetType fixedTriggerDuration
        continuousProfilingCauses { type singleValue { threshold current } uri { uriRegex uriPath threshold current } message } } }`,
      { s: serviceIdOf(service) },
    )
  ).queryEBPFProfilingTasks;

/** CPU ticks (utime + stime) of a process, from /proc. */
export const cpuTicks = (pid: number): number => {
  const rest = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(rest[11]) + Number(rest[12]);
};
