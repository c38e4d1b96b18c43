/**
 * The two Node processes of the network scenario, each a child with an IPC channel so the test
 * reads what the process itself counted without sending it traffic that rover would see:
 *
 * - the backend (`/ok` after a short wait, `/slow` after 1.5 s, `/err` 500, anything else 404)
 *   counts per minute the requests it answered, per status code, and its own handling time;
 * - the client sends HTTP/1.1 over keep-alive connections, open loop at a fixed interval (so each
 *   report interval of rover holds about as many requests, and a mean of rover's 2 s means is
 *   comparable with the mean over requests), with an `sw8` header when told to; it measures each
 *   request's latency (from the moment a socket takes it to the end of the response) and counts
 *   the bytes its sockets wrote and read.
 *
 * Each runs from a script file under a name rover's finder matches (`swlite-nete2e-<role>` as an
 * argument), so the test can group them into one service instance.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** How long `/ok` waits: long enough that a process's overhead around it stays a small share. */
export const OK_DELAY_MS = 20;
export const SLOW_DELAY_MS = 1500;

export interface MinuteCounts {
  count: number;
  byCode: Record<string, number>;
  /** Sum of the process's own per-request times (ms). */
  durationSumMs: number;
}

/** Per epoch minute (ms of its start). */
export type ByMinute = Record<string, MinuteCounts>;

const BACKEND = `
const http = require('http');
const byMinute = {};
const samples = [];
const count = (code, ms) => {
  samples.push([Date.now(), ms]);
  const minute = String(Math.floor(Date.now() / 60000) * 60000);
  const m = (byMinute[minute] ??= { count: 0, byCode: {}, durationSumMs: 0 });
  m.count++;
  m.byCode[code] = (m.byCode[code] ?? 0) + 1;
  m.durationSumMs += ms;
};
const server = http.createServer((req, res) => {
  const t0 = process.hrtime.bigint();
  res.on('finish', () => count(String(res.statusCode), Number(process.hrtime.bigint() - t0) / 1e6));
  const answer = (code, body) => {
    res.statusCode = code;
    res.setHeader('content-type', 'text/plain');
    res.end(body);
  };
  const path = req.url.split('?')[0];
  req.resume();
  if (path === '/ok') setTimeout(() => answer(200, 'ok from the backend\\n'), ${OK_DELAY_MS});
  else if (path === '/slow') setTimeout(() => answer(200, 'slow answer\\n'), ${SLOW_DELAY_MS});
  else if (path === '/err') answer(500, 'boom');
  else answer(404, 'no such page');
});
server.keepAliveTimeout = 120000;
server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
process.on('message', (m) => {
  if (m.type === 'stats') process.send({ type: 'stats', byMinute, samples });
});
process.on('disconnect', () => process.exit(0));
`;

/** One request the client made alone (not in a run). */
export interface SingleResult {
  path: string;
  status: number;
  latencyMs: number;
  traceId: string | null;
}

/** [end of the request (epoch ms), its time in the process (ms)]. */
export type Sample = [number, number];

/** Requests of a run the client itself measured as slow: [trace id, latency ms]. */
export const SLOW_RUN_MS = 500;

export interface RunResult {
  byMinute: ByMinute;
  samples: Sample[];
  /** Traced requests that took SLOW_RUN_MS or longer (a stalled machine): rover may sample them. */
  slowTraced: Array<[string, number]>;
  requests: number;
  bytesWritten: number;
  bytesRead: number;
  connections: number;
  errors: number;
}

const CLIENT = `
const http = require('http');
const https = require('https');
const b64 = (s) => Buffer.from(s).toString('base64');
let traceSeq = 0;
const sw8 = (path, port) => {
  const traceId = 'nete2e.' + process.pid + '.' + Date.now() + '.' + ++traceSeq;
  const header = ['1', b64(traceId), b64(traceId + '.seg'), '0', b64('nete2e-client'), b64('client-1'), b64(path), b64('127.0.0.1:' + port)].join('-');
  return { traceId, header };
};
// nginx's access log tells the clients apart by it: nete2e-node-<role>
const userAgent = 'nete2e-node-' + process.argv[2].replace('swlite-nete2e-', '');
const request = (agent, m, path, traced) =>
  new Promise((resolve) => {
    const headers = { 'user-agent': userAgent };
    const trace = traced ? sw8(path, m.port) : null;
    if (trace) headers.sw8 = trace.header;
    const lib = m.tls ? https : http;
    let t0 = process.hrtime.bigint();
    const req = lib.request({ host: '127.0.0.1', port: m.port, path, agent, headers, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ path, status: res.statusCode, latencyMs: Number(process.hrtime.bigint() - t0) / 1e6, traceId: trace && trace.traceId, socket: req.socket }));
    });
    // from the moment a socket takes it: time queued in the agent is the client's, not the network's;
    // on a new TLS socket from the end of the handshake (the HTTP exchange starts then)
    req.once('socket', (s) => {
      t0 = process.hrtime.bigint();
      if (m.tls && s.connecting) s.once('secureConnect', () => (t0 = process.hrtime.bigint()));
    });
    req.on('error', (err) => resolve({ path, status: 0, latencyMs: 0, traceId: null, error: err.message }));
    req.end();
  });
const run = async (m) => {
  const lib = m.tls ? https : http;
  const agent = new lib.Agent({ keepAlive: true, maxSockets: m.connections });
  const sockets = new Set();
  const byMinute = {};
  let requests = 0, errors = 0;
  const samples = [];
  const slowTraced = [];
  const pending = [];
  const start = Date.now();
  for (let i = 0; ; i++) {
    const due = start + i * m.intervalMs;
    if (due >= start + m.seconds * 1000) break;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(request(agent, m, m.path, m.traced).then((r) => {
      if (r.status === 0) { errors++; return; }
      sockets.add(r.socket);
      requests++;
      samples.push([Date.now(), r.latencyMs]);
      if (r.traceId && r.latencyMs >= ${SLOW_RUN_MS}) slowTraced.push([r.traceId, r.latencyMs]);
      const minute = String(Math.floor(Date.now() / 60000) * 60000);
      const c = (byMinute[minute] ??= { count: 0, byCode: {}, durationSumMs: 0 });
      c.count++;
      c.byCode[r.status] = (c.byCode[r.status] ?? 0) + 1;
      c.durationSumMs += r.latencyMs;
    }));
  }
  await Promise.all(pending);
  let bytesWritten = 0, bytesRead = 0;
  for (const s of sockets) { bytesWritten += s.bytesWritten; bytesRead += s.bytesRead; }
  agent.destroy();
  return { byMinute, samples, slowTraced, requests, bytesWritten, bytesRead, connections: sockets.size, errors };
};
const single = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
process.on('message', async (m) => {
  if (m.type === 'run') process.send({ type: 'run', result: await run(m) });
  if (m.type === 'one') {
    const r = await request(m.tls ? single.https : single.http, m, m.path, m.traced);
    delete r.socket;
    process.send({ type: 'one', result: r });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
`;

interface Child {
  child: ChildProcess;
  stop: () => Promise<void>;
}

const startChild = async (
  dir: string,
  role: string,
  script: string,
): Promise<Child & { ready: Record<string, unknown> }> => {
  const file = join(dir, `${role}.cjs`);
  writeFileSync(file, script);
  // the argument is what rover's finder matches: `swlite-nete2e-<role>`
  const child = fork(file, [`swlite-nete2e-${role}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${role} exited ${String(code)} before it was ready`);
    }),
  ])) as [Record<string, unknown>];
  return {
    child,
    ready,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
};

/** The next message of `type` from the child. */
const ask = <T>(child: ChildProcess, message: Record<string, unknown>, type: string): Promise<T> =>
  new Promise((resolve, reject) => {
    const onMessage = (m: { type: string } & Record<string, unknown>) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve((m.result ?? m) as T);
    };
    const onExit = (code: number | null) => reject(new Error(`child exited ${String(code)} while asked for ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });

export interface Backend extends Child {
  port: number;
  stats: () => Promise<{ byMinute: ByMinute; samples: Sample[] }>;
}

export const startBackend = async (dir: string): Promise<Backend> => {
  const c = await startChild(dir, 'backend', BACKEND);
  return {
    ...c,
    port: Number(c.ready.port),
    stats: () => ask<{ byMinute: ByMinute; samples: Sample[] }>(c.child, { type: 'stats' }, 'stats'),
  };
};

export interface RunOptions {
  path: string;
  seconds: number;
  intervalMs: number;
  connections: number;
  traced: boolean;
}

export interface Client extends Child {
  run: (o: RunOptions) => Promise<RunResult>;
  one: (path: string, traced: boolean) => Promise<SingleResult>;
}

/**
 * A client of the proxy at `port` (`tls` when that listener is TLS), under its role's name: the
 * process name rover's finder gives it, and its user agent `nete2e-node-<role>`.
 */
export const startClient = async (dir: string, port: number, tls = false, role = 'client'): Promise<Client> => {
  const c = await startChild(dir, role, CLIENT);
  return {
    ...c,
    run: (o) => ask<RunResult>(c.child, { type: 'run', port, tls, ...o }, 'run'),
    one: (path, traced) => ask<SingleResult>(c.child, { type: 'one', port, tls, path, traced }, 'one'),
  };
};

/**
 * What rover's `*_duration` metrics are: per minute, the mean of the means of each report
 * interval (`ends`: the reports' times). The process's own samples, grouped by the same intervals,
 * give the same statistic; a plain mean differs when intervals hold unequal numbers of requests.
 */
export const meanOfIntervalMeans = (samples: readonly Sample[], ends: readonly number[], minute: number): number => {
  const means: number[] = [];
  for (let i = 1; i < ends.length; i++) {
    const end = ends[i]!;
    if (Math.floor(end / 60_000) * 60_000 !== minute) continue;
    const inside = samples.filter(([t]) => t > ends[i - 1]! && t <= end);
    if (inside.length > 0) means.push(inside.reduce((s, [, v]) => s + v, 0) / inside.length);
  }
  return means.length === 0 ? NaN : means.reduce((s, v) => s + v, 0) / means.length;
};

/** The counts of the minutes in `minutes` (or all), added up. */
export const sumMinutes = (byMinute: ByMinute, minutes?: ReadonlySet<number>): MinuteCounts => {
  const total: MinuteCounts = { count: 0, byCode: {}, durationSumMs: 0 };
  for (const [minute, m] of Object.entries(byMinute)) {
    if (minutes && !minutes.has(Number(minute))) continue;
    total.count += m.count;
    total.durationSumMs += m.durationSumMs;
    for (const [code, n] of Object.entries(m.byCode)) total.byCode[code] = (total.byCode[code] ?? 0) + n;
  }
  return total;
};
