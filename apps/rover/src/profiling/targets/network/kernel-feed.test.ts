// KernelFeed on a TLS connection, from records as network.bpf.o writes them: the syscalls'
// ciphertext (a handshake record, then application data) never reaches the HTTP/1 parser but
// marks the connection TLS, the SSL_read/SSL_write plaintext is parsed; syscall records still time the
// exe-time histograms, the TLS ones (no syscall) do not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetDataRecord, NetRecord } from '@swlite/bpf';
import { NetworkAnalyzer } from './analyze/analyzer';
import { KernelFeed, looksLikeTlsRecord } from './kernel-feed';

const base = { tgid: 300, fd: 5, gen: 77 };
let clock = 1_000_000;
/** Stream offsets as the kernel keeps them: the syscalls' and the plaintext's apart, per direction. */
const offsets = new Map<string, number>();
const data = (direction: 'read' | 'write', tls: boolean, bytes: Buffer): NetDataRecord => {
  clock += 1000;
  const stream = `${tls}:${direction}`;
  const offset = offsets.get(stream) ?? 0;
  offsets.set(stream, offset + bytes.length);
  return {
    ...base,
    kind: 'data',
    tls,
    direction,
    startNs: clock - 500,
    tsNs: clock,
    offset,
    size: bytes.length,
    skip: 0,
    data: bytes,
  };
};

const CLIENT_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]);
const APP_DATA = Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40, 0x9a, 0x11]);
const REQUEST = Buffer.from('GET /secure HTTP/1.1\r\nHost: a\r\n\r\n');
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

test('TLS record headers are told from HTTP/1 text', () => {
  assert.equal(looksLikeTlsRecord(CLIENT_HELLO), true);
  assert.equal(looksLikeTlsRecord(APP_DATA), true);
  assert.equal(looksLikeTlsRecord(Buffer.from([0x15, 0x03, 0x03])), true); // alert
  assert.equal(looksLikeTlsRecord(REQUEST), false);
  assert.equal(looksLikeTlsRecord(RESPONSE), false);
  assert.equal(looksLikeTlsRecord(Buffer.from([0x16, 0x03])), false);
  assert.equal(looksLikeTlsRecord(Buffer.from([0x16, 0x02, 0x00])), false);
});

test('a TLS server connection: plaintext parsed as HTTPS, ciphertext only timed', () => {
  const analyzer = new NetworkAnalyzer({ bootTimeEpochNs: 0n });
  const feed = new KernelFeed(analyzer);
  const records: NetRecord[] = [
    {
      ...base,
      kind: 'open',
      tsNs: clock,
      role: 'server',
      exeNs: 100,
      local: { ip: '127.0.0.1', port: 443 },
      remote: { ip: '127.0.0.1', port: 50000 },
    },
    data('read', false, CLIENT_HELLO), // the handshake, outside any probed SSL call
    data('read', false, APP_DATA), // libuv reads the ciphertext, then...
    data('read', true, REQUEST), // ...SSL_read gives the plaintext
    data('write', true, RESPONSE),
    data('write', false, Buffer.alloc(0)), // the kernel keeps no bytes of a known TLS connection
  ];
  feed.record(records[0]!);
  feed.record(records[1]!);
  const conn = analyzer.connections.get({ pid: base.tgid, fd: base.fd, id: base.gen })!;
  // an interval that ends after the handshake reports the connection as TLS (component tls, not tcp)
  assert.equal(conn.isSsl, true, 'SSL from the handshake on');
  assert.equal(conn.protocol, 'unknown');
  for (const r of records.slice(2)) feed.record(r);
  assert.equal(conn.isSsl, true);
  assert.equal(conn.protocol, 'http');
  assert.equal(conn.metrics.http1.server.requests, 1);
  const l4 = conn.metrics.layer4;
  const histogramTotal = (h: number[]) => h.reduce((s, n) => s + n, 0);
  assert.equal(histogramTotal(l4.readExeTimeHistogram), 2);
  assert.equal(histogramTotal(l4.writeExeTimeHistogram), 1);
});

test('ciphertext of a connection first seen mid-stream is dropped, HTTP/1 plaintext on another is parsed', () => {
  const analyzer = new NetworkAnalyzer({ bootTimeEpochNs: 0n });
  const feed = new KernelFeed(analyzer);
  feed.record(data('read', false, APP_DATA));
  feed.record(data('read', false, Buffer.from('GET / HTTP/1.1\r\n\r\n'))); // would parse, but the connection is TLS
  feed.record(data('write', false, RESPONSE));
  const tls = analyzer.connections.get({ pid: base.tgid, fd: base.fd, id: base.gen })!;
  assert.equal(tls.metrics.http1.server.requests + tls.metrics.http1.client.requests, 0);
  assert.equal(tls.isSsl, true, 'TLS from its records on the wire, before any plaintext (component tls, not tcp)');

  const plain = { tgid: 300, fd: 6, gen: 78 };
  feed.record({ ...data('read', false, Buffer.from('GET /plain HTTP/1.1\r\n\r\n')), ...plain });
  feed.record({ ...data('write', false, RESPONSE), ...plain });
  const conn = analyzer.connections.get({ pid: plain.tgid, fd: plain.fd, id: plain.gen })!;
  assert.equal(conn.isSsl, false);
  assert.equal(conn.metrics.http1.server.requests, 1);
});
