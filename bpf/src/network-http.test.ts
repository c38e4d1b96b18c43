// HTTP/1 meters summed in the kernel (network_http.h), in the real kernel: a scripted HTTP/1
// server in a child process (the target) answers one keep-alive connection from this process
// with responses framed every way the kernel must follow: Content-Length across two writes, a
// HEAD answer, a 204, a chunked body (complete only when the next request starts), an empty
// Content-Length. net_http must count each exchange once with its status, the request and
// response bytes on the wire equal to what crossed the socket, and no data record may be sent.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { NetworkObserver, type NetRecord } from './network.js';
import { ensureBpfBuilt } from './testing/workloads.js';

/** [request, response parts (one write each), status]. */
const SCRIPT: Array<[string, string[], number]> = [
  ['GET /a HTTP/1.1\r\nHost: x\r\n\r\n', ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'hello'], 200],
  ['HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n', ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'], 200],
  ['GET /c HTTP/1.1\r\nHost: x\r\n\r\n', ['HTTP/1.1 204 No Content\r\nServer: s\r\n\r\n'], 204],
  [
    'GET /d HTTP/1.1\r\nHost: x\r\n\r\n',
    ['HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n', '5\r\nhello\r\n', '0\r\n\r\n'],
    500,
  ],
  ['GET /e HTTP/1.1\r\nHost: x\r\n\r\n', ['HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'], 404],
];

const SERVER = `
const net = require('net');
const script = ${JSON.stringify(SCRIPT)};
let n = 0;
const s = net.createServer((c) => {
  let buf = '';
  c.on('data', async (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\r\\n\\r\\n')) >= 0) {
      buf = buf.slice(i + 4);
      for (const part of script[n++][1]) {
        await new Promise((r) => c.write(part, r));
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

describe('NetworkObserver: HTTP/1 metered in the kernel', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it('each framing counted once with its status and bytes; no data record', async () => {
    const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const records: NetRecord[] = [];
    const obs = new NetworkObserver({
      pollIntervalMs: 10,
      onRecord: (r) => records.push(r.kind === 'data' ? { ...r, data: Buffer.from(r.data) } : r),
      httpBuckets: { durationMs: [1, 2, 5], size: [256, 512], socketNs: [0, 10_000] },
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          const m = /PORT (\d+)/.exec((out += d.toString()));
          if (m) resolve(Number(m[1]));
        });
        server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
      });
      obs.start([server.pid!]);
      obs.setKernelMeters(true);
      const sock = connect(port, '127.0.0.1');
      await once(sock, 'connect');
      let got = 0;
      sock.on('data', (d: Buffer) => (got += d.length));
      let want = 0;
      const totalsAfter: number[] = [];
      for (const [req, parts] of SCRIPT) {
        want += parts.reduce((s, p) => s + Buffer.byteLength(p), 0);
        sock.write(req);
        for (let i = 0; i < 200 && got < want; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(got, want, `response to ${req.split(' ')[1]}`);
        await new Promise((r) => setTimeout(r, 20));
        const mine = obs.httpTotals().filter((t) => t.tgid === server.pid);
        totalsAfter.push(mine.reduce((s, t) => s + Number(t.exchanges), 0));
      }
      // the chunked response (4th) is complete only when the 5th request starts
      assert.deepEqual(totalsAfter, [1, 2, 3, 3, 5]);
      sock.end();
      await once(sock, 'close');
      await new Promise((r) => setTimeout(r, 100));
      obs.poll();
      const [t, ...others] = obs.httpTotals().filter((x) => x.tgid === server.pid);
      assert.ok(t && others.length === 0, 'one metered connection');
      assert.equal(t.side, 2, 'server side');
      assert.equal(Number(t.exchanges), 5);
      const statuses = new Map<number, number>();
      t.statusCodes.forEach((c, i) => c && statuses.set(c, t.statusCounts[i]!));
      assert.deepEqual(
        [...statuses].sort((a, b) => a[0] - b[0]),
        [
          [200, 2],
          [204, 1],
          [404, 1],
          [500, 1],
        ],
      );
      const reqBytes = SCRIPT.reduce((s, [r]) => s + Buffer.byteLength(r), 0);
      assert.equal(Number(t.reqBytesSum), reqBytes);
      assert.equal(Number(t.respBytesSum), want);
      assert.equal(
        t.reqSizeHist.reduce((a, b) => a + b, 0),
        5,
      );
      assert.equal(
        t.durationHist.reduce((a, b) => a + b, 0),
        5,
      );
      assert.ok(t.readExeHist.reduce((a, b) => a + b, 0) >= 5);
      assert.ok(t.writeExeHist.reduce((a, b) => a + b, 0) >= 7);
      const data = records.filter((r) => r.tgid === server.pid && r.kind === 'data');
      assert.equal(data.length, 0, 'no data record of a metered connection');
      assert.ok(records.some((r) => r.tgid === server.pid && r.kind === 'close'));
      assert.equal(obs.stats().statusesLost, 0);
      obs.forgetHttp([t]);
      assert.equal(obs.httpTotals().filter((x) => x.tgid === server.pid).length, 0);
    } finally {
      obs.stop();
      server.kill();
      if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    }
  });
});
