// HTTP/1 meters summed in the kernel (network_http.h), in the real kernel: a scripted HTTP/1
// server in a child process (the target) answers one keep-alive connection from this process
// with responses framed every way the kernel must follow: Content-Length across two writes, a
// HEAD answer, a 204, a chunked body (complete only when the next request starts), an empty
// Content-Length. net_http must count each exchange once with its status, the request and
// response bytes on the wire equal to what crossed the socket, and no data record may be sent.
// With 'untraced' (a task with sampling rules), exchanges whose request carries a trace header
// are sent as records instead, on the same keep-alive connection, and only the others metered;
// a traced response's body sent by sendfile (a Python server) comes as records of its size.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { NetworkObserver, type KernelMeters, type NetDataRecord, type NetRecord } from './network.js';
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

/** A scripted server in a child process (it prints its port), and an observer keeping its records. */
const startServer = async ([exe, ...args]: string[], kernelMeters?: KernelMeters) => {
  const server = spawn(exe!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const records: NetRecord[] = [];
  const obs = new NetworkObserver({
    pollIntervalMs: 10,
    onRecord: (r) => records.push(r.kind === 'data' ? { ...r, data: Buffer.from(r.data) } : r),
    httpBuckets: { durationMs: [1, 2, 5], size: [256, 512], socketNs: [0, 10_000] },
    ...(kernelMeters ? { kernelMeters } : {}),
  });
  const stop = async () => {
    obs.stop();
    server.kill();
    if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
  };
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
    return { server, port, obs, records, stop };
  } catch (e) {
    await stop();
    throw e;
  }
};

/** Closes the client's connection; the server's one metered connection's last totals. */
const closedTotals = async (sock: Socket, obs: NetworkObserver, pid: number) => {
  sock.end();
  await once(sock, 'close');
  await new Promise((r) => setTimeout(r, 100));
  obs.poll();
  const [t, ...others] = obs.httpTotals().filter((x) => x.tgid === pid);
  assert.ok(t && others.length === 0, 'one metered connection');
  return t;
};

describe('NetworkObserver: HTTP/1 metered in the kernel', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it('each framing counted once with its status and bytes; no data record', async () => {
    const { server, port, obs, records, stop } = await startServer([process.execPath, '-e', SERVER]);
    try {
      obs.setKernelMeters('all');
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
      const t = await closedTotals(sock, obs, server.pid!);
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
      await stop();
    }
  });
});

/** Answers every request head on a connection with `200` and its path as the body. */
const ECHO_SERVER = `
const net = require('net');
const s = net.createServer((c) => {
  let buf = '';
  c.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\r\\n\\r\\n')) >= 0) {
      const path = buf.split(' ')[1];
      buf = buf.slice(i + 4);
      c.write('HTTP/1.1 200 OK\\r\\nContent-Length: ' + path.length + '\\r\\n\\r\\n' + path);
    }
  });
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

const SW8 = '1-dHJhY2U=-c2VnbWVudA==-0-c3Zj-aW5zdA==-L2U=-cGVlcjox';
/** [path, extra header lines]: on one keep-alive connection, in this order. */
const MIX: Array<[string, string, boolean]> = [
  ['/u1', '', false],
  ['/t1', `sw8: ${SW8}\r\n`, true],
  ['/u2', 'Accept: */*\r\n', false],
  ['/t2', 'B3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n', true],
  ['/t3', 'X-B3-TraceId: 80f198ee56343ba8\r\nX-B3-SpanId: e457b5a2e4d86bd1\r\n', true],
  // not header names that carry a trace: a prefix, a suffix, a value
  ['/u3', 'x-sw8: 1\r\nsw80: 1\r\nReferer: sw8: b3:\r\n', false],
  // past the bytes the kernel looks at (documented limit): metered
  ['/u4', `X-Filler: ${'f'.repeat(1100)}\r\nsw8: ${SW8}\r\n`, false],
  ['/t4', 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n', true],
  ['/u5', '', false],
];

describe('NetworkObserver: only traced HTTP/1 exchanges sent as records', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it("'untraced': a request with a trace header and its response come as records, every other exchange is metered", async () => {
    const { server, port, obs, records, stop } = await startServer([process.execPath, '-e', ECHO_SERVER], 'untraced');
    try {
      const sock = connect(port, '127.0.0.1');
      await once(sock, 'connect');
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      let reqBytes = 0;
      let respBytes = 0;
      for (const [path, headers, traced] of MIX) {
        const req = `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
        const resp = `HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`;
        if (!traced) {
          reqBytes += req.length;
          respBytes += resp.length;
        }
        const want = got.length + resp.length;
        sock.write(req);
        for (let i = 0; i < 200 && got.length < want; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(got.length, want, `response to ${path}`);
      }
      const t = await closedTotals(sock, obs, server.pid!);
      const untraced = MIX.filter(([, , traced]) => !traced).length;
      assert.equal(Number(t.exchanges), untraced, 'untraced exchanges metered, traced ones not');
      assert.equal(Number(t.reqBytesSum), reqBytes);
      assert.equal(Number(t.respBytesSum), respBytes);
      assert.equal(
        t.durationHist.reduce((a, b) => a + b, 0),
        untraced,
      );
      const data = records.filter((r): r is NetDataRecord => r.tgid === server.pid && r.kind === 'data');
      const text = (dir: 'read' | 'write') =>
        data.filter((r) => r.direction === dir).map((r) => Buffer.from(r.data).toString('latin1'));
      const traced = MIX.filter(([, , tr]) => tr).map(([path]) => path);
      assert.deepEqual(
        text('read').map((s) => s.split(' ')[1]),
        traced,
        'the traced requests, each in one record',
      );
      assert.deepEqual(
        text('write').map((s) => s.slice(s.lastIndexOf('\n') + 1)),
        traced,
        'their responses, each in one record',
      );
      assert.equal(obs.stats().requestsTraced, traced.length);
    } finally {
      await stop();
    }
  });
});

/** Answers each request head with a Content-Length head (send) and a file's bytes (sendfile). */
const SENDFILE_SERVER = `
import os, socket, sys, tempfile
body = b'x' * 3000
f = tempfile.TemporaryFile()
f.write(body)
f.flush()
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(1)
print('PORT', s.getsockname()[1], flush=True)
c, _ = s.accept()
buf = b''
while True:
    d = c.recv(65536)
    if not d:
        break
    buf += d
    while b'\\r\\n\\r\\n' in buf:
        head, buf = buf.split(b'\\r\\n\\r\\n', 1)
        c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body))
        sent = 0
        while sent < len(body):
            sent += os.sendfile(c.fileno(), f.fileno(), sent, len(body) - sent)
`;

describe('NetworkObserver: a traced response body sent by sendfile', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it("'untraced': its sendfile ops send records of their size, for the parser to end the response", async () => {
    const { server, port, obs, records, stop } = await startServer(['python3', '-c', SENDFILE_SERVER], 'untraced');
    try {
      const sock = connect(port, '127.0.0.1');
      await once(sock, 'connect');
      let got = 0;
      sock.on('data', (d: Buffer) => (got += d.length));
      const head = 'HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n';
      const traced = [true, false, true];
      for (const [i, t] of traced.entries()) {
        const want = (i + 1) * (head.length + 3000);
        sock.write(`GET /f${i} HTTP/1.1\r\nHost: x\r\n${t ? `sw8: ${SW8}\r\n` : ''}\r\n`);
        for (let k = 0; k < 200 && got < want; k++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(got, want, `response ${i}`);
      }
      const t = await closedTotals(sock, obs, server.pid!);
      assert.equal(Number(t.exchanges), 1, 'the untraced exchange metered');
      assert.equal(Number(t.respBytesSum), head.length + 3000);
      const writes = records.filter(
        (r): r is NetDataRecord => r.tgid === server.pid && r.kind === 'data' && r.direction === 'write',
      );
      const sizes = (recs: NetDataRecord[]) => recs.reduce((n, r) => n + r.size, 0);
      // per traced response: its head copied, then its body counted without bytes
      assert.equal(sizes(writes.filter((r) => r.data.length > 0)), 2 * head.length);
      assert.equal(sizes(writes.filter((r) => r.data.length === 0)), 2 * 3000);
    } finally {
      await stop();
    }
  });
});
