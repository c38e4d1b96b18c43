// Network observation in the real kernel: a Node HTTP server and a raw TCP client, each in a child
// process on 127.0.0.1, both targets. The observer must report the client's connect and the
// server's accept with matching addresses, byte totals equal to what the client sent and received,
// and the request and response heads in the captured data. Traffic of this (non-target) process
// must not appear.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { NetworkObserver, type NetRecord } from './network.js';
import { ensureBpfBuilt } from './testing/workloads.js';

const SERVER = `
const http = require('http');
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.setHeader('Content-Type', 'text/plain'); res.end('hello from the server'); });
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

// Waits for "go <port>" on stdin, sends one request in one write, reads to the end, then prints
// its local port and the byte counts.
const CLIENT = `
const net = require('net');
process.stdin.once('data', (d) => {
  const port = Number(String(d).split(' ')[1]);
  const req = 'GET /net/probe?x=1 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n';
  const c = net.connect(port, '127.0.0.1', () => c.write(req));
  let got = 0;
  c.on('data', (b) => { got += b.length; });
  c.on('close', () => {
    console.log('DONE ' + JSON.stringify({ sent: Buffer.byteLength(req), received: got, localPort: c.localPort ?? lp }));
    process.exit(0);
  });
  let lp = 0;
  c.on('connect', () => { lp = c.localPort; });
});
`;

const lineOf = async (child: ChildProcess, re: RegExp): Promise<RegExpExecArray> => {
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) resolve(m);
    });
    child.once('exit', (c) => reject(new Error(`child exited ${c} before ${re}: ${out}`)));
  });
};

describe('NetworkObserver', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it('reports connect/accept, byte totals and captured payloads of target processes', async () => {
    const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const client = spawn(process.execPath, ['-e', CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
    const records: NetRecord[] = [];
    const obs = new NetworkObserver({
      pollIntervalMs: 10,
      onRecord: (r) => records.push(r.kind === 'data' ? { ...r, data: Buffer.from(r.data) } : r),
    });
    try {
      const port = Number((await lineOf(server, /PORT (\d+)/))[1]);
      obs.start([server.pid!, client.pid!]);
      // Not a target: this process's own request must not show up.
      await fetch(`http://127.0.0.1:${port}/not/a/target`).then((r) => r.text());
      const done = lineOf(client, /DONE (\{.*\})/);
      client.stdin!.write(`go ${port}\n`);
      const result = JSON.parse((await done)[1]!) as { sent: number; received: number; localPort: number };
      await new Promise((r) => setTimeout(r, 100));
      obs.poll();
      const stats = obs.stats();

      const mine = (pid: number) => records.filter((r) => r.tgid === pid);
      const cOpen = mine(client.pid!).find((r) => r.kind === 'open');
      assert.ok(cOpen && cOpen.kind === 'open', 'client connect recorded');
      assert.equal(cOpen.role, 'client');
      assert.deepEqual(cOpen.remote, { ip: '127.0.0.1', port });
      assert.deepEqual(cOpen.local, { ip: '127.0.0.1', port: result.localPort });

      const sOpens = mine(server.pid!).filter((r) => r.kind === 'open');
      const sOpen = sOpens.find((r) => r.kind === 'open' && r.remote?.port === result.localPort);
      assert.ok(sOpen && sOpen.kind === 'open', `server accept of the client's connection: ${JSON.stringify(sOpens, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
      assert.equal(sOpen.role, 'server');
      assert.deepEqual(sOpen.local, { ip: '127.0.0.1', port });
      assert.ok(sOpen.exeNs >= 0);

      const cClose = mine(client.pid!).find((r) => r.kind === 'close' && r.fd === cOpen.fd && r.gen === cOpen.gen);
      assert.ok(cClose && cClose.kind === 'close', 'client close recorded with the connection generation');
      assert.equal(Number(cClose.stats.writeBytes), result.sent);
      assert.equal(Number(cClose.stats.readBytes), result.received);
      assert.equal(cClose.stats.role, 1);

      const sameConn = (r: NetRecord, o: NetRecord) => r.fd === o.fd && r.gen === o.gen && r.tgid === o.tgid;
      const dataOf = (o: NetRecord, dir: 'read' | 'write') =>
        Buffer.concat(records.filter((r) => r.kind === 'data' && sameConn(r, o) && r.direction === dir).map((r) => (r.kind === 'data' ? r.data : Buffer.alloc(0))));
      const sizeOf = (o: NetRecord, dir: 'read' | 'write') =>
        records.filter((r) => r.kind === 'data' && sameConn(r, o) && r.direction === dir).reduce((s, r) => s + (r.kind === 'data' ? r.size : 0), 0);

      assert.match(dataOf(cOpen, 'write').toString(), /^GET \/net\/probe\?x=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1/);
      assert.match(dataOf(cOpen, 'read').toString(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello from the server$/);
      assert.equal(sizeOf(cOpen, 'write'), result.sent);
      assert.equal(sizeOf(cOpen, 'read'), result.received);
      assert.match(dataOf(sOpen, 'read').toString(), /^GET \/net\/probe\?x=1 HTTP\/1\.1\r\n/);
      assert.equal(sizeOf(sOpen, 'read'), result.sent);
      assert.equal(sizeOf(sOpen, 'write'), result.received);
      assert.equal(dataOf(sOpen, 'write').toString(), dataOf(cOpen, 'read').toString());

      assert.equal(records.filter((r) => r.kind === 'data' && r.data.includes('/not/a/target')).length, 1, 'only the server side of the non-target request');
      assert.equal(stats.ringBufferFull, 0);
      assert.equal(stats.consumed, stats.events);
    } finally {
      obs.stop();
      server.kill();
      client.kill();
      await Promise.all([server, client].map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)));
    }
  });
});
