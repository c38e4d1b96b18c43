// A real Elasticsearch node for tests, with no Docker: tools/elasticsearch/start.sh builds (once,
// with Maven, from Maven Central jars) and runs a single-node 8.19 cluster in a JVM.
//
//   const es = await startTestElasticsearch();   // throws with a clear reason when impossible
//   const client = new Client({ node: es.url, ...compatibleWith8() });
//   ...
//   await es.stop();
//
// SWLITE_ES_URL=http://host:port reuses a node that is already running (nothing is started or
// stopped). Tests should skip with the thrown Error's message, and fail when CI=true.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SniffingTransport } from '@elastic/elasticsearch';

export interface TestElasticsearch {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Stops the node (SIGTERM, clean close) and removes its data dir; a no-op for a reused node. */
  stop(): Promise<void>;
  /** Wall time from launching the JVM to the cluster answering yellow/green (0 when reused). */
  startedInMs: number;
  /** True when SWLITE_ES_URL pointed at a node that was already running. */
  reused: boolean;
  /** PID of the JVM (0 when reused). */
  pid: number;
  /** Stops the JVM but keeps the data dir and port (fault tests); throws for a reused node. */
  pause(): Promise<void>;
  /** Starts the JVM again on the same port and data after pause(). */
  resume(): Promise<void>;
}

const TOOL_DIR = fileURLToPath(new URL('../../../../../tools/elasticsearch/', import.meta.url));

/**
 * The @elastic/elasticsearch v9 client sends `compatible-with=9` media types, which an 8.x server
 * rejects with 400 media_type_header_exception ("Accept version must be either version 8 or 7").
 * This transport sends `compatible-with=8` instead; everything else is the client's default
 * (sniffing-capable) transport.
 */
export class CompatibleWith8Transport extends SniffingTransport {
  constructor(opts: ConstructorParameters<typeof SniffingTransport>[0]) {
    super({
      ...opts,
      vendoredHeaders: {
        jsonContentType: 'application/vnd.elasticsearch+json; compatible-with=8',
        ndjsonContentType: 'application/vnd.elasticsearch+x-ndjson; compatible-with=8',
        accept: 'application/vnd.elasticsearch+json; compatible-with=8,text/plain',
      },
    });
  }
}

/** Client options for talking to the 8.19 test node with the v9 client. */
export const compatibleWith8 = (): {
  Transport: typeof CompatibleWith8Transport;
} => ({
  Transport: CompatibleWith8Transport,
});

const onPath = (cmd: string, args: string[]): boolean => {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
  return !r.error && r.status === 0;
};

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });

const run = (
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    execFile(
      'bash',
      [join(TOOL_DIR, script), ...args],
      { env, timeout: timeoutMs, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || stdout || '').trim().split('\n').slice(-15).join('\n');
          reject(new Error(`tools/elasticsearch/${script} failed: ${err.message.split('\n')[0]}\n${detail}`));
        } else resolve({ stdout, stderr });
      },
    );
  });

const answers = async (url: string): Promise<boolean> => {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.headers.get('x-elastic-product') === 'Elasticsearch';
  } catch {
    return false;
  }
};

const DATA_PREFIX = 'swlite-es-';

/**
 * Data dirs left behind by test processes that died without stop() (their node exits by itself via
 * SWLITE_ES_PARENT_PID, but nobody removes the dir): remove those whose node is gone.
 */
const removeStaleDataDirs = (): void => {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(DATA_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    try {
      const pid = Number(readFileSync(join(dir, 'es.pid'), 'utf8').trim());
      if (pid > 0) {
        try {
          process.kill(pid, 0);
          continue; // still running
        } catch {
          /* gone */
        }
      }
    } catch {
      // No PID file: starting right now, or never started. Leave young dirs alone.
      try {
        if (Date.now() - statSync(dir).mtimeMs < 3_600_000) continue;
      } catch {
        continue;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
};

export async function startTestElasticsearch(
  opts: { startTimeoutMs?: number; heap?: string; port?: number } = {},
): Promise<TestElasticsearch> {
  const external = process.env.SWLITE_ES_URL;
  if (external) {
    const url = external.replace(/\/+$/, '');
    if (!(await answers(url + '/'))) {
      throw new Error(`SWLITE_ES_URL=${external} does not answer as Elasticsearch`);
    }
    const refuse = async (): Promise<void> => {
      throw new Error('cannot pause or resume a reused Elasticsearch node (SWLITE_ES_URL)');
    };
    return { url, stop: async () => {}, startedInMs: 0, reused: true, pid: 0, pause: refuse, resume: refuse };
  }

  if (!onPath('java', ['-version'])) {
    throw new Error(
      'Elasticsearch test node unavailable: no java on PATH (needs a JDK 17+, e.g. openjdk-17-jdk-headless)',
    );
  }
  const built = existsSync(join(TOOL_DIR, 'target', '.build-stamp'));
  if (!built && !onPath('mvn', ['-v'])) {
    throw new Error(
      'Elasticsearch test node unavailable: no mvn on PATH to build tools/elasticsearch (needs Maven 3.6+)',
    );
  }

  const port = opts.port ?? (await freePort());
  removeStaleDataDirs();
  const data = mkdtempSync(join(tmpdir(), DATA_PREFIX));
  const env = {
    ...process.env,
    SWLITE_ES_PORT: String(port),
    SWLITE_ES_DATA: data,
    // The node exits by itself if this process dies without calling stop().
    SWLITE_ES_PARENT_PID: String(process.pid),
    ...(opts.heap ? { SWLITE_ES_HEAP: opts.heap } : {}),
  };
  const startTimeoutMs = opts.startTimeoutMs ?? 180_000;
  let out: { stdout: string };
  try {
    // Maven's first run (empty ~/.m2) takes ~15 s more: allow for it on top of the start timeout.
    out = await run('start.sh', ['--timeout', String(Math.ceil(startTimeoutMs / 1000))], env, startTimeoutMs + 300_000);
  } catch (err) {
    await run('stop.sh', [], env, 60_000).catch(() => {});
    rmSync(data, { recursive: true, force: true });
    throw err;
  }
  const m = /ES READY (\S+) pid=(\d+) started_in=([\d.]+) s/.exec(out.stdout);
  const url = m?.[1] ?? `http://127.0.0.1:${port}`;
  let pid = Number(m?.[2] ?? 0);
  const startedInMs = Math.round(Number(m?.[3] ?? 0) * 1000);

  // Last resort if the test process exits without stop(): SIGTERM the node synchronously.
  const onExit = (): void => {
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      try {
        await run('stop.sh', [], env, 60_000);
      } finally {
        rmSync(data, { recursive: true, force: true });
      }
    })());

  const pause = async (): Promise<void> => {
    await run('stop.sh', [], env, 60_000);
  };
  const resume = async (): Promise<void> => {
    const again = await run(
      'start.sh',
      ['--timeout', String(Math.ceil(startTimeoutMs / 1000))],
      env,
      startTimeoutMs + 60_000,
    );
    pid = Number(/pid=(\d+)/.exec(again.stdout)?.[1] ?? pid);
  };

  return {
    url,
    stop,
    startedInMs,
    reused: false,
    get pid() {
      return pid;
    },
    pause,
    resume,
  };
}

/**
 * For test files: a node, or the reason to skip when none can start here (no Java/Maven).
 * Under CI=true a node that cannot start fails the file instead.
 */
export async function startTestElasticsearchOrSkip(
  opts?: Parameters<typeof startTestElasticsearch>[0],
): Promise<{ es?: TestElasticsearch; skipReason: string }> {
  try {
    return { es: await startTestElasticsearch(opts), skipReason: '' };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { skipReason: (err as Error).message };
  }
}
