/**
 * Support for the continuous profiling scenarios: the C workloads of fixtures/continuous (one
 * executable name per service), rover from source (so the scenario runs the code under test even
 * when an older bundle exists), GraphQL helpers for policies and triggered tasks.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceIdOf } from './flows';
import { graphqlOk } from './graphql-client';
import { FIXTURES_DIR } from './paths';
import { startRover, waitFor, type RoverProcess } from './processes';

const FIXTURE = join(FIXTURES_DIR, 'continuous', 'workload.c');

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
export const startRoverFromSource = async (
  backend: string,
  matchCmd: string,
  env: Record<string, string> = {},
): Promise<RoverProcess & { pid: number }> => {
  const proc = await startRover({ backend, matchCmd, env, fromSource: true });
  return { ...proc, pid: proc.child.pid! };
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
