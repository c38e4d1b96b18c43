// The NETWORK target in the real kernel: a Node HTTP server in a child process is the task's
// process; this process sends it 20 keep-alive requests. One report must carry the server's
// rover_net_p_* meters: 20 HTTP/1 requests with status 200, an accepted connection, and read/write
// byte counters equal to what the kernel saw. The reporter is an in-memory recorder.
// Then nginx under wrk at full speed (keep-alive, tens of thousands of exchanges a second on two
// cores): no record may be lost and every exchange nginx logged must be metered.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { runWrk, startNginx, WRK_BINARY, NGINX_BINARY } from '@swlite/testkit';
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
  res.end('pong ' + req.url);
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

describe('NETWORK target', { skip: bpfTestSkip() }, () => {
  it('the kernel check passes here', () => assert.equal(networkRefusal(), null));

  it('reports the HTTP exchanges and layer-4 counters of a target server', async () => {
    const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const recorder = new NetworkRecorder();
    let run: NetworkRun | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          const m = /PORT (\d+)/.exec((out += d.toString()));
          if (m) resolve(Number(m[1]));
        });
        server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
      });
      const process = {
        pid: server.pid!,
        id: 'proc-1',
        service: 'svc',
        instance: 'inst',
        name: 'node',
        layer: 'GENERAL',
      };
      run = new NetworkRun(
        [server.pid!],
        { reporter: recorder, process: (pid) => (pid === server.pid ? process : undefined) },
        pino({ level: 'silent' }),
        {
          reportIntervalMs: 60_000,
          meterPrefix: 'rover_net_p',
        },
      );
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
      run?.stop();
      server.kill();
      if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    }
  });

  it('sampling rules that arrive mid-connection: metered exchanges switch to the parser at a request, none lost or counted twice', async () => {
    const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const recorder = new NetworkRecorder();
    let run: NetworkRun | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          const m = /PORT (\d+)/.exec((out += d.toString()));
          if (m) resolve(Number(m[1]));
        });
        server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
      });
      const proc = { pid: server.pid!, id: 'proc-1', service: 'svc', instance: 'inst', name: 'node', layer: 'GENERAL' };
      run = new NetworkRun(
        [server.pid!],
        { reporter: recorder, process: (pid) => (pid === server.pid ? proc : undefined) },
        pino({ level: 'silent' }),
        { reportIntervalMs: 60_000, meterPrefix: 'rover_net_p' },
      );
      // the OAP's command for a task without rules: the kernel meters from now on
      run.updateExtensionConfig('null');
      const b64 = (x: string) => Buffer.from(x).toString('base64');
      const sw8 = `1-${b64('switch-trace')}-${b64('switch-seg')}-0-${['svc', 'inst', '/e', 'peer:1'].map(b64).join('-')}`;
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
      run?.stop();
      server.kill();
      if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    }
  });

  const noLoadTools = [NGINX_BINARY, WRK_BINARY].filter((p) => !existsSync(p));
  it(
    'nginx under wrk at full speed, no sampling rule: metered in the kernel, no record lost, every exchange metered',
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
        // A task without sampling rules: from its first report on, the kernel meters HTTP/1 itself
        // and sends no data records (at 70k exchanges/s a starved reader of data records loses,
        // and says so in its lost counters).
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
      } finally {
        run?.stop();
        await nginx.stop();
      }
    },
  );
});
