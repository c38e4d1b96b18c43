/**
 * What the TLS probes of a NETWORK task cost nginx serving HTTPS (`npm run bench:network-tls -w
 * @swlite/rover`, root, ~1 minute; `--rounds N`, `--seconds S`). Debian's nginx (one process,
 * TLS with keep-alive, a fixed small body) is loaded by wrk (`-t1 -c8`, over libssl.so.3 too, so
 * the uprobes trap in wrk as well and are filtered out in the kernel). Rounds alternate: nginx
 * alone, then nginx under a NetworkRun (tracepoints + OpenSSL uprobes, reports every 2 s as
 * rover does). Printed per round: wrk's requests/s, and for the profiled rounds the requests the
 * run metered against those wrk completed, and the records lost.
 *
 * Measured on the shared 2-CPU VM (less loaded than usual), default options, with the 32 MiB ring
 * polled in batches:
 *   round 1: nginx alone 22491 req/s; profiled 6389 req/s (-71.6 %), metered 51328 of 51320 completed, lost 0
 *   round 2: nginx alone 19496 req/s; profiled 6407 req/s (-67.1 %), metered 51653 of 51646 completed, lost 0
 *   round 3: nginx alone 20005 req/s; profiled 5688 req/s (-71.6 %), metered 45630 of 45630 completed, lost 0
 * (metered can pass completed by the requests wrk had in flight when it stopped). The slowdown is
 * the uprobe/uretprobe traps of every SSL call, in nginx and in wrk (both on libssl.so.3), and the
 * run's own consumer sharing the two CPUs; about four records per HTTPS request (SSL_read,
 * SSL_write, and the syscalls, timed without bytes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { freePort, makeTestCertificates } from '@swlite/testkit';
import { NetworkRun } from '../src/profiling/targets/network/index';
import { NetworkRecorder } from '../src/testing/network-recorder';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('--rounds', 3);
const SECONDS = arg('--seconds', 8);

const certs = makeTestCertificates();
const dir = mkdtempSync(join(tmpdir(), 'swlite-bench-tls-'));
for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
  mkdirSync(join(dir, 'tmp', t), { recursive: true });
const port = await freePort();
writeFileSync(
  join(dir, 'nginx.conf'),
  `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, 'tmp', t)};`).join('\n')}
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.serverPem};
    ssl_certificate_key ${certs.serverKey};
    location / { default_type text/plain; return 200 "hello over tls\\n"; }
  }
}
`,
);
const nginx: ChildProcess = spawn('/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });

const listening = async (): Promise<void> => {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx does not listen on ${port}`);
};

/** wrk's requests/s and completed requests. */
const wrk = async (): Promise<{ rps: number; requests: number }> => {
  const child = spawn('wrk', ['-t1', '-c8', `-d${SECONDS}s`, `https://127.0.0.1:${port}/`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'exit');
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !total) throw new Error(`wrk printed no figures: ${out}`);
  return { rps: Number(rps[1]), requests: Number(total[1]) };
};

try {
  await listening();
  await wrk(); // warm-up: sessions, caches
  for (let round = 1; round <= ROUNDS; round++) {
    const alone = await wrk();
    const recorder = new NetworkRecorder();
    const proc = { pid: nginx.pid!, id: 'nginx', service: 'bench', instance: 'bench', name: 'nginx', layer: 'GENERAL' };
    const run = new NetworkRun(
      [nginx.pid!],
      { reporter: recorder, process: (p) => (p === nginx.pid ? proc : undefined) },
      pino({ level: 'silent' }),
      { reportIntervalMs: 2_000, meterPrefix: 'rover_net_p' },
    );
    let profiled: { rps: number; requests: number };
    let lost = 0;
    try {
      profiled = await wrk();
      await new Promise((r) => setTimeout(r, 300));
      await run.report();
      lost = run.drain().lost;
    } finally {
      run.stop();
      await run.settled();
    }
    const metered = recorder.sum('rover_net_p_http1_request_counter', { side: 'server' });
    console.log(
      `round ${round}: nginx alone ${alone.rps.toFixed(0)} req/s; profiled ${profiled.rps.toFixed(0)} req/s ` +
        `(${((profiled.rps / alone.rps - 1) * 100).toFixed(1)} %), metered ${metered} of ${profiled.requests} completed, lost ${lost}`,
    );
  }
} finally {
  nginx.kill();
  if (nginx.exitCode === null && nginx.signalCode === null) await once(nginx, 'exit');
  rmSync(dir, { recursive: true, force: true });
  certs.remove();
}
