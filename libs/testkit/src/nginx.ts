/**
 * Debian's nginx (nginx-light) as a load target, and wrk against it, for tests and benches that
 * need a real HTTP/1.1 keep-alive server at tens of thousands of exchanges per second. nginx runs
 * in the foreground from a copy of its binary in a temp directory (so an agent can pick exactly
 * its processes by executable path), on a 127.0.0.1 port; its access log, buffered, counts the
 * exchanges it served.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './processes';

export const NGINX_BINARY = '/usr/sbin/nginx';
export const WRK_BINARY = '/usr/bin/wrk';

/** The fixed body nginx answers with. */
export const NGINX_BODY = 'swlite nginx\n';

export interface NginxServer {
  /** The master's pid; `pids()` adds the workers. */
  pid: number;
  port: number;
  /** The copied binary's path (what a finder matches). */
  exe: string;
  pids: () => number[];
  /** Exchanges logged so far (the log is flushed every second and at exit). */
  served: () => number;
  /** Graceful stop (SIGQUIT), SIGKILL after 5 s; removes the directory. */
  stop: () => Promise<void>;
}

const childrenOf = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

const config = (dir: string, port: number, workers: number) => `
daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format count '$status';
  access_log ${dir}/access.log count buffer=64k flush=1s;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "${NGINX_BODY.replace('\n', '\\n')}"; }
  }
}
`;

/** Starts nginx (master and `workers` workers) answering NGINX_BODY on a free port. */
export const startNginx = async (opts: { workers?: number; name?: string } = {}): Promise<NginxServer> => {
  const workers = opts.workers ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'swlite-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const exe = join(dir, opts.name ?? 'swlite-nginx');
  copyFileSync(NGINX_BINARY, exe);
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), config(dir, port, workers));
  const child = spawn(exe, ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], {
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  const listening = () =>
    new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
  try {
    await waitFor('nginx listening', async () => child.exitCode === null && (await listening()), 10_000);
    await waitFor('nginx workers', () => childrenOf(child.pid!).length === workers, 10_000);
  } catch (e) {
    child.kill('SIGKILL');
    const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n${log}`);
  }
  const log = join(dir, 'access.log');
  return {
    pid: child.pid!,
    port,
    exe,
    pids: () => [child.pid!, ...childrenOf(child.pid!)],
    served: () => (existsSync(log) ? readFileSync(log, 'latin1').split('\n').length - 1 : 0),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

export interface WrkRun {
  /** Responses wrk completed. */
  requests: number;
  seconds: number;
  output: string;
}

/**
 * wrk (Debian's: no rate limit) on loopback, keep-alive, for `seconds`; killed 15 s past that.
 * `headers` ("Name: value") go with every request.
 */
export const runWrk = (
  port: number,
  seconds: number,
  connections = 16,
  threads = 1,
  headers: readonly string[] = [],
): Promise<WrkRun> =>
  new Promise((resolve, reject) => {
    const args = [
      `-t${threads}`,
      `-c${connections}`,
      `-d${seconds}s`,
      '--timeout',
      '5s',
      ...headers.flatMap((h) => ['-H', h]),
      `http://127.0.0.1:${port}/`,
    ];
    const child = spawn(WRK_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // wrk prints its run time as 812.34ms, 30.01s, 1.20m or 1.00h.
      const m = /(\d+) requests in ([\d.]+)(ms|s|m|h)\b/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`wrk exited ${code}:\n${out}`));
      const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[3] as 'ms' | 's' | 'm' | 'h'];
      resolve({ requests: Number(m[1]), seconds: Number(m[2]) * unit, output: out });
    });
  });
