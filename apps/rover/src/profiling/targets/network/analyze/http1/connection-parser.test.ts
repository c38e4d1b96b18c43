import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Http1Connection } from './connection-parser';
import { messageSize, type Direction, type HttpExchange, type SocketSegment } from './message';
import { DEFAULT_HTTP1_LIMITS } from './stream-parser';

/** Segments recorded by fixtures/capture.mjs (real curl and Node traffic over loopback). */
function fixture(name: string): SocketSegment[] {
  const json = JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as {
    segments: Array<{ direction: Direction; startNs: number; endNs: number; data: string }>;
  };
  return json.segments.map((s) => ({ ...s, data: Buffer.from(s.data, 'base64') }));
}

/** The same bytes cut into pieces of `size` bytes, each piece keeping its syscall's timestamps. */
function split(segments: SocketSegment[], size: number): SocketSegment[] {
  const out: SocketSegment[] = [];
  for (const s of segments) {
    for (let i = 0; i < s.data.length; i += size) out.push({ ...s, data: s.data.subarray(i, i + size) });
  }
  return out;
}

function run(segments: SocketSegment[], conn?: Http1Connection): { exchanges: HttpExchange[]; conn: Http1Connection } {
  const exchanges: HttpExchange[] = [];
  const c = conn ?? new Http1Connection((e) => exchanges.push(e));
  for (const s of segments) c.push(s);
  return { exchanges, conn: c };
}

/** What an exchange amounts to, for comparing runs. */
const summary = (e: HttpExchange) => ({
  method: e.request.request?.method,
  target: e.request.request?.target,
  status: e.response.response?.status,
  side: e.side,
  durationNs: e.durationNs,
  requestSize: messageSize(e.request),
  responseSize: messageSize(e.response),
  body: e.response.body.toString('latin1'),
});

const seg = (direction: Direction, text: string | Buffer, startNs: number, endNs = startNs + 100): SocketSegment => ({
  direction,
  data: typeof text === 'string' ? Buffer.from(text, 'latin1') : text,
  startNs,
  endNs,
});

test('curl keep-alive: six exchanges on one connection, paired in order, server side', () => {
  const segments = fixture('curl-keepalive');
  const { exchanges, conn } = run(segments);
  assert.deepEqual(
    exchanges.map((e) => [e.request.request?.target, e.response.response?.status]),
    [
      ['/ok?x=1', 200],
      ['/err', 500],
      ['/missing', 404],
      ['/chunked', 200],
      ['/gzip', 200],
      ['/png', 200],
    ],
  );
  assert.ok(exchanges.every((e) => e.side === 'server'));
  const [ok, err, , chunked, gz] = exchanges;
  assert.equal(ok!.response.body.toString(), 'ok\n');
  assert.equal(err!.response.body.toString(), 'boom');
  assert.equal(chunked!.response.body.toString(), '{"a":1,"b":2}', 'chunk framing removed');
  assert.ok(chunked!.response.segmentCount >= 2, 'the chunked body came in several writes');
  assert.equal(gz!.response.headers.get('content-encoding'), 'gzip');
  assert.equal(ok!.request.headers.get('sw8')?.split('-').length, 8);
  // sizes are every byte on the wire: both directions add up to the captured bytes
  const total = (d: Direction) => segments.filter((s) => s.direction === d).reduce((n, s) => n + s.data.length, 0);
  assert.equal(
    exchanges.reduce((n, e) => n + messageSize(e.request), 0),
    total('ingress'),
  );
  assert.equal(
    exchanges.reduce((n, e) => n + messageSize(e.response), 0),
    total('egress'),
  );
  // duration: first request byte (its syscall start) to last response byte (its syscall end)
  const firstReq = segments.find((s) => s.direction === 'ingress')!;
  const firstResp = segments.find((s) => s.direction === 'egress')!;
  assert.equal(ok!.durationNs, firstResp.endNs - firstReq.startNs);
  assert.equal(conn.stats.skippedBytes, 0);
  assert.equal(conn.pendingRequests, 0);
});

test('the same traffic cut into 1, 3 and 7 byte buffers gives the same exchanges', () => {
  for (const name of [
    'curl-keepalive',
    'curl-head-204-304',
    'curl-expect-100',
    'curl-trailer',
    'pipelined',
    'nginx-keepalive',
  ]) {
    const whole = run(fixture(name)).exchanges.map(summary);
    assert.ok(whole.length > 0, name);
    for (const size of [1, 3, 7]) {
      assert.deepEqual(run(split(fixture(name), size)).exchanges.map(summary), whole, `${name} in ${size}-byte pieces`);
    }
  }
});

test('HEAD, 204 and 304 responses have no body even without Content-Length', () => {
  const { exchanges, conn } = run(fixture('curl-head-204-304'));
  assert.deepEqual(
    exchanges.map((e) => [e.request.request?.method, e.response.response?.status, e.response.bodySize]),
    [
      ['HEAD', 200, 0],
      ['GET', 204, 0],
      ['GET', 304, 0],
    ],
  );
  // Node's HEAD answer has no Content-Length: without the request's method it would be read
  // until close and swallow the next two responses.
  assert.equal(exchanges[0]!.response.headers.get('content-length'), undefined);
  assert.equal(conn.pendingRequests, 0);
});

test('100 Continue is interim: the request pairs with the final response, its body counted', () => {
  const { exchanges, conn } = run(fixture('curl-expect-100'));
  assert.equal(exchanges.length, 1);
  const [e] = exchanges;
  assert.equal(e!.response.response?.status, 200);
  assert.equal(e!.request.bodySize, 4053);
  assert.equal(e!.response.body.toString(), 'got 4053');
  assert.equal(conn.stats.interimResponses, 1);
});

test('chunked body with trailers', () => {
  const { exchanges } = run(fixture('curl-trailer'));
  const [e] = exchanges;
  assert.equal(e!.response.body.toString(), 'part1;part2');
  assert.ok(e!.response.bodySize > 'part1;part2'.length, 'framing and trailer bytes count in the size');
  // the trailer is not part of the body and the next message starts clean
  const more = run(
    [
      seg('ingress', 'GET /again HTTP/1.1\r\n\r\n', 9e9),
      seg('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 9e9 + 500),
    ],
    undefined,
  );
  assert.equal(more.exchanges.length, 1);
});

test('pipelining: three requests in one write, three responses in one write, paired in order', () => {
  const { exchanges } = run(fixture('pipelined'));
  assert.deepEqual(
    exchanges.map((e) => [e.request.request?.method, e.request.request?.target, e.response.response?.status]),
    [
      ['GET', '/ok', 200],
      ['POST', '/upload', 200],
      ['GET', '/err', 500],
    ],
  );
  assert.equal(exchanges[1]!.request.body.toString(), 'hello');
  assert.equal(exchanges[1]!.response.body.toString(), 'got 5');
  // all three requests came in one syscall: same start
  assert.equal(new Set(exchanges.map((e) => e.request.startNs)).size, 1);
});

test('client side: an egress request makes a client exchange', () => {
  const { exchanges } = run([
    seg('egress', 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n', 1000, 1200),
    seg('ingress', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n', 5000, 5100),
    seg('ingress', 'hi', 7000, 7300),
  ]);
  assert.equal(exchanges.length, 1);
  assert.equal(exchanges[0]!.side, 'client');
  assert.equal(exchanges[0]!.durationNs, 7300 - 1000);
  assert.equal(exchanges[0]!.response.segmentCount, 2);
});

test('a response read until close completes when the connection closes', () => {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e));
  run(
    [
      seg('egress', 'GET / HTTP/1.0\r\n\r\n', 0),
      seg('ingress', 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ', 10),
      seg('ingress', 'it', 20, 25),
    ],
    conn,
  );
  assert.equal(exchanges.length, 0);
  conn.close();
  assert.equal(exchanges.length, 1);
  assert.equal(exchanges[0]!.response.body.toString(), 'all of it');
  assert.equal(exchanges[0]!.durationNs, 25);
});

test('bounded memory: a huge header section is dropped and counted, the next message parses', () => {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e), { ...DEFAULT_HTTP1_LIMITS, maxHeaderBytes: 256 });
  const big = 'GET /big HTTP/1.1\r\nX-Fill: ' + 'a'.repeat(1000) + '\r\n\r\n';
  run(
    [
      seg('ingress', big.slice(0, 400), 0),
      seg('ingress', big.slice(400), 10),
      seg('ingress', 'GET /small HTTP/1.1\r\n\r\n', 20),
      seg('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 30),
    ],
    conn,
  );
  assert.equal(conn.stats.oversizedHeaders, 1);
  assert.ok(conn.stats.skippedBytes >= big.length - 256);
  assert.deepEqual(
    exchanges.map((e) => e.request.request?.target),
    ['/small'],
  );
});

test('bounded memory: body bytes past the cap are counted, not kept', () => {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e), { ...DEFAULT_HTTP1_LIMITS, maxBodyBytes: 100 });
  const body = Buffer.alloc(250_000, 0x61);
  const segments = [
    seg('ingress', 'GET /file HTTP/1.1\r\n\r\n', 0),
    seg('egress', `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, 10),
  ];
  for (let i = 0; i < body.length; i += 20480) segments.push(seg('egress', body.subarray(i, i + 20480), 20 + i));
  run(segments, conn);
  const [e] = exchanges;
  assert.equal(e!.response.body.length, 100);
  assert.equal(e!.response.bodyTruncated, true);
  assert.equal(e!.response.bodySize, body.length);
  assert.equal(conn.stats.bodyBytesNotKept, body.length - 100);
});

test('bounded memory: unanswered requests beyond the cap are dropped oldest first', () => {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e), { ...DEFAULT_HTTP1_LIMITS, maxPendingRequests: 2 });
  run(
    [
      seg('ingress', 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n', 0),
      seg('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 10),
    ],
    conn,
  );
  assert.equal(conn.stats.droppedPendingRequests, 1);
  assert.equal(exchanges[0]!.request.request?.target, '/2');
  assert.equal(conn.pendingRequests, 1);
});

test('garbage is skipped up to the next buffer that starts a message; an orphan response is counted', () => {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e));
  run(
    [
      seg('ingress', '\x16\x03\x01\x02\x00 TLS hello', 0),
      seg('ingress', 'more binary', 5),
      seg('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 7),
      seg('ingress', 'GET /after HTTP/1.1\r\n\r\n', 10),
      seg('egress', 'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!', 20),
    ],
    conn,
  );
  assert.equal(conn.stats.skippedBytes, '\x16\x03\x01\x02\x00 TLS hello'.length + 'more binary'.length);
  assert.equal(conn.stats.orphanResponses, 1);
  assert.deepEqual(
    exchanges.map((e) => [e.request.request?.target, e.response.response?.status]),
    [['/after', 404]],
  );
});

test('malformed framing: a bad chunk size or conflicting Content-Length is counted and skipped', () => {
  const exchanges: HttpExchange[] = [];
  const conn = new Http1Connection((e) => exchanges.push(e));
  run(
    [
      seg('ingress', 'POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc', 0),
      seg('ingress', 'GET /b HTTP/1.1\r\n\r\n', 10),
      seg('egress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 20),
      seg('egress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 30),
      seg('ingress', 'GET /c HTTP/1.1\r\n\r\n', 40),
      seg('egress', 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', 50),
    ],
    conn,
  );
  assert.equal(conn.stats.malformed, 2);
  // /a never waits for an answer; /b's response was the malformed chunked one, so the next
  // response answers nothing and the one after pairs with /c
  assert.deepEqual(
    exchanges.map((e) => [e.request.request?.target, e.response.response?.status]),
    [['/c', 201]],
  );
  assert.equal(conn.stats.orphanResponses, 1);
});

test('101 Switching Protocols: the exchange is reported, later bytes are a tunnel', () => {
  const { exchanges, conn } = run([
    seg('egress', 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 0),
    seg('ingress', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello', 10),
    seg('egress', '\x81\x85abcdGET / HTTP/1.1', 20),
  ]);
  assert.equal(exchanges.length, 1);
  assert.equal(exchanges[0]!.response.response?.status, 101);
  assert.ok(conn.isTunneled);
  assert.equal(conn.stats.tunneledBytes, '\x81\x05hello'.length + '\x81\x85abcdGET / HTTP/1.1'.length);
});

test('gzip bodies are kept as sent (inflating is the sampled content builder’s job)', () => {
  const gz = gzipSync('hello');
  const { exchanges } = run([
    seg('ingress', 'GET / HTTP/1.1\r\n\r\n', 0),
    seg(
      'egress',
      Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`),
        gz,
      ]),
      1,
    ),
  ]);
  assert.deepEqual(exchanges[0]!.response.body, gz);
});

test('nginx keep-alive: static file, 404, 418 without reason phrase, 503, gzip chunked, 206 range', () => {
  const segments = fixture('nginx-keepalive');
  const { exchanges, conn } = run(segments);
  assert.deepEqual(
    exchanges.map((e) => [e.request.request?.target, e.response.response?.status, e.response.response?.reason]),
    [
      ['/index.html', 200, 'OK'],
      ['/big.txt', 200, 'OK'],
      ['/nothing-here', 404, 'Not Found'],
      ['/teapot', 418, ''],
      ['/fail', 503, 'Service Temporarily Unavailable'],
      ['/big.txt', 200, 'OK'],
      ['/big.txt', 206, 'Partial Content'],
    ],
  );
  const [index, big, , teapot, , gz, range] = exchanges;
  assert.equal(index!.response.body.toString(), 'hello\n');
  assert.equal(big!.response.bodySize, Number(big!.response.headers.get('content-length')));
  assert.equal(big!.response.bodySize, 20264, '15000 bytes in base64, 76-column lines');
  assert.equal(teapot!.response.body.toString(), 'short and stout\n');
  assert.equal(gz!.response.headers.get('transfer-encoding'), 'chunked');
  assert.equal(gz!.response.headers.get('content-encoding'), 'gzip');
  assert.equal(range!.response.bodySize, 100);
  assert.equal(conn.stats.skippedBytes, 0);
  assert.equal(conn.stats.malformed, 0);
});

test('random bytes and random cuts never throw and never exceed the pending bound', () => {
  // Deterministic xorshift, so a failure can be replayed.
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const pieces = [
    'GET / HTTP/1.1\r\n',
    'HTTP/1.1 200 OK\r\n',
    'Content-Length: 3\r\n',
    'Transfer-Encoding: chunked\r\n',
    '\r\n',
    '5\r\nhello\r\n',
    '0\r\n\r\n',
    'HEAD /x HTTP/1.1\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\n',
    'zzz',
  ];
  for (let round = 0; round < 300; round++) {
    const conn = new Http1Connection(() => undefined, {
      ...DEFAULT_HTTP1_LIMITS,
      maxHeaderBytes: 512,
      maxBodyBytes: 64,
    });
    let t = 0;
    for (let i = 0; i < 40; i++) {
      const text =
        rand() < 0.5
          ? pieces[Math.floor(rand() * pieces.length)]!
          : Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
      conn.push(seg(rand() < 0.5 ? 'ingress' : 'egress', text, (t += 10)));
    }
    assert.ok(conn.pendingRequests <= DEFAULT_HTTP1_LIMITS.maxPendingRequests);
    conn.close();
    assert.equal(conn.pendingRequests, 0);
  }
});
