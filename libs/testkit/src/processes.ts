/**
 * Starts the real programs as child processes for end-to-end tests: oap-lite (bundled when built,
 * otherwise from source) and rover, on free loopback ports, and waits until they serve.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths';

export const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });

/** How to start a program as executing it would: node flags and script, and its environment. */
interface Program {
  args: string[];
  env: Record<string, string>;
}

/**
 * The bundle when it exists (what users run), else the TypeScript entry under tsx; `fromSource`
 * always takes the source, so a run exercises the code under test even beside an older bundle.
 */
const program = (app: 'oap-lite' | 'rover', fromSource = false, otherBundle?: string): Program => {
  if (otherBundle) {
    if (!existsSync(otherBundle)) throw new Error(`no ${app} bundle at ${otherBundle}`);
    return hashbang(otherBundle, [otherBundle]);
  }
  const bundle = join(REPO_ROOT, 'apps', app, 'dist', `${app}.js`);
  if (existsSync(bundle) && !fromSource) return hashbang(bundle, [bundle]);
  const main = join(REPO_ROOT, 'apps', app, 'src', 'main.ts');
  return hashbang(main, ['--import', 'tsx', main]);
};

/**
 * What a program's `#!/usr/bin/env -S [NAME=value ...] node FLAGS` line gives it (V8 flags and
 * allocator settings chosen by measurement): run as `node script`, the tests must pass them as
 * executing the script would. `args` follow the flags.
 */
const hashbang = (script: string, args: string[]): Program => {
  const head = Buffer.alloc(400);
  const fd = openSync(script, 'r');
  const n = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const first = head.toString('utf8', 0, n).split('\n', 1)[0]!;
  const m = /^#!\S*env -S((?:\s+[A-Z_][A-Z0-9_]*=\S*)*)\s+node((?:\s+--\S+)*)\s*$/.exec(first);
  if (!m) return { args, env: {} };
  const env = Object.fromEntries(
    m[1]!
      .split(/\s+/)
      .filter(Boolean)
      .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
  );
  return { args: [...m[2]!.split(/\s+/).filter(Boolean), ...args], env };
};

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). Resolves the exit code. */
  stop: (graceMs?: number) => Promise<number | null>;
  kill: () => Promise<void>;
}

const run = (args: string[], env: Record<string, string>): RunningProcess => {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    stop: async (graceMs = 8_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
};

const waitFor = async (
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  proc?: RunningProcess,
) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null)
      throw new Error(`${what}: process exited early:\n${proc.output().slice(-3000)}`);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${proc ? `:\n${proc.output().slice(-3000)}` : ''}`);
};

export interface OapProcess extends RunningProcess {
  grpcPort: number;
  httpPort: number;
  grpcAddress: string;
  graphqlUrl: string;
  dataDir: string;
  /** Starts a new oap-lite on the same ports and data directory. */
  restart: () => Promise<OapProcess>;
  cleanup: () => Promise<void>;
}

export const startOap = async (
  env: Record<string, string> = {},
  fixed?: { grpcPort: number; httpPort: number; dataDir: string },
  /** How long start-up may take: longer for Elasticsearch storage on a busy machine (index installation). */
  readyTimeoutMs = 30_000,
  /** Run this oap-lite bundle instead of apps/oap-lite's (A/B benches against another build). */
  bundle?: string,
  /** Node flags before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs: string[] = [],
): Promise<OapProcess> => {
  const grpcPort = fixed?.grpcPort ?? (await freePort());
  const httpPort = fixed?.httpPort ?? (await freePort());
  const dataDir = fixed?.dataDir ?? mkdtempSync(join(tmpdir(), 'swlite-e2e-oap-'));
  const oapLite = program('oap-lite', false, bundle);
  const proc = run([...nodeArgs, ...oapLite.args], {
    ...oapLite.env,
    SW_CORE_GRPC_HOST: '127.0.0.1',
    SW_CORE_GRPC_PORT: String(grpcPort),
    SW_CORE_REST_HOST: '127.0.0.1',
    SW_CORE_REST_PORT: String(httpPort),
    SW_STORAGE_SQLITE_DATA_DIR: dataDir,
    SW_EBPF_TASK_MIN_DURATION: '1',
    ...env,
  });
  const graphqlUrl = `http://127.0.0.1:${httpPort}/graphql`;
  await waitFor(
    'oap-lite',
    async () => (await fetch(`http://127.0.0.1:${httpPort}/healthcheck`)).ok,
    readyTimeoutMs,
    proc,
  );
  const self: OapProcess = {
    ...proc,
    grpcPort,
    httpPort,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    graphqlUrl,
    dataDir,
    restart: async () => {
      await proc.stop();
      return startOap(env, { grpcPort, httpPort, dataDir }, readyTimeoutMs, bundle, nodeArgs);
    },
    cleanup: async () => {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return self;
};

export interface RoverOptions {
  backend: string;
  /** Regex over command lines: which processes rover reports (keeps tests focused). */
  matchCmd: string;
  env?: Record<string, string>;
  /** Run apps/rover/src/main.ts under tsx even when a bundle exists. */
  fromSource?: boolean;
  /** Node flags before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Run this rover bundle instead of apps/rover's (A/B benches against another build). */
  bundle?: string;
}

export type RoverProcess = RunningProcess;

/** Short intervals so a test sees a task within about a second and data every two seconds. */
export const startRover = async (options: RoverOptions): Promise<RoverProcess> => {
  const rover = program('rover', options.fromSource, options.bundle);
  const proc = run([...(options.nodeArgs ?? []), ...rover.args], {
    ...rover.env,
    ROVER_BACKEND_ADDR: options.backend,
    ROVER_PROFILING_CHECK_INTERVAL: '1s',
    ROVER_PROFILING_FLUSH_INTERVAL: '2s',
    ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: '2s',
    ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '500ms',
    ROVER_PROCESS_DISCOVERY_SCAN_MIN_AGE: '0s',
    // the tests' workloads are not servers: every process matching matchCmd is reported
    ROVER_PROCESS_DISCOVERY_SCAN_MODE: 'REGEX',
    ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_MATCH_CMD: options.matchCmd,
    ROVER_LOGGER_LEVEL: 'INFO',
    ...options.env,
  });
  // From source, tsx compiles rover's modules first: allow it longer.
  await waitFor('rover', () => proc.output().includes('rover started'), options.fromSource ? 60_000 : 30_000, proc);
  return proc;
};

export { waitFor };
