// Network observation in the real kernel: a Node HTTP server and a raw TCP client, each in a child
// process on 127.0.0.1, both targets. The observer must report the client's connect and the
// server's accept with matching addresses, byte totals equal to what the client sent and received,
// and the request and response heads in the captured data. Traffic of this (non-target) process
// must not appear. Then what is copied: a connection whose first ops start no HTTP/1 message stops
// sending data records (its totals stay exact), and body bytes put in net_skip send none.
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

// A sink server and a client to it in one process; the client writes what stdin says, one write
// per line ("w <base64>"), and answers "ok N" once the write is out; "end" closes and answers
// "closed" when the server saw the end.
const PEER = `
const net = require('net');
let n = 0;
const srv = net.createServer((s) => { s.on('data', () => {}); s.on('end', () => { console.log('closed'); s.end(); }); });
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => {
    console.log('READY ' + c.localPort);
    let buf = '';
    process.stdin.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        if (line === 'end') c.end();
        else c.write(Buffer.from(line.slice(2), 'base64'), () => setTimeout(() => console.log('ok ' + ++n), 20));
      }
    });
  });
});
`;

/** A PEER child: write(bytes) resolves when the client's write syscall is done. */
const startPeer = async () => {
  const child = spawn(process.execPath, ['-e', PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const localPort = Number((await lineOf(child, /READY (\d+)/))[1]);
  let writes = 0;
  return {
    child,
    localPort,
    write: async (bytes: Buffer | string) => {
      const done = lineOf(child, new RegExp(`ok ${++writes}\\b`));
      child.stdin!.write(`w ${Buffer.from(bytes).toString('base64')}\n`);
      await done;
    },
    end: async () => {
      const done = lineOf(child, /closed/);
      child.stdin!.write('end\n');
      await done;
    },
  };
};

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
      assert.ok(
        sOpen && sOpen.kind === 'open',
        `server accept of the client's connection: ${JSON.stringify(sOpens, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
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
        Buffer.concat(
          records
            .filter((r) => r.kind === 'data' && sameConn(r, o) && r.direction === dir)
            .map((r) => (r.kind === 'data' ? r.data : Buffer.alloc(0))),
        );
      const sizeOf = (o: NetRecord, dir: 'read' | 'write') =>
        records
          .filter((r) => r.kind === 'data' && sameConn(r, o) && r.direction === dir)
          .reduce((s, r) => s + (r.kind === 'data' ? r.size : 0), 0);

      assert.match(dataOf(cOpen, 'write').toString(), /^GET \/net\/probe\?x=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1/);
      assert.match(dataOf(cOpen, 'read').toString(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello from the server$/);
      assert.equal(sizeOf(cOpen, 'write'), result.sent);
      assert.equal(sizeOf(cOpen, 'read'), result.received);
      assert.match(dataOf(sOpen, 'read').toString(), /^GET \/net\/probe\?x=1 HTTP\/1\.1\r\n/);
      assert.equal(sizeOf(sOpen, 'read'), result.sent);
      assert.equal(sizeOf(sOpen, 'write'), result.received);
      assert.equal(dataOf(sOpen, 'write').toString(), dataOf(cOpen, 'read').toString());

      assert.equal(
        records.filter((r) => r.kind === 'data' && r.data.includes('/not/a/target')).length,
        1,
        'only the server side of the non-target request',
      );
      assert.equal(stats.ringBufferFull, 0);
      assert.equal(stats.consumed, stats.events);
    } finally {
      obs.stop();
      server.kill();
      client.kill();
      await Promise.all(
        [server, client].map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)),
      );
    }
  });

  const observe = (pid: number) => {
    const records: NetRecord[] = [];
    const obs = new NetworkObserver({
      pollIntervalMs: 10,
      onRecord: (r) => records.push(r.kind === 'data' ? { ...r, data: Buffer.from(r.data) } : r),
    });
    obs.start([pid]);
    return { obs, records };
  };

  it('a connection whose first ops start no HTTP/1 message: data records stop, totals stay exact', async () => {
    const peer = await startPeer();
    const { obs, records } = observe(peer.child.pid!);
    try {
      const msgs = Array.from({ length: 10 }, (_, i) => `\x00\x01binary frame ${i}`);
      for (const m of msgs) await peer.write(m);
      await peer.end();
      await new Promise((r) => setTimeout(r, 100));
      obs.poll();
      // The client connected before the observer started: its connection opens with its first data.
      const writes = records.filter((r) => r.kind === 'data' && r.direction === 'write');
      const fds = new Set(writes.map((r) => r.fd));
      assert.equal(fds.size, 1, 'one writing connection');
      assert.equal(writes.length, 4, 'NET_PROBE_MAX data records, then none');
      const close = records.find((r) => r.kind === 'close' && fds.has(r.fd));
      assert.ok(close && close.kind === 'close');
      assert.equal(Number(close.stats.writeCount), msgs.length);
      assert.equal(
        Number(close.stats.writeBytes),
        msgs.reduce((s, m) => s + Buffer.byteLength(m), 0),
      );
      assert.equal(close.stats.proto, 2, 'NET_PROTO_OTHER');
    } finally {
      obs.stop();
      peer.child.kill();
    }
  });

  it('body bytes put in net_skip send no records; the op reaching the offset sends its size, the next message its bytes', async () => {
    const peer = await startPeer();
    const { obs, records } = observe(peer.child.pid!);
    try {
      const head = 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n';
      await peer.write(head);
      obs.poll();
      const first = records.find((r) => r.kind === 'data' && r.direction === 'write');
      assert.ok(first && first.kind === 'data');
      assert.equal(first.data.toString(), head);
      assert.ok(obs.skipUntil(first.tgid, first.fd, first.gen, 'write', head.length + 50_000));
      for (let i = 0; i < 5; i++) await peer.write(Buffer.alloc(10_000, 'b'));
      const next = 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n';
      await peer.write(next);
      await peer.end();
      await new Promise((r) => setTimeout(r, 100));
      obs.poll();
      const writes = records.filter((r) => r.kind === 'data' && r.direction === 'write' && r.fd === first.fd);
      const summary = writes.map((r) => (r.kind === 'data' ? [r.offset, r.size, r.skip, r.data.toString()] : []));
      assert.deepEqual(summary, [
        [0, head.length, 0, head],
        [head.length + 40_000, 10_000, 10_000, ''],
        [head.length + 50_000, next.length, 0, next],
      ]);
      assert.ok(obs.stats().opsSkipped >= 4);
      const close = records.find((r) => r.kind === 'close' && r.fd === first.fd);
      assert.ok(close && close.kind === 'close');
      assert.equal(Number(close.stats.writeBytes), head.length + 50_000 + next.length);
    } finally {
      obs.stop();
      peer.child.kill();
    }
  });
});
