// HTTP observation in the real kernel: a Node HTTP server in a child process answers 200 on /ok,
// 500 on /fail and 200 after 80 ms on /slow; the observer must see every exchange with the right
// URI (query string cut), status and a duration that covers the server's delay. Requests from this
// process (not a target) and a non-target server are not reported.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { HttpExchangeAssembler, HttpObserver, parseRequestLine, parseStatusLine, type HttpExchange } from './http-observer.js';
import { ensureBpfBuilt } from './testing/workloads.js';

const SERVER = `
const http = require('http');
const s = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/fail') { res.statusCode = 500; res.end('no'); return; }
  if (path === '/slow') { setTimeout(() => res.end('slow'), 80); return; }
  res.end('ok');
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

const startServer = async (): Promise<{ child: ChildProcess; port: number }> => {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return { child, port };
};

describe('HTTP line parsing', () => {
  it('request lines', () => {
    assert.deepEqual(parseRequestLine('GET /a/b?x=1 HTTP/1.1\r\n'), { method: 'GET', uri: '/a/b' });
    assert.deepEqual(parseRequestLine('POST /pay HTTP/1.0\r\n'), { method: 'POST', uri: '/pay' });
    assert.equal(parseRequestLine('HELLO / HTTP/1.1'), null);
    assert.equal(parseRequestLine('GET  HTTP/1.1'), null);
  });
  it('status lines', () => {
    assert.equal(parseStatusLine('HTTP/1.1 500 Internal Server Error\r\n'), 500);
    assert.equal(parseStatusLine('HTTP/1.0 204\r\n'), 204);
    assert.equal(parseStatusLine('HTTP/2 200'), null);
  });
  it('pairs a request with the next response on the same socket only', () => {
    const got: HttpExchange[] = [];
    const a = new HttpExchangeAssembler((e) => got.push(e), () => 0);
    const rec = (fd: number, ts: number, text: string) => ({
      tsNs: BigInt(ts) * 1_000_000n,
      tgid: 7,
      tid: 7,
      fd,
      size: text.length,
      direction: 'read' as const,
      data: Buffer.from(text),
    });
    a.accept(rec(3, 10, 'GET /x HTTP/1.1\r\n'));
    a.accept(rec(4, 11, 'HTTP/1.1 200 OK\r\n')); // other socket: unpaired
    a.accept(rec(3, 25, 'HTTP/1.1 503 Busy\r\n'));
    a.accept(rec(3, 30, 'HTTP/1.1 200 OK\r\n')); // no request left: unpaired
    assert.equal(got.length, 1);
    assert.equal(got[0]!.uri, '/x');
    assert.equal(got[0]!.status, 503);
    assert.equal(got[0]!.durationMs, 15);
    assert.equal(a.unpaired, 2);
  });
});

describe('HttpObserver', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it('sees the exchanges of a target server with URI, status and duration', async () => {
    const target = await startServer();
    const other = await startServer();
    const seen: HttpExchange[] = [];
    const observer = new HttpObserver({ onExchange: (e) => seen.push(e), pollIntervalMs: 20 });
    try {
      observer.start([target.child.pid!]);
      const get = async (port: number, path: string) => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`);
        await r.text();
        return r.status;
      };
      for (let i = 0; i < 10; i++) assert.equal(await get(target.port, `/ok?i=${i}`), 200);
      for (let i = 0; i < 5; i++) assert.equal(await get(target.port, '/fail'), 500);
      for (let i = 0; i < 3; i++) assert.equal(await get(target.port, '/slow'), 200);
      for (let i = 0; i < 5; i++) await get(other.port, '/ok');
      await new Promise((r) => setTimeout(r, 100));
      observer.poll();
      const stats = observer.stats();
      console.log(`http observer: ${seen.length} exchanges, stats ${JSON.stringify(stats)}`);
      assert.ok(seen.every((e) => e.pid === target.child.pid), 'only the target process is observed');
      const by = (uri: string) => seen.filter((e) => e.uri === uri);
      assert.equal(by('/ok').length, 10);
      assert.ok(by('/ok').every((e) => e.status === 200 && e.method === 'GET'));
      assert.equal(by('/fail').length, 5);
      assert.ok(by('/fail').every((e) => e.status === 500));
      assert.equal(by('/slow').length, 3);
      assert.ok(by('/slow').every((e) => e.durationMs >= 75 && e.durationMs < 1000), JSON.stringify(by('/slow')));
      assert.ok(by('/ok').every((e) => e.durationMs < 75));
      assert.ok(Math.abs(seen[0]!.startMs - Date.now()) < 10_000);
      assert.equal(stats.ringBufferFull, 0);
    } finally {
      observer.stop();
      target.child.kill();
      other.child.kill();
    }
  });
});
