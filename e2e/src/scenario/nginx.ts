/**
 * Debian's nginx in the two roles of the seed's mesh: an upstream app serving a small static
 * response, and a sidecar proxy in front of it whose access log is the variable under test.
 * Each runs in the foreground from its own config in a temp directory, on 127.0.0.1 ports
 * (never the system service). `master_process off` keeps each server one process whose command
 * line keeps the config path, so rover's regex finder can tell the two apart and name them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';

export const NGINX = '/usr/sbin/nginx';

/** What the proxy does with its access log. */
export type AccessLog = 'off' | 'minimal' | 'verbose';

/** A short format: what a lean mesh config keeps. */
export const MINIMAL_FORMAT = '$status $request_time';

/**
 * A long format in the spirit of Envoy's default access log (every request and upstream field,
 * a handful of request headers, times, ids). Each `$http_*` is a header search, each time a
 * formatted number: the formatting work the seed saw in Envoy.
 */
export const VERBOSE_FORMAT = [
  '[$time_iso8601] "$request_method $request_uri $server_protocol" $status $upstream_status',
  '$request_length $bytes_sent $body_bytes_sent $request_time $upstream_response_time',
  '$upstream_connect_time $upstream_header_time $upstream_bytes_received $upstream_bytes_sent',
  '"$http_x_forwarded_for" "$http_user_agent" "$http_x_request_id" "$http_x_b3_traceid"',
  '"$http_x_b3_spanid" "$http_x_b3_sampled" "$http_traceparent" "$http_referer" "$host"',
  '"$upstream_addr" $server_addr:$server_port $remote_addr:$remote_port $connection',
  '$connection_requests $msec $pid $request_id $sent_http_content_type $sent_http_content_length',
  '$upstream_http_content_type $upstream_http_content_length $time_local',
].join(' ');

/** The request headers a mesh would carry, so the verbose format has values to copy. */
export const MESH_HEADERS: Record<string, string> = {
  'User-Agent': 'wrk (swlite scenario)',
  'X-Request-Id': '5f0c1a2e-9b7d-4c3e-8a61-2f4d9e7b1c05',
  'X-B3-TraceId': '80f198ee56343ba864fe8b2a57d3eff7',
  'X-B3-SpanId': 'e457b5a2e4d86bd1',
  'X-B3-Sampled': '1',
  traceparent: '00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01',
  'X-Forwarded-For': '10.244.1.17',
};

const common = (dir: string, name: string) => `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 2048; }
`;

const temps = (dir: string) =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${join(dir, 'tmp', t)};`)
    .join('\n');

/** The app behind the proxy: a fixed small body, no log. */
export const upstreamConfig = (dir: string, port: number): string => `${common(dir, 'upstream-app')}
http {
  access_log off;
${temps(dir)}
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / {
      default_type text/plain;
      return 200 "hello from the app behind the sidecar\\n";
    }
  }
}
`;

/**
 * The sidecar proxy: keep-alive to the app, access log per the variant, written to `logPath`
 * (`/dev/stdout` is what Istio's demo profile sets for Envoy: a pipe the container runtime reads).
 */
export const proxyConfig = (
  dir: string,
  port: number,
  upstreamPort: number,
  log: AccessLog,
  logPath: string,
): string => {
  const logLines =
    log === 'off'
      ? '  access_log off;'
      : `  log_format mesh '${log === 'verbose' ? VERBOSE_FORMAT : MINIMAL_FORMAT}';\n  access_log ${logPath} mesh;`;
  return `${common(dir, 'sidecar-proxy')}
http {
${logLines}
${temps(dir)}
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`;
};

export interface NginxServer {
  child: ChildProcess;
  pid: number;
  port: number;
  confPath: string;
  stop: () => Promise<void>;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** Starts nginx in the foreground on `confPath` (written from `config`), waits until it listens. */
export const startNginx = async (
  dir: string,
  confName: string,
  config: string,
  port: number,
  /** Where nginx's stdout goes: a FIFO copied into this file by a reader, as a container runtime does. */
  stdoutFile?: string,
): Promise<NginxServer> => {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const confPath = join(dir, confName);
  writeFileSync(confPath, config);
  // A container's stdout is a FIFO that the runtime (containerd-shim) reads; here `cat` reads it.
  // (Node's own 'pipe' stdio is a socketpair, which open("/dev/stdout") refuses.)
  let reader: ChildProcess | undefined;
  let stdout: number | 'ignore' = 'ignore';
  if (stdoutFile) {
    const fifo = join(dir, 'stdout.fifo');
    execFileSync('mkfifo', [fifo]);
    stdout = openSync(fifo, constants.O_RDWR); // never blocks, unlike O_WRONLY without a reader
    reader = spawn('sh', ['-c', 'exec cat "$0" > "$1"', fifo, stdoutFile], { stdio: 'ignore' });
  }
  const child = spawn(NGINX, ['-p', `${dir}/`, '-e', join(dir, 'startup.error.log'), '-c', confPath], {
    stdio: ['ignore', stdout, 'pipe'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  child.once('exit', () => reader?.kill());
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = existsSync(join(dir, 'startup.error.log'))
        ? readFileSync(join(dir, 'startup.error.log'), 'utf8')
        : '';
      throw new Error(`nginx (${confName}) did not start: ${err}${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    pid: child.pid!,
    port,
    confPath,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGQUIT'); // graceful
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
};

/** utime + stime of a process in clock ticks (USER_HZ = 100 on Linux). */
export const cpuTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

/** Voluntary and involuntary context switches of a process's threads, from /proc/PID/status. */
export const contextSwitches = (pid: number): { voluntary: number; involuntary: number } => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
};
