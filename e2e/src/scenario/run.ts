/**
 * The seed's service-mesh experiment on one machine: an app (nginx, static response) behind a
 * sidecar proxy (nginx, proxy_pass with keep-alive), wrk driving the proxy, oap-lite and rover
 * running, and for each access-log variant an ON_CPU and an OFF_CPU task created through GraphQL
 * on the proxy's service, while the load runs. The trees are read back through GraphQL.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startProcMeter,
  analyze,
  createTask,
  processNames,
  schedules,
  sleep,
  type Element,
  type Schedule,
  freePort,
  startOap,
  startRover,
  waitFor,
  type OapProcess,
  type RoverProcess,
} from '@swlite/testkit';
import {
  fullUserPaths,
  inAccessLog,
  inLogFormatting,
  inLogPhase,
  inWritePath,
  logPhaseFrame,
  share,
  stacksOf,
  totalOf,
  type Stack,
} from './analysis';
import {
  MESH_HEADERS,
  contextSwitches,
  cpuTicks,
  proxyConfig,
  startNginx,
  upstreamConfig,
  type AccessLog,
  type NginxServer,
} from './nginx';
import { runWrk, type WrkResult } from './wrk';

export const PROXY_SERVICE = 'sidecar-proxy';
export const APP_SERVICE = 'upstream-app';

export interface Variant {
  name: string;
  log: AccessLog;
  /**
   * Where the log goes: `stdout` is Istio's `accessLogFile: /dev/stdout`, a pipe that the
   * container runtime reads (here the scenario reads it into a file); `file` is a file on disk.
   */
  to: 'stdout' | 'file';
  description: string;
}

export const VARIANTS: Variant[] = [
  {
    name: 'log-verbose',
    log: 'verbose',
    to: 'stdout',
    description: 'access log to stdout (a pipe, as in a pod), long Envoy-like format',
  },
  { name: 'log-minimal', log: 'minimal', to: 'stdout', description: 'access log to stdout, minimal format' },
  { name: 'log-off', log: 'off', to: 'stdout', description: 'access_log off' },
  { name: 'file-verbose', log: 'verbose', to: 'file', description: 'access log to a file on ext4, long format' },
];

export interface ScenarioOptions {
  /** Seconds of wrk load per variant (the tasks cover all but the first and last second). */
  loadSeconds: number;
  connections: number;
  variants: Variant[];
  log: (line: string) => void;
  /** A directory to write rover's and oap-lite's output into at the end. */
  keepLogs?: string;
  /**
   * rover's user stack unwinding (ROVER_PROFILING_UNWIND): `auto` (default: .eh_frame CFI where
   * frame pointers are missing, so Debian's nginx gets whole stacks) or `fp` (frame pointers only,
   * upstream rover's way: for nginx only the leaf user frame is right).
   */
  unwind: 'auto' | 'fp' | 'dwarf';
}

export const DEFAULT_OPTIONS: ScenarioOptions = {
  loadSeconds: 12,
  connections: 32,
  variants: VARIANTS,
  unwind: 'auto',
  log: (line) => console.log(line),
};

export interface VariantResult {
  variant: Variant;
  wrk: WrkResult;
  /** The proxy's CPU over the load, in % of one core (from /proc/PID/stat). */
  proxyCpu: number;
  /** rover's CPU over the same load, while it profiled the proxy on and off CPU (% of one core). */
  roverCpu: number;
  /** The proxy's context switches over the load (from /proc/PID/status). */
  proxySwitches: { voluntary: number; involuntary: number };
  proxyPid: number;
  /**
   * What the kernel says the proxy did inside each task's schedule window: the on-CPU samples its
   * CPU time makes at the sampling period, and its context switches (what off-CPU counts).
   */
  truth: {
    cpuMs: number;
    onCpuExpected: number;
    periodMs: number;
    switches: number;
    windowMs: number;
    stealShare: number;
  };
  onCpu: {
    trees: Element[][];
    stacks: Stack[];
    samples: number;
    /** Samples rover reported lost for the task (its log's 'profiling task finished'), -1 when not logged. */
    lost: number;
  };
  offCpu: {
    trees: Element[][];
    stacks: Stack[];
    durations: Element[][];
    switches: number;
    /** Switches rover reported lost for the task (its log's 'profiling task finished'), -1 when not logged. */
    lost: number;
  };
  /** Shares (0..1) of the culprit frames. */
  shares: {
    /** On-CPU samples formatting the log line (leaf in nginx's log formatting functions). */
    onCpuFormatting: number;
    /** On-CPU samples in the write(2) path of the log. */
    onCpuWrite: number;
    /** Both: the access log's on-CPU cost. */
    onCpuAccessLog: number;
    /** Off-CPU switches taken in the write path. */
    offCpuWriteSwitches: number;
    /** Off-CPU blocked time in the write path. */
    offCpuWriteTime: number;
    /**
     * Only with whole user paths (rover unwinding with CFI): on-CPU samples anywhere in the log
     * phase (every frame under nginx's log handler: formatting, escaping, ids, the write), and
     * that part of it outside the write path.
     */
    onCpuLogPhase?: number;
    onCpuLogPhaseFormatting?: number;
  };
}

export interface ScenarioResult {
  variants: VariantResult[];
  unwind: ScenarioOptions['unwind'];
  /** The log-phase frame when stacks had whole user paths (see analysis.logPhaseFrame). */
  logPhaseFrame?: string;
  oap: { graphqlUrl: string };
  seconds: number;
}

/** The proxy's schedule(s) of the task: only this variant's proxy process. */
/** 500 Hz instead of upstream's ~111 Hz: enough samples for shares of a few percent in 10 s. */
const ON_CPU_PERIOD_MS = 2;

const proxySchedules = (list: Schedule[], pid: number) => list.filter((s) => s.process.name.endsWith(`-${pid}`));

/** What rover's log says a task lost (its 'profiling task finished' line), -1 when not there. */
const taskLost = (roverOutput: string, taskId: string): number => {
  for (const line of roverOutput.split('\n')) {
    if (!line.includes(taskId) || !line.includes('profiling task finished')) continue;
    try {
      const lost = (JSON.parse(line) as { lost?: unknown }).lost;
      if (typeof lost === 'number') return lost;
    } catch {
      // not a JSON line
    }
  }
  return -1;
};

/** Why rover lost what it lost for a task: its 'profiler lost samples in this flush' lines, summed by cause. */
const taskLostCauses = (roverOutput: string, taskId: string): string => {
  const sum = new Map<string, number>();
  for (const line of roverOutput.split('\n')) {
    if (!line.includes(taskId) || !line.includes('profiler lost samples')) continue;
    try {
      const lost = (JSON.parse(line) as { lost?: Record<string, unknown> }).lost ?? {};
      // `samples` is what the kernel took, not a loss.
      for (const [k, v] of Object.entries(lost))
        if (k !== 'samples' && typeof v === 'number' && v > 0) sum.set(k, (sum.get(k) ?? 0) + v);
    } catch {
      // not a JSON line
    }
  }
  return [...sum].map(([k, v]) => `${k} ${v}`).join(', ');
};

const runVariant = async (
  o: ScenarioOptions,
  dir: string,
  oap: OapProcess,
  rover: RoverProcess,
  upstreamPort: number,
  variant: Variant,
): Promise<VariantResult> => {
  const roverPid = rover.child.pid!;
  const port = await freePort();
  const proxyDir = join(dir, variant.name);
  const proxy: NginxServer = await startNginx(
    proxyDir,
    `${PROXY_SERVICE}.conf`,
    proxyConfig(
      proxyDir,
      port,
      upstreamPort,
      variant.log,
      variant.to === 'stdout' ? '/dev/stdout' : join(proxyDir, 'access.log'),
    ),
    port,
    variant.to === 'stdout' ? join(proxyDir, 'container-stdout.log') : undefined,
  );
  try {
    await waitFor(
      `${PROXY_SERVICE} (nginx ${proxy.pid}) reported by rover`,
      async () => (await processNames(oap.graphqlUrl, PROXY_SERVICE)).includes(`nginx-${proxy.pid}`),
      20_000,
    );
    const url = `http://127.0.0.1:${port}/`;
    // warm up: connections to the app, caches
    await runWrk({ url, seconds: 1, connections: o.connections, threads: 1, headers: MESH_HEADERS });

    const taskSeconds = o.loadSeconds - 2;
    const ticks0 = cpuTicks(proxy.pid);
    const roverTicks0 = cpuTicks(roverPid);
    const cs0 = contextSwitches(proxy.pid);
    const meter = startProcMeter(proxy.pid);
    const t0 = Date.now();
    const load = runWrk({ url, seconds: o.loadSeconds, connections: o.connections, threads: 1, headers: MESH_HEADERS });
    await sleep(500);
    const [onTask, offTask] = await Promise.all([
      createTask(oap.graphqlUrl, PROXY_SERVICE, 'ON_CPU', taskSeconds),
      createTask(oap.graphqlUrl, PROXY_SERVICE, 'OFF_CPU', taskSeconds),
    ]);
    const wrk = await load;
    const seconds = (Date.now() - t0) / 1000;
    const proxyCpu = ((cpuTicks(proxy.pid) - ticks0) / 100 / seconds) * 100;
    const roverCpu = ((cpuTicks(roverPid) - roverTicks0) / 100 / seconds) * 100;
    const cs1 = contextSwitches(proxy.pid);
    const proxySwitches = { voluntary: cs1.voluntary - cs0.voluntary, involuntary: cs1.involuntary - cs0.involuntary };

    // Tasks end ≤ taskSeconds after creation; rover flushes every 2 s. Wait until the totals settle.
    const read = async () => {
      const on = proxySchedules(await schedules(oap.graphqlUrl, onTask.taskId), proxy.pid);
      const off = proxySchedules(await schedules(oap.graphqlUrl, offTask.taskId), proxy.pid);
      return { on, off };
    };
    let last = -1;
    let trees = { on: [] as Element[][], off: [] as Element[][], offDur: [] as Element[][] };
    const deadline = Date.now() + 20_000;
    await sleep(Math.max(0, onTask.startTime + taskSeconds * 1000 - Date.now()) + 2_500);
    for (let stable = 0; stable < 2 && Date.now() < deadline;) {
      const s = await read();
      trees = {
        on: await analyze(oap.graphqlUrl, s.on, 'COUNT'),
        off: await analyze(oap.graphqlUrl, s.off, 'COUNT'),
        offDur: await analyze(oap.graphqlUrl, s.off, 'DURATION'),
      };
      const now = totalOf(stacksOf(trees.on)) + totalOf(stacksOf(trees.off));
      stable = now === last && now > 0 ? stable + 1 : 0;
      last = now;
      if (stable < 2) await sleep(1_500);
    }
    meter.stop();
    const window = (list: Schedule[]) => ({
      from: Math.min(...list.map((x) => x.startTime)),
      to: Math.max(...list.map((x) => x.endTime)),
    });
    const final = await read();
    const onWindow = window(final.on);
    const offWindow = window(final.off);
    const { cpuMs, stealShare } = meter.within(onWindow.from, onWindow.to);
    const truth = {
      cpuMs,
      stealShare,
      periodMs: ON_CPU_PERIOD_MS,
      onCpuExpected: cpuMs / ON_CPU_PERIOD_MS,
      switches: meter.within(offWindow.from, offWindow.to).switches,
      windowMs: onWindow.to - onWindow.from,
    };
    const onStacks = stacksOf(trees.on);
    const offStacks = stacksOf(trees.off);
    const offDurStacks = stacksOf(trees.offDur);
    const result: VariantResult = {
      variant,
      wrk,
      proxyCpu,
      roverCpu,
      proxySwitches,
      proxyPid: proxy.pid,
      truth,
      onCpu: {
        trees: trees.on,
        stacks: onStacks,
        samples: totalOf(onStacks),
        lost: taskLost(rover.output(), onTask.taskId),
      },
      offCpu: {
        trees: trees.off,
        stacks: offStacks,
        durations: trees.offDur,
        switches: totalOf(offStacks),
        lost: taskLost(rover.output(), offTask.taskId),
      },
      shares: {
        onCpuFormatting: share(onStacks, inLogFormatting),
        onCpuWrite: share(onStacks, inWritePath),
        onCpuAccessLog: share(onStacks, inAccessLog),
        offCpuWriteSwitches: share(offStacks, inWritePath),
        offCpuWriteTime: share(offDurStacks, inWritePath),
      },
    };
    o.log(
      `${variant.name}: ${wrk.requestsPerSec.toFixed(0)} req/s, proxy CPU ${proxyCpu.toFixed(0)}%, rover CPU ${roverCpu.toFixed(0)}%, ` +
        `on-CPU ${result.onCpu.samples} samples (proxy CPU in the window ${truth.cpuMs.toFixed(0)} ms: ${truth.onCpuExpected.toFixed(0)} expected), ` +
        `off-CPU ${result.offCpu.switches} switches, ${result.offCpu.lost} reported lost` +
        `${result.offCpu.lost > 0 ? ` (${taskLostCauses(rover.output(), offTask.taskId)})` : ''} (the kernel counted ${truth.switches.toFixed(0)} in the window)`,
    );
    return result;
  } finally {
    await proxy.stop();
  }
};

/** Runs every variant; the caller owns nothing afterwards (all processes stopped, temp removed). */
export const runScenario = async (
  options: Partial<ScenarioOptions> = {},
  inspect?: (r: ScenarioResult) => Promise<void> | void,
): Promise<ScenarioResult> => {
  const o: ScenarioOptions = { ...DEFAULT_OPTIONS, ...options };
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'swlite-scenario-'));
  let oap: OapProcess | undefined;
  let rover: RoverProcess | undefined;
  let app: NginxServer | undefined;
  try {
    oap = await startOap();
    // Only the two nginx servers of this run: their command lines carry this directory.
    const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    rover = await startRover({
      backend: oap.grpcAddress,
      matchCmd: `-c ${escaped}/(?:[^ /]+/)?(${PROXY_SERVICE}|${APP_SERVICE})\\.conf`,
      env: {
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: '{{.Finder.RegexMatchGroup 1}}',
        ROVER_PROFILING_TASK_ON_CPU_DUMP_PERIOD: `${ON_CPU_PERIOD_MS}ms`,
        ROVER_PROFILING_UNWIND: o.unwind,
      },
    });
    o.log(`oap-lite on ${oap.grpcAddress} (gRPC), ${oap.graphqlUrl}; rover started; working in ${dir}`);
    const appPort = await freePort();
    app = await startNginx(join(dir, 'app'), `${APP_SERVICE}.conf`, upstreamConfig(join(dir, 'app'), appPort), appPort);
    const variants: VariantResult[] = [];
    for (const v of o.variants) variants.push(await runVariant(o, dir, oap, rover, appPort, v));
    // With whole user paths, the log phase is found from the write stacks of the log-on runs.
    const logged = variants.filter((v) => v.variant.log !== 'off');
    const all = logged.flatMap((v) => [...v.onCpu.stacks, ...v.offCpu.stacks]);
    const frame = fullUserPaths(all) ? logPhaseFrame(all) : undefined;
    if (frame) {
      o.log(`whole user paths: nginx's log phase runs under ngx_http_free_request → ${frame}`);
      for (const v of variants) {
        const inPhase = inLogPhase(frame);
        v.shares.onCpuLogPhase = share(v.onCpu.stacks, inPhase);
        v.shares.onCpuLogPhaseFormatting = share(v.onCpu.stacks, (s) => inPhase(s) && !inWritePath(s));
      }
    }
    const result: ScenarioResult = {
      variants,
      unwind: o.unwind,
      ...(frame ? { logPhaseFrame: frame } : {}),
      oap: { graphqlUrl: oap.graphqlUrl },
      seconds: (Date.now() - started) / 1000,
    };
    await inspect?.(result);
    return result;
  } catch (err) {
    if (rover) o.log(`rover output (tail):\n${rover.output().slice(-3000)}`);
    throw err;
  } finally {
    await app?.stop();
    await rover?.stop();
    await oap?.stop();
    if (o.keepLogs) {
      mkdirSync(o.keepLogs, { recursive: true });
      if (rover) writeFileSync(join(o.keepLogs, 'rover.log'), rover.output());
      if (oap) writeFileSync(join(o.keepLogs, 'oap-lite.log'), oap.output());
    }
    await oap?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
};
