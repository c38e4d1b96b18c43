// The NETWORK target in the real kernel: a Node HTTP server in a child process is the task's
// process; this process sends it 20 keep-alive requests. One report must carry the server's
// rover_net_p_* meters: 20 HTTP/1 requests with status 200, an accepted connection, and read/write
// byte counters equal to what the kernel saw. The reporter is an in-memory recorder.
// With a sampling rule, only requests carrying a trace header reach the parser (and the sampler):
// the others, on the same keep-alive connection, are metered in the kernel; each is counted once.
// Then nginx under wrk at full speed (keep-alive, tens of thousands of exchanges a second on two
// cores), without a rule and with one (wrk sends no trace header): no record may be lost and every
// exchange nginx logged must be metered.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, get as httpGet } from 'node:http';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { runContinuousWorkload, runWrk, startNginx, WRK_BINARY, NGINX_BINARY } from '@swlite/testkit';
import { existsSync } from 'node:fs';
import { NetworkRun, networkRefusal } from './index';
import {
  meterLabel as label,
  meterName as nameOf,
  meterValue as valueOf,
  NetworkRecorder,
} from '../../../testing/network-recorder';

const SERVER = `
const http = require('http');
const s = http.createServer((req, res) => {
  if (req.url.startsWith('/err')) res.statusCode = 500;
  if (req.url.startsWith('/slow')) setTimeout(() => res.end('slow ' + req.url), 300);
  else res.end('pong ' + req.url);
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

const b64 = (x: string) => Buffer.from(x).toString('base64');
const sw8Of = (trace: string) =>
  `1-${b64(trace)}-${b64(`${trace}-seg`)}-0-${['svc', 'inst', '/e', 'peer:1'].map(b64).join('-')}`;

/** The test server in a child process, and a NETWORK run on it reporting to `recorder`. */
const startServer = async (recorder: NetworkRecorder) => {
  const server = runContinuousWorkload(process.execPath, ['-e', SERVER]);
  const port = await server.port();
  const proc = { pid: server.pid, id: 'proc-1', service: 'svc', instance: 'inst', name: 'node', layer: 'GENERAL' };
  const run = new NetworkRun(
    [server.pid],
    { reporter: recorder, process: (pid) => (pid === server.pid ? proc : undefined) },
    pino({ level: 'silent' }),
    { reportIntervalMs: 60_000, meterPrefix: 'rover_net_p' },
  );
  return { server, port, run };
};

describe('NETWORK target', { skip: bpfTestSkip() }, () => {
  it('the kernel check passes here', () => assert.equal(networkRefusal(), null));

  it('reports the HTTP exchanges and layer-4 counters of a target server', async () => {
    const recorder = new NetworkRecorder();
    const { server, port, run } = await startServer(recorder);
    try {
      let body = 0;
      for (let i = 0; i < 20; i++) body += (await (await fetch(`http://127.0.0.1:${port}/r/${i}`)).text()).length;
      assert.ok(body > 0);
      await new Promise((r) => setTimeout(r, 100));
      await run.report();
      const drain = run.drain();

      const meters = recorder.collections.flatMap((c) => c.meterData ?? []);
      assert.ok(meters.length > 0, 'meters sent');
      assert.equal(meters[0]!.service, 'svc');
      assert.equal(meters[0]!.serviceInstance, 'inst');
      const one = (name: string, extra?: [string, string]) => {
        const found = meters.filter((m) => nameOf(m) === name && (!extra || label(m, extra[0]) === extra[1]));
        assert.equal(found.length, 1, `${name}: ${meters.map(nameOf).join(', ')}`);
        return found[0]!;
      };
      assert.equal(valueOf(one('rover_net_p_http1_request_counter', ['side', 'server'])), 20);
      assert.equal(valueOf(one('rover_net_p_http1_response_status_counter', ['code', '200'])), 20);
      assert.equal(label(one('rover_net_p_http1_request_counter'), 'server_process_id'), 'proc-1');
      assert.ok(valueOf(one('rover_net_p_server_read_counts_counter')) >= 20);
      assert.ok(valueOf(one('rover_net_p_server_write_counts_counter')) >= 20);
      assert.ok(valueOf(one('rover_net_p_server_write_bytes_counter')) > body);
      assert.ok(drain.samples > 0);
      assert.equal(drain.lost, 0);
      assert.equal(drain.payloads.size, 0);
    } finally {
      run.stop();
      await server.stop();
    }
  });

  it('sampling rules that arrive mid-connection: metered exchanges switch to the parser at a request, none lost or counted twice', async () => {
    const recorder = new NetworkRecorder();
    const { server, port, run } = await startServer(recorder);
    try {
      // the OAP's command for a task without rules: the kernel meters from now on
      run.updateExtensionConfig('null');
      const sw8 = sw8Of('switch-trace');
      // one keep-alive connection throughout (fetch's pool keeps it)
      const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { sw8 } })).text();
      for (let i = 0; i < 10; i++) await get(i === 4 ? '/err/early' : `/k/${i}`);
      await new Promise((r) => setTimeout(r, 100));
      await run.report();
      run.updateExtensionConfig(JSON.stringify({ NetworkSamplings: [{ When5xx: true, When4xx: false }] }));
      for (let i = 0; i < 10; i++) await get(i === 6 ? '/err/late' : `/p/${i}`);
      await new Promise((r) => setTimeout(r, 100));
      await run.report();
      const meters = recorder.collections.flatMap((c) => c.meterData ?? []);
      const sum = (name: string, extra?: [string, string]) =>
        meters
          .filter((m) => nameOf(m) === name && (!extra || label(m, extra[0]) === extra[1]))
          .reduce((n, m) => n + valueOf(m), 0);
      assert.equal(sum('rover_net_p_http1_request_counter', ['side', 'server']), 20);
      assert.equal(sum('rover_net_p_http1_response_status_counter', ['code', '200']), 18);
      assert.equal(sum('rover_net_p_http1_response_status_counter', ['code', '500']), 2);
      // before the rules nothing is sampled; after them the 5xx is, with its URI
      const sampled = JSON.stringify(recorder.logList);
      assert.ok(sampled.includes('/err/late'), `sampled: ${sampled.slice(0, 500)}`);
      assert.ok(!sampled.includes('/err/early'));
    } finally {
      run.stop();
      await server.stop();
    }
  });

  it('with a sampling rule: untraced requests metered in the kernel without data records, traced 5xx and slow ones sampled, a mix on one connection counted once', async () => {
    const recorder = new NetworkRecorder();
    const { server, port, run } = await startServer(recorder);
    try {
      run.updateExtensionConfig(
        JSON.stringify({ NetworkSamplings: [{ When5xx: true, When4xx: true, MinDuration: 200 }] }),
      );
      run.drain();
      // one keep-alive connection throughout
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const get = (path: string, traced: boolean) =>
        new Promise<string>((resolve, reject) => {
          const headers = traced ? { sw8: sw8Of(path) } : {};
          httpGet({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(body));
          }).once('error', reject);
        });
      const untraced = 40;
      for (let i = 0; i < untraced; i++) await get(i % 10 === 9 ? `/err/plain-${i}` : `/k/${i}`, false);
      await new Promise((r) => setTimeout(r, 100));
      await run.report();
      // the connection's open record, and no data record
      assert.equal(run.drain().samples, 1, 'records of untraced requests');
      const plan: Array<[string, boolean]> = [];
      for (let i = 0; i < 30; i++) {
        if (i % 3 === 0) plan.push([`/err/traced-${i}`, true]);
        else plan.push([i % 3 === 1 ? `/err/untraced-${i}` : `/k/mix-${i}`, false]);
        if (i % 10 === 5) plan.push([`/slow/traced-${i}`, true]);
        if (i % 10 === 7) plan.push([`/ok/traced-${i}`, true]);
      }
      for (const [path, traced] of plan) await get(path, traced);
      await new Promise((r) => setTimeout(r, 100));
      await run.report();
      assert.ok(run.drain().samples >= 2 * plan.filter(([, t]) => t).length, 'records of the traced exchanges');

      const sum = (name: string, extra?: [string, string]) =>
        recorder
          .all()
          .filter((m) => nameOf(m) === name && (!extra || label(m, extra[0]) === extra[1]))
          .reduce((n, m) => n + valueOf(m), 0);
      const errors = (list: Array<[string, boolean]>) => list.filter(([p]) => p.startsWith('/err')).length;
      const all = untraced + plan.length;
      assert.equal(sum('rover_net_p_http1_request_counter', ['side', 'server']), all);
      assert.equal(sum('rover_net_p_http1_response_status_counter', ['code', '500']), 4 + errors(plan));
      assert.equal(sum('rover_net_p_http1_response_status_counter', ['code', '200']), all - 4 - errors(plan));
      // the sampler saw the traced exchanges only: their 5xx and slow ones are sampled
      const sampled = JSON.stringify(recorder.logList);
      for (const [path, traced] of plan) {
        const want = traced && (path.startsWith('/err') || path.startsWith('/slow'));
        assert.equal(sampled.includes(path), want, `${path} sampled: ${sampled.slice(0, 300)}`);
      }
      assert.ok(!sampled.includes('/err/plain'));
      agent.destroy();
    } finally {
      run.stop();
      await server.stop();
    }
  });

  const noLoadTools = [NGINX_BINARY, WRK_BINARY].filter((p) => !existsSync(p));
  for (const rule of [false, true]) {
    it(
      `nginx under wrk at full speed, ${rule ? 'a sampling rule' : 'no sampling rule'}: metered in the kernel, no record lost, every exchange metered`,
      { skip: noLoadTools.length && process.env.CI !== 'true' ? `not installed: ${noLoadTools.join(', ')}` : false },
      async () => {
        const nginx = await startNginx({ workers: 2 });
        const recorder = new NetworkRecorder();
        let run: NetworkRun | undefined;
        try {
          const pids = nginx.pids();
          const proc = (pid: number) => ({
            pid,
            id: `proc-${pid}`,
            service: 'svc',
            instance: 'inst',
            name: 'nginx',
            layer: 'GENERAL',
          });
          run = new NetworkRun(
            pids,
            { reporter: recorder, process: (pid) => (pids.includes(pid) ? proc(pid) : undefined) },
            pino({ level: 'silent' }),
            {
              reportIntervalMs: 2_000,
              meterPrefix: 'rover_net_p',
            },
          );
          // Without sampling rules the kernel meters HTTP/1 itself from the first report on; with
          // one it still does for requests without a trace header (wrk's): no data records either
          // way (at 70k exchanges/s a starved reader of data records loses, and says so in its lost
          // counters).
          if (rule) run.updateExtensionConfig(JSON.stringify({ NetworkSamplings: [{ When5xx: true, When4xx: true }] }));
          await run.report();
          const cpu0 = process.cpuUsage();
          const wrk = await runWrk(nginx.port, 3);
          // nginx flushes its access log every second.
          let served = -1;
          for (let i = 0; i < 20 && served !== nginx.served(); i++) {
            served = nginx.served();
            await new Promise((r) => setTimeout(r, 1_200));
          }
          await run.report();
          const cpu = process.cpuUsage(cpu0);
          const drain = run.drain();
          const metered = recorder.collections
            .flatMap((c) => c.meterData ?? [])
            .filter((m) => nameOf(m) === 'rover_net_p_http1_request_counter' && label(m, 'side') === 'server')
            .reduce((sum, m) => sum + valueOf(m), 0);
          console.log(
            `nginx under wrk: ${wrk.requests} responses in ${wrk.seconds} s (${(wrk.requests / wrk.seconds).toFixed(0)}/s), ` +
              `${served} logged, ${metered} metered, lost ${drain.lost} ${JSON.stringify(drain.lostDetail)}, ` +
              `this process's CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`,
          );
          assert.ok(wrk.requests > 1_000, `wrk got only ${wrk.requests} responses`);
          assert.equal(drain.lost, 0, 'records lost');
          assert.ok(served >= wrk.requests, `nginx logged ${served}, wrk got ${wrk.requests}`);
          assert.equal(metered, served);
          // open and close records of wrk's connections only
          assert.ok(drain.samples < 100, `${drain.samples} records`);
        } finally {
          run?.stop();
          await nginx.stop();
        }
      },
    );
  }
});
