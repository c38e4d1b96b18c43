/**
 * The fidelity corpus: real binaries (Debian's nginx and haproxy under wrk, libc-heavy C, a
 * Node.js process with --perf-basic-prof, a stripped Go binary, a C++ binary built -O2 without
 * frame pointers) profiled on-CPU through rover's own samplers, frame-pointer stacks ("before")
 * and CFI-unwound stacks ("after") at the same time on the same process, then scored.
 * nginx and haproxy run twice: Debian's stripped system binaries (no .symtab: their static
 * functions have no names), and the `-dbgsym` rows: the same Debian source rebuilt with Debian's
 * flags by tools/debian-debug-builds.sh, symbolized with the debug files of that build (what
 * `apt install nginx-dbgsym` gives where Debian's debug archive is reachable). Scores:
 * - rooted: share of samples whose outermost user frame is the thread's root (`_start`, `main`,
 *   `__libc_start_main`, `start_thread`, `clone3`, Go's `runtime.goexit`/`runtime.main`/
 *   `runtime.mstart`/`runtime.rt0_go`);
 * - named: share of user frames with a name (not `module+0x…` / `[unknown]+0x…`);
 * - inlined leaf: share of samples whose leaf is a function the compiler inlined, shown as such
 *   (from DWARF: the -dbgsym rows' debug files).
 * The signal row takes its hot loop inside a SIGALRM handler: its stacks reach the root only
 * through the kernel's signal frame (glibc's __restore_rt, whose CFI rules are DWARF expressions).
 * Used by e2e/src/fidelity.test.ts (floors) and apps/rover/bench/run.ts (the table). The samplers
 * are passed in (rover's, through @swlite/rover/testing): this library starts programs and scores
 * stacks, it does not import the apps.
 */
import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CFA_EXPR, CFA_SIGNAL, decodeExprRule, stackSymbols, Symbolizer } from '@swlite/symbolizer';
import { FIXTURES_DIR, REPO_ROOT } from './paths';
import { freePort } from './processes';

export const fixturesDir = join(FIXTURES_DIR, 'fidelity');

export const CORPUS = ['nginx', 'nginx-dbgsym', 'haproxy', 'haproxy-dbgsym', 'libc', 'node', 'go', 'cpp', 'c-fp', 'signal'] as const;
export type CorpusName = (typeof CORPUS)[number];
/** What startTarget runs: a -dbgsym row runs its package's workload with the rebuilt binary. */
type Workload = Exclude<CorpusName, `${string}-dbgsym`>;

// ---- Debian's nginx/haproxy rebuilt with their debug files ------------------------------------

/** Where tools/debian-debug-builds.sh leaves its builds (`<pkg>/root`, `<pkg>/build.json`). */
export const debianDebugDir = join(REPO_ROOT, '.cache', 'debian-debug');

/** The corpus rows that run a rebuilt Debian package, and that package. */
export const DEBUG_BUILD_ROWS: Partial<Record<CorpusName, 'nginx' | 'haproxy'>> = {
  'nginx-dbgsym': 'nginx',
  'haproxy-dbgsym': 'haproxy',
};

export interface DebianDebugBuild {
  package: string;
  version: string;
  buildId: string;
  /** The extracted executable (absolute). */
  binary: string;
  /** Its debug file, `<debugDir>/.build-id/xx/….debug` (absolute). */
  debugFile: string;
  /** `<extracted root>/usr/lib/debug`, for Symbolizer's debugDirs. */
  debugDir: string;
}

/**
 * The build of `pkg` that tools/debian-debug-builds.sh left in .cache/debian-debug, checked
 * (binary and debug file present); throws with what to run if there is none.
 */
export function debianDebugBuild(pkg: 'nginx' | 'haproxy'): DebianDebugBuild {
  const dir = join(debianDebugDir, pkg);
  const where = `${relative(REPO_ROOT, dir)}`;
  let meta: { package: string; version: string; binary: string; debugFile: string; buildId: string };
  try {
    meta = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8'));
  } catch {
    throw new Error(`no build of Debian's ${pkg} in ${where} (run tools/debian-debug-builds.sh)`);
  }
  const build: DebianDebugBuild = {
    package: meta.package,
    version: meta.version,
    buildId: meta.buildId,
    binary: join(dir, meta.binary),
    debugFile: join(dir, meta.debugFile),
    debugDir: join(dir, 'root', 'usr', 'lib', 'debug'),
  };
  for (const f of [build.binary, build.debugFile]) {
    if (!existsSync(f)) throw new Error(`${relative(REPO_ROOT, f)} is missing (run tools/debian-debug-builds.sh)`);
  }
  return build;
}

/** Why a corpus row cannot run here (its rebuilt binary is missing), or undefined. */
export function corpusUnavailable(name: CorpusName): string | undefined {
  const pkg = DEBUG_BUILD_ROWS[name];
  if (!pkg) return undefined;
  try {
    debianDebugBuild(pkg);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The corpus rows that can run here (the -dbgsym rows only when their builds exist). */
export const availableCorpus = (): CorpusName[] => CORPUS.filter((n) => !corpusUnavailable(n));

/** The symbolizer a row is scored with: the -dbgsym rows also look in their build's debug files. */
export function symbolizerFor(name: CorpusName): Symbolizer {
  const pkg = DEBUG_BUILD_ROWS[name];
  if (!pkg) return new Symbolizer();
  return new Symbolizer({ debugDirs: ['/usr/lib/debug', debianDebugBuild(pkg).debugDir] });
}

export interface Score {
  samples: number;
  rooted: number;
  frames: number;
  named: number;
  /** Share of samples unwound to the thread root (0..1). */
  rootedShare: number;
  /** Share of user frames named (0..1). */
  namedShare: number;
  meanDepth: number;
  /** Samples whose leaf frame is an inlined function (Frame.inlined at the leaf). */
  inlinedLeaf: number;
  inlinedLeafShare: number;
  /** Share of samples with an inlined function anywhere in the stack (0..1). */
  inlinedAnyShare: number;
  /**
   * Rooted samples whose walk stepped through a frame whose CFA or return address is given by a
   * DWARF expression (signal frames included; the PLT's usual rule is not counted, it had its
   * own case before): before expressions were evaluated, these walks stopped at that frame.
   */
  rootedByExpression: number;
}

export interface FidelityRow {
  name: CorpusName;
  binary: string;
  before: Score;
  after: Score;
  /** Median user-space unwind time per sample (µs), after (tables warm). */
  unwindUsPerSample: number;
  /** Mean, including the one-off unwind-table builds of the process's binaries (µs). */
  unwindUsMean: number;
  /** A few example stacks (after), root last. */
  examples: string[];
  /** Unnamed frames (after) by module. */
  unnamedByModule: Record<string, number>;
  /** Samples whose CFI walk was replaced by the kernel's longer frame-pointer walk. */
  fpChosen: number;
}

const ROOTS = new Set([
  'main',
  '_start',
  '__libc_start_main',
  '__libc_start_call_main',
  'start_thread',
  'clone',
  'clone3',
  '__clone',
  '__clone3',
  'runtime.goexit',
  'runtime.main',
  'runtime.mstart',
  'runtime.rt0_go',
]);

/** The root-ness of a frame name: version suffixes (`@@GLIBC_2.34`) and Go ABI suffixes dropped. */
export function isRootName(name: string): boolean {
  const base = name.replace(/@.*$/, '').replace(/\.abi0$/, '');
  return ROOTS.has(base);
}

export function score(symbolizer: Symbolizer, stacks: SampledStack[]): Score {
  let samples = 0;
  let rooted = 0;
  let frames = 0;
  let named = 0;
  let inlinedLeaf = 0;
  let inlinedAny = 0;
  let rootedByExpression = 0;
  for (const st of stacks) {
    samples += st.count;
    if (st.userStack.length === 0) continue;
    const f = symbolizer.symbolizeUser(st.tgid, st.userStack, { returnAddresses: true });
    frames += f.length * st.count;
    named += f.filter((x) => x.resolved).length * st.count;
    if (isRootName(f[f.length - 1]!.name)) {
      rooted += st.count;
      if (walkUsedExpressions(symbolizer, st)) rootedByExpression += st.count;
    }
    if (f[0]!.inlined?.length) inlinedLeaf += st.count;
    if (f.some((x) => x.inlined?.length)) inlinedAny += st.count;
  }
  return {
    samples,
    rooted,
    frames,
    named,
    rootedShare: samples ? rooted / samples : 0,
    namedShare: frames ? named / frames : 0,
    meanDepth: samples ? frames / samples : 0,
    inlinedLeaf,
    inlinedLeafShare: samples ? inlinedLeaf / samples : 0,
    inlinedAnyShare: samples ? inlinedAny / samples : 0,
    rootedByExpression,
  };
}

/** Whether a stack's walk took a CFA or return-address rule by expression (rows looked up as unwindUser does). */
function walkUsedExpressions(symbolizer: Symbolizer, st: SampledStack): boolean {
  const maps = symbolizer.unwindMaps(st.tgid);
  let interrupted = true;
  for (let k = 0; k < st.userStack.length - 1; k++) {
    const pc = st.userStack[k]!;
    const look: bigint = interrupted ? pc : pc - 1n;
    const m = maps.find(look);
    const i: number = m ? m.table.findIndex(Number(look - m.bias)) : -1;
    if (i < 0) return false;
    const t = m!.table;
    if ((t.cfa[i]! & ~CFA_SIGNAL) === CFA_EXPR || decodeExprRule(t.raOffset[i]!) !== undefined) return true;
    interrupted = (t.cfa[i]! & CFA_SIGNAL) !== 0;
  }
  return false;
}

function examples(symbolizer: Symbolizer, stacks: SampledStack[], n: number): string[] {
  return [...stacks]
    .sort((a, b) => b.count - a.count)
    .slice(0, n)
    .map(
      (st) =>
        `${st.count}× ` +
        stackSymbols(symbolizer.symbolizeUser(st.tgid, st.userStack, { returnAddresses: true })).join(' < '),
    );
}

// ---- workloads ----------------------------------------------------------------------------

export interface RunningTarget {
  name: CorpusName;
  binary: string;
  /** Processes to profile. */
  pids: number[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitPort = async (port: number, ms = 5000): Promise<void> => {
  const { connect } = await import('node:net');
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`port ${port} did not open`);
    await sleep(50);
  }
};

/** Every workload process still alive, killed if this process exits without stopping them. */
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** SIGTERM first, so a server's master stops its workers (SIGKILL would orphan them), then SIGKILL. */
const kill = async (c: ChildProcess | undefined): Promise<void> => {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), 2_000);
  await done;
  clearTimeout(timer);
};

/** Runs wrk (1 thread, 16 connections) against a loopback URL for `seconds`. */
const startWrk = (url: string, seconds: number): ChildProcess =>
  spawn('wrk', ['-t1', '-c16', `-d${Math.ceil(seconds)}s`, url], { stdio: 'ignore' });

const childPids = (pid: number): number[] => {
  try {
    return execSync(`pgrep -P ${pid}`, { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

const build = (dir: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void => {
  execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env });
};

/** Unnamed frames by module: where names are missing (e.g. `nginx`: static functions, no .symtab). */
export function unnamedModules(symbolizer: Symbolizer, stacks: SampledStack[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const st of stacks) {
    if (!st.userStack.length) continue;
    for (const f of symbolizer.symbolizeUser(st.tgid, st.userStack, { returnAddresses: true })) {
      if (!f.resolved) out.set(f.module, (out.get(f.module) ?? 0) + st.count);
    }
  }
  return out;
}

/**
 * Starts one corpus workload, busy for at least `seconds` (servers on a free loopback port).
 * `exe` replaces the nginx/haproxy executable; the -dbgsym rows default it to their rebuilt one.
 */
export async function startTarget(name: CorpusName, seconds: number, exe?: string): Promise<RunningTarget> {
  const pkg = DEBUG_BUILD_ROWS[name];
  const rebuilt = pkg ? debianDebugBuild(pkg) : undefined;
  exe ??= rebuilt?.binary;
  const label = (system: string): string =>
    rebuilt && exe === rebuilt.binary
      ? `${relative(REPO_ROOT, exe)} (rebuilt from Debian ${rebuilt.version} source)`
      : `${exe ?? system} (Debian)`;
  const kind: Workload = pkg ?? (name as Workload);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `swlite-fid-${name}-`));
  const children: ChildProcess[] = [];
  const extraPids: number[] = []; // grandchildren (nginx workers): SIGKILL of the master leaves them
  const stop = async () => {
    for (const pid of extraPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      live.delete(pid);
    }
    for (const c of children.reverse()) {
      await kill(c);
      if (c.pid) live.delete(c.pid);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const track = <T extends ChildProcess>(c: T): T => {
    children.push(c);
    if (c.pid) live.add(c.pid);
    return c;
  };
  try {
    switch (kind) {
      case 'nginx': {
        for (const d of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, d));
        writeFileSync(
          join(dir, 'nginx.conf'),
          `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\n` +
            `events { worker_connections 256; }\nhttp {\n access_log off;\n client_body_temp_path ${dir}/body;\n` +
            ` proxy_temp_path ${dir}/proxy;\n fastcgi_temp_path ${dir}/fcgi;\n uwsgi_temp_path ${dir}/uwsgi;\n` +
            ` scgi_temp_path ${dir}/scgi;\n server { listen 127.0.0.1:${port}; location / { return 200 "hello world\\n"; } }\n}\n`,
        );
        const master = spawn(exe ?? '/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
        track(master);
        master.once('exit', (code) => {
          if (code) console.error(`nginx exited ${code}: ${readFileSync(join(dir, 'logs', 'error.log'), 'utf8').slice(-500)}`);
        });
        await waitPort(port);
        let workers: number[] = [];
        for (let i = 0; i < 100 && workers.length === 0; i++) {
          workers = childPids(master.pid!);
          if (!workers.length) await sleep(50);
        }
        for (const w of workers) {
          extraPids.push(w);
          live.add(w);
        }
        track(startWrk(`http://127.0.0.1:${port}/`, seconds + 2));
        return { name, binary: label('/usr/sbin/nginx'), pids: workers.length ? workers : [master.pid!], stop };
      }
      case 'haproxy': {
        writeFileSync(
          join(dir, 'haproxy.cfg'),
          `global\n  nbthread 2\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n` +
            `frontend f\n  bind 127.0.0.1:${port}\n  http-request return status 200 content-type text/plain string "hello"\n`,
        );
        const h = spawn(exe ?? '/usr/sbin/haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
        track(h);
        await waitPort(port);
        track(startWrk(`http://127.0.0.1:${port}/`, seconds + 2));
        return { name, binary: label('/usr/sbin/haproxy'), pids: [h.pid!], stop };
      }
      case 'libc': {
        build(dir, 'gcc', ['-O2', '-fomit-frame-pointer', '-pthread', '-o', 'libc_work', join(fixturesDir, 'libc_work.c')]);
        const c = spawn(join(dir, 'libc_work'), [], { stdio: 'ignore' });
        track(c);
        return { name, binary: 'C -O2 -fomit-frame-pointer (qsort/snprintf/memmove)', pids: [c.pid!], stop };
      }
      case 'c-fp': {
        // The same C work built WITH frame pointers (over Debian's libc without): CFI must not
        // do worse than the frame-pointer walk here.
        build(dir, 'gcc', ['-O1', '-fno-omit-frame-pointer', '-pthread', '-o', 'libc_work_fp', join(fixturesDir, 'libc_work.c')]);
        const c = spawn(join(dir, 'libc_work_fp'), [], { stdio: 'ignore' });
        track(c);
        return { name, binary: 'C -O1 -fno-omit-frame-pointer (same work, over libc)', pids: [c.pid!], stop };
      }
      case 'signal': {
        writeFileSync(join(dir, 'signal_work.c'), SIGNAL_WORK_C);
        build(dir, 'gcc', ['-O2', '-fomit-frame-pointer', '-o', 'signal_work', join(dir, 'signal_work.c')]);
        const c = spawn(join(dir, 'signal_work'), [], { stdio: 'ignore' });
        track(c);
        return { name, binary: 'C -O2 -fomit-frame-pointer, hot loop in a SIGALRM handler', pids: [c.pid!], stop };
      }
      case 'cpp': {
        build(dir, 'g++', ['-O2', '-fomit-frame-pointer', '-pthread', '-o', 'cpp_work', join(fixturesDir, 'cpp_work.cpp')]);
        const c = spawn(join(dir, 'cpp_work'), [], { stdio: 'ignore' });
        track(c);
        return { name, binary: 'C++ -O2 -fomit-frame-pointer', pids: [c.pid!], stop };
      }
      case 'go': {
        writeFileSync(join(dir, 'go.mod'), 'module corpus\n\ngo 1.21\n');
        writeFileSync(join(dir, 'main.go'), readFileSync(join(fixturesDir, 'go_work.go')));
        build(dir, 'go', ['build', '-ldflags=-s -w', '-o', 'go_work', '.'], {
          ...process.env,
          HOME: process.env.HOME ?? dir,
          GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'swlite-gocache'),
          GOPATH: process.env.GOPATH ?? join(tmpdir(), 'swlite-gopath'),
          GOFLAGS: '-mod=mod',
          CGO_ENABLED: '0',
        });
        const c = spawn(join(dir, 'go_work'), [], { stdio: 'ignore', env: { ...process.env, GOMAXPROCS: '2' } });
        track(c);
        return { name, binary: 'Go, -ldflags="-s -w" (stripped)', pids: [c.pid!], stop };
      }
      case 'node': {
        const c = spawn(process.execPath, ['--perf-basic-prof', join(fixturesDir, 'node_work.js')], {
          stdio: 'ignore',
          cwd: dir,
        });
        track(c);
        const pid = c.pid!;
        const origStop = stop;
        return {
          name,
          binary: `node ${process.version} --perf-basic-prof`,
          pids: [pid],
          stop: async () => {
            await origStop();
            rmSync(`/tmp/perf-${pid}.map`, { force: true });
          },
        };
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The signal row's workload: a 10 ms interval timer whose handler spins for about 8 ms, over a
 * main loop that spins too; so most samples are inside the handler, above the signal frame.
 */
const SIGNAL_WORK_C = `
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>
static volatile uint64_t sink;
static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec; }
__attribute__((noinline)) static void churn(uint64_t until) { uint64_t x = sink; while (now_ns() < until) for (int i = 0; i < 1000; i++) x = x * 6364136223846793005u + 1; sink = x; }
__attribute__((noinline)) static void on_alarm(int sig) { (void)sig; churn(now_ns() + 8000000u); }
__attribute__((noinline)) static void main_loop(void) { for (;;) churn(now_ns() + 1000000u); }
int main(void) {
  struct sigaction sa = { 0 };
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, 0);
  struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
  setitimer(ITIMER_REAL, &it, 0);
  main_loop();
  return 0;
}
`;

// ---- profiling ------------------------------------------------------------------------------

/** A stack as a sampler drains it: what scoring reads of @swlite/bpf's ProfiledStack. */
export interface SampledStack {
  tgid: number;
  /** User frames, leaf first (instruction pointers). */
  userStack: bigint[];
  count: number;
}

/** An on-CPU sampler attached to the target's processes. */
export interface FidelitySampler {
  start(pids: number[]): void;
  drain(): { stacks: SampledStack[] };
  /** Detaches and returns what was left. */
  stop(): { stacks: SampledStack[] };
}

/** What the CFI unwinding cost over the run. */
export interface UnwindTiming {
  /** Median user-space unwind time per sample (µs), tables warm. */
  medianUs: number;
  /** Mean, including the one-off unwind-table builds (µs). */
  meanUs: number;
  /** Samples whose CFI walk was replaced by the kernel's longer frame-pointer walk. */
  fpChosen: number;
}

/** The two samplers compared on the same process at the same time. */
export interface FidelitySamplers {
  /** The kernel's frame-pointer walk ("before"). */
  fp: FidelitySampler;
  /** Stack snapshots unwound with CFI ("after"). */
  cfi: FidelitySampler;
  cfiTiming(): UnwindTiming;
}

/** Makes the samplers for one run: on-CPU every `periodMs`, CFI tables from `symbolizer`. */
export type FidelitySamplerFactory = (periodMs: number, symbolizer: Symbolizer) => FidelitySamplers;

/**
 * Profiles `target` on-CPU for `seconds` with both samplers at once (default period 9 ms), and
 * scores both. The target is left running (symbolization needs its maps).
 */
export async function profileTarget(
  target: RunningTarget,
  seconds: number,
  samplersFor: FidelitySamplerFactory,
  symbolizer = new Symbolizer(),
  periodMs = 9,
): Promise<FidelityRow> {
  const { fp, cfi, cfiTiming } = samplersFor(periodMs, symbolizer);
  fp.start(target.pids);
  try {
    cfi.start(target.pids);
  } catch (e) {
    fp.stop();
    throw e;
  }
  const fpStacks: SampledStack[] = [];
  const cfiStacks: SampledStack[] = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    await sleep(Math.min(1000, until - Date.now()));
    fpStacks.push(...fp.drain().stacks);
    cfiStacks.push(...cfi.drain().stacks);
  }
  fpStacks.push(...fp.stop().stacks);
  cfiStacks.push(...cfi.stop().stacks);
  const timing = cfiTiming();
  return {
    name: target.name,
    binary: target.binary,
    before: score(symbolizer, fpStacks),
    after: score(symbolizer, cfiStacks),
    unwindUsPerSample: timing.medianUs,
    unwindUsMean: timing.meanUs,
    examples: examples(symbolizer, cfiStacks, 3),
    unnamedByModule: Object.fromEntries(unnamedModules(symbolizer, cfiStacks)),
    fpChosen: timing.fpChosen,
  };
}

/**
 * Runs the corpus one binary at a time (bounded load on shared machines). A -dbgsym row whose
 * build is missing throws; `availableCorpus()` lists the rows that can run.
 */
export async function runFidelity(
  samplersFor: FidelitySamplerFactory,
  names: readonly CorpusName[] = CORPUS,
  seconds = 3,
): Promise<FidelityRow[]> {
  const rows: FidelityRow[] = [];
  for (const name of names) {
    const target = await startTarget(name, seconds + 1);
    try {
      await sleep(name === 'node' ? 700 : 300); // past start-up
      rows.push(await profileTarget(target, seconds, samplersFor, symbolizerFor(name)));
    } finally {
      await target.stop();
    }
  }
  return rows;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function formatFidelity(rows: FidelityRow[]): string {
  const head = ['binary', 'samples fp/cfi', 'rooted fp', 'rooted cfi', 'named fp', 'named cfi', 'inlined leaf/any', 'rooted by expr', 'depth fp/cfi', 'unwind µs p50/mean'];
  const lines = rows.map((r) => [
    `${r.name}: ${r.binary}`,
    `${r.before.samples}/${r.after.samples}`,
    pct(r.before.rootedShare),
    pct(r.after.rootedShare),
    pct(r.before.namedShare),
    pct(r.after.namedShare),
    `${pct(r.after.inlinedLeafShare)}/${pct(r.after.inlinedAnyShare)}`,
    pct(r.after.samples ? r.after.rootedByExpression / r.after.samples : 0),
    `${r.before.meanDepth.toFixed(1)}/${r.after.meanDepth.toFixed(1)}`,
    `${r.unwindUsPerSample.toFixed(1)}/${r.unwindUsMean.toFixed(0)}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [fmt(head), w.map((n) => '-'.repeat(n)).join('  '), ...lines.map(fmt)].join('\n');
}
