// TLS plaintext in the real kernel: a Node TLS server and client in child processes (both
// targets; PSK ciphers, so no certificate is needed) exchange two messages. The uprobes on the
// OpenSSL inside the node binary must give each side's plaintext as TLS records on the very
// connection (fd and generation) connect/accept opened, and once a connection is known to carry
// TLS its syscall records must carry no bytes. TLS records carry the plaintext stream's offsets;
// plaintext that starts no HTTP/1 message stops being sent after NET_PROBE_MAX calls, as syscall
// data does. A file without OpenSSL is refused.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { NetworkObserver, TLS_FUNCTIONS, type NetDataRecord, type NetRecord } from './network.js';
import { ensureBpfBuilt } from './testing/workloads.js';

const PSK = `{ ciphers: 'PSK-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }`;
const SERVER = `
const tls = require('tls');
const s = tls.createServer({ ...${PSK}, pskCallback: () => Buffer.from('0123456789abcdef') }, (c) => {
  c.on('data', (d) => c.write('pong ' + d));
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;
const CLIENT = `
const tls = require('tls');
// argv: the number of pings, each sent once the previous one's answer came.
const rounds = Number(process.argv[1] ?? 2);
process.stdin.once('data', (d) => {
  const port = Number(String(d).split(' ')[1]);
  const c = tls.connect({ ...${PSK}, port, host: '127.0.0.1', checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: Buffer.from('0123456789abcdef'), identity: 'swlite' }) }, () => c.write('ping 1'));
  let n = 0;
  c.on('data', () => { if (++n < rounds) c.write('ping ' + (n + 1)); else { console.log('DONE'); c.end(); } });
  c.on('close', () => process.exit(0));
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

describe('NetworkObserver TLS', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  /** A PSK client sends `rounds` pings to a PSK server, both targets; the records of it all. */
  const exchange = async (rounds: number): Promise<{ records: NetRecord[]; server: number; client: number }> => {
    const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    const client = spawn(process.execPath, ['-e', CLIENT, String(rounds)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const records: NetRecord[] = [];
    const obs = new NetworkObserver({
      pollIntervalMs: 10,
      onRecord: (r) => records.push(r.kind === 'data' ? { ...r, data: Buffer.from(r.data) } : r),
    });
    try {
      const port = Number((await lineOf(server, /PORT (\d+)/))[1]);
      obs.start([server.pid!, client.pid!]);
      // The node here links OpenSSL in; one built against the system's maps libssl instead.
      const libssl = /\s(\/\S*libssl\.so[.\d]*)$/m.exec(readFileSync(`/proc/${server.pid}/maps`, 'utf8'))?.[1];
      obs.attachTls(libssl ?? process.execPath, TLS_FUNCTIONS);
      const done = lineOf(client, /DONE/);
      client.stdin!.write(`go ${port}\n`);
      await done;
      await new Promise((r) => setTimeout(r, 100));
      obs.poll();
      assert.equal(obs.stats().ringBufferFull, 0);
      return { records, server: server.pid!, client: client.pid! };
    } finally {
      obs.stop();
      server.kill();
      client.kill();
      await Promise.all(
        [server, client].map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)),
      );
    }
  };

  /** The data records of the connection `pid` opened as `role`. */
  const connectionData = (records: NetRecord[], pid: number, role: 'client' | 'server'): NetDataRecord[] => {
    const open = records.find((r) => r.tgid === pid && r.kind === 'open' && r.role === role);
    assert.ok(open, `${role} connection opened`);
    return records.filter(
      (r): r is NetDataRecord => r.kind === 'data' && r.tgid === pid && r.fd === open.fd && r.gen === open.gen,
    );
  };

  it("gives each side's plaintext on the connection it belongs to", async () => {
    const { records, server, client } = await exchange(2);
    for (const [pid, role, sent, received] of [
      [client, 'client', 'ping 1ping 2', 'pong ping 1pong ping 2'],
      [server, 'server', 'pong ping 1pong ping 2', 'ping 1ping 2'],
    ] as const) {
      const mine = connectionData(records, pid, role);
      const tlsData = (dir: 'read' | 'write') =>
        Buffer.concat(mine.filter((r) => r.tls && r.direction === dir).map((r) => r.data)).toString();
      assert.equal(tlsData('write'), sent, `${role} plaintext written`);
      assert.equal(tlsData('read'), received, `${role} plaintext read`);
      // Offsets count the plaintext of each direction, apart from the syscalls' ciphertext.
      for (const dir of ['read', 'write'] as const) {
        let at = 0;
        for (const r of mine.filter((r) => r.tls && r.direction === dir)) {
          assert.deepEqual([r.offset, r.size, r.skip], [at, r.data.length, 0], `${role} ${dir} plaintext at ${at}`);
          at += r.size;
        }
      }
      const open = mine[0]!;
      const others = records.filter(
        (r) => r.kind === 'data' && r.tls && r.tgid === pid && (r.fd !== open.fd || r.gen !== open.gen),
      );
      assert.deepEqual(others, [], `${role}: no TLS record elsewhere`);
      const firstTls = mine.findIndex((r) => r.tls);
      const ciphertext = mine.slice(firstTls).filter((r) => !r.tls);
      assert.ok(ciphertext.length >= 2, `${role}: syscalls after the plaintext still recorded`);
      for (const r of ciphertext)
        assert.equal(r.data.length, 0, `${role}: syscall bytes of a TLS connection not captured`);
    }
  });

  it('plaintext that starts no HTTP/1 message stops being sent after NET_PROBE_MAX calls', async () => {
    const rounds = 5;
    const { records, client } = await exchange(rounds);
    const mine = connectionData(records, client, 'client');
    const plain = mine.filter((r) => r.tls);
    // ping 1, pong ping 1, ping 2, pong ping 2: then the plaintext counts as another protocol
    assert.deepEqual(
      plain.map((r) => r.data.toString()),
      ['ping 1', 'pong ping 1', 'ping 2', 'pong ping 2'],
    );
    // the syscalls are still timed
    const after = mine.slice(mine.indexOf(plain.at(-1)!) + 1);
    assert.ok(after.filter((r) => !r.tls).length >= rounds - 2, `syscall records after: ${after.length}`);
  });

  it('refuses a file without OpenSSL, and a function list without SSL_read/SSL_write', () => {
    const obs = new NetworkObserver({ onRecord: () => undefined });
    assert.throws(() => obs.attachTls(process.execPath, TLS_FUNCTIONS), /not started/);
    obs.start([]);
    try {
      assert.throws(() => obs.attachTls('/bin/true', ['SSL_read', 'SSL_write']), /symbol not found|ENOENT/);
      assert.throws(() => obs.attachTls('/bin/true', ['SSL_read_ex']), /lacks SSL_read, SSL_write/);
    } finally {
      obs.stop();
    }
  });
});
