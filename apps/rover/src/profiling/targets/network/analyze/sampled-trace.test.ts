import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
import { Http1Connection } from './http1/connection-parser';
import type { Direction, HttpExchange, HttpMessage } from './http1/message';
import {
  humanBytes,
  instantOf,
  readableContent,
  sampledTraceBody,
  sampledTraceEvents,
  sampledTraceLog,
  type SampleTraffic,
} from './sampled-trace';
import { HttpSampler, parseNetworkSamplings, SamplingRules, type SampledExchange } from './sampling';

function fixtureExchanges(): HttpExchange[] {
  const json = JSON.parse(readFileSync(new URL('./http1/fixtures/curl-keepalive.json', import.meta.url), 'utf8')) as {
    segments: Array<{ direction: Direction; startNs: number; endNs: number; data: string }>;
  };
  const out: HttpExchange[] = [];
  const c = new Http1Connection((e) => out.push(e));
  for (const s of json.segments) c.push({ ...s, data: Buffer.from(s.data, 'base64') });
  return out;
}

const traffic: SampleTraffic = {
  local: { id: 'proc-server', service: 'svc', instance: 'inst', name: 'server', layer: 'K8S_SERVICE' },
  role: 'server',
  remote: { kind: 'process', processId: 'proc-client' },
  protocol: 'http',
  isSsl: false,
};

/** The fixture's exchanges through a sampler with a rule taking 4xx and 5xx. */
function samples(
  settings = '{"RequireCompleteRequest":true,"RequireCompleteResponse":true,"MaxResponseSize":400}',
): SampledExchange[] {
  const rules = new SamplingRules();
  rules.update(parseNetworkSamplings(`{"NetworkSamplings":[{"When4xx":true,"When5xx":true,"Settings":${settings}}]}`));
  const sampler = new HttpSampler();
  for (const e of fixtureExchanges()) sampler.consider(rules, e);
  return sampler.drain();
}

test('sampled-trace log: LOG_KIND tag, trace id, and the JSON body in upstream key order', () => {
  const all = samples();
  assert.deepEqual(
    all.map((s) => [s.reason, s.uri]),
    [
      ['status_4xx', '/missing'],
      ['status_5xx', '/err'],
    ],
  );
  const err = all[1]!;
  const log = sampledTraceLog(err, traffic, 1_764_000_002_000);
  assert.deepEqual(log.tags, { data: [{ key: 'LOG_KIND', value: 'NET_PROFILING_SAMPLED_TRACE' }] });
  assert.equal(log.traceContext?.traceId, 'a1b2.3.4');
  assert.deepEqual(
    [log.service, log.serviceInstance, log.layer, log.timestamp],
    ['svc', 'inst', 'K8S_SERVICE', 1_764_000_002_000],
  );
  assert.equal(log.body?.type, 'json');
  assert.equal(
    log.body?.json?.json,
    `{"uri":"/err","reason":"status_5xx","latency":${err.durationMs},"trace_provider":"skywalking",` +
      '"client_process":{"process_id":"proc-client","local":false,"address":""},' +
      '"server_process":{"process_id":"proc-server","local":false,"address":""},' +
      '"detect_point":"server","component":"http","ssl":false,"status":500}',
  );
  const method = loadSkyWalkingGrpc().skywalking.v3.LogReportService.service.collect;
  assert.equal(method.requestDeserialize(method.requestSerialize(log)).body?.content, 'json');
});

test('client side: the local process is the client; remote ends as local or address', () => {
  const [sample] = samples();
  const body = (remote: SampleTraffic['remote']) =>
    JSON.parse(sampledTraceBody(sample!, { ...traffic, role: 'client', remote }));
  assert.deepEqual(body({ kind: 'local' }).server_process, { process_id: '', local: true, address: '' });
  const b = body({ kind: 'address', address: '10.0.0.9:8080' });
  assert.deepEqual(
    [b.client_process.process_id, b.server_process.address, b.detect_point],
    ['proc-server', '10.0.0.9:8080', 'client'],
  );
});

test('attached events: request and response text, directions, roles, sizes, trace reference', () => {
  const err = samples()[1]!;
  const boot = 1_764_000_000_000_000_000n;
  const events = sampledTraceEvents(err, traffic, { bootTimeEpochNs: boot });
  assert.deepEqual(
    events.map((e) => e.event),
    ['HTTP Request Sampling', 'HTTP Response Sampling'],
  );
  const tags = (i: number) => Object.fromEntries(events[i]!.tags!.map((t) => [t.key, t.value]));
  const req = tags(0);
  assert.match(req.data_content!, /^GET \/err HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  assert.deepEqual(
    [
      req.data_direction,
      req.data_type,
      req.connection_role,
      req.service_name,
      req.service_instance_name,
      req.process_name,
    ],
    ['inbound', 'request', 'server', 'svc', 'inst', 'server'],
  );
  const res = tags(1);
  assert.match(res.data_content!, /^HTTP\/1\.1 500 Internal Server Error\r\n[\s\S]*\r\n\r\nboom$/);
  assert.equal(res.data_direction, 'outbound');
  assert.equal(res.data_size, `${err.exchange.response.headerSize + err.exchange.response.bodySize}B`);
  assert.deepEqual(events[0]!.traceContext, {
    type: 'SKYWALKING',
    traceId: 'a1b2.3.4',
    traceSegmentId: 'seg-1',
    spanId: '2',
  });
  assert.deepEqual(events[0]!.startTime, instantOf(err.exchange.request.startNs, boot));
  const method = loadSkyWalkingGrpc().skywalking.v3.SpanAttachedEventReportService.service.collect;
  assert.equal(method.requestDeserialize(method.requestSerialize(events[1]!)).traceContext?.type, 'SKYWALKING');
  // only what the settings require
  const onlyResponse = samples('{"RequireCompleteRequest":false,"RequireCompleteResponse":true}')[0]!;
  assert.deepEqual(
    sampledTraceEvents(onlyResponse, traffic, { bootTimeEpochNs: boot }).map((e) => e.event),
    ['HTTP Response Sampling'],
  );
});

function message(head: string, body: Buffer | string = ''): HttpMessage {
  let out: HttpMessage | undefined;
  const c = new Http1Connection((e) => (out = e.response));
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  c.push({ direction: 'ingress', data: Buffer.from('GET / HTTP/1.1\r\n\r\n'), startNs: 0, endNs: 1 });
  c.push({
    direction: 'egress',
    data: Buffer.concat([Buffer.from(`${head}Content-Length: ${b.length}\r\n\r\n`), b]),
    startNs: 2,
    endNs: 3,
  });
  return out!;
}

test('content: gzip inflated, charsets decoded, non-text media types named, truncated to the max size', () => {
  const gz = message(
    'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\n',
    gzipSync('<h1>hello gzip</h1>'),
  );
  assert.match(readableContent(gz, 'UTF-8'), /\r\n\r\n<h1>hello gzip<\/h1>$/);
  const latin1 = message(
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n',
    Buffer.from([0x63, 0x61, 0x66, 0xe9]),
  );
  assert.match(readableContent(latin1, 'UTF-8'), /café$/);
  const json = message('HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n', '{"a":1}');
  assert.match(readableContent(json, 'UTF-8'), /\{"a":1\}$/);
  const png = message('HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n', Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  assert.match(readableContent(png, 'UTF-8'), /\r\n\r\n\[not plain, current content type: image\/png\]$/);
  const noType = message('HTTP/1.1 200 OK\r\n', 'plain by default');
  assert.match(readableContent(noType, 'UTF-8'), /plain by default$/);
  const long = message('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n', 'x'.repeat(1000));
  const head = long.head.length;
  assert.equal(Buffer.byteLength(readableContent(long, 'UTF-8', head + 10)), head + 10);
  assert.equal(readableContent(long, 'UTF-8', 8), 'HTTP/1.1', 'the header section alone is cut too');
  const utf8 = message('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n', 'ééé');
  assert.equal(
    readableContent(utf8, 'UTF-8', utf8.head.length + 3),
    `${utf8.head.toString()}é`,
    'cut on a character boundary',
  );
});

test('sizes print as upstream (go-units BytesSize)', () => {
  assert.deepEqual([0, 129, 1024, 4053, 1_048_576, 52_428_800].map(humanBytes), [
    '0B',
    '129B',
    '1KiB',
    '3.958KiB',
    '1MiB',
    '50MiB',
  ]);
});

test('nginx traffic: W3C traceparent samples, the gzip chunked body inflated in the response event', () => {
  const json = JSON.parse(readFileSync(new URL('./http1/fixtures/nginx-keepalive.json', import.meta.url), 'utf8')) as {
    segments: Array<{ direction: Direction; startNs: number; endNs: number; data: string }>;
  };
  const exchanges: HttpExchange[] = [];
  const c = new Http1Connection((e) => exchanges.push(e));
  for (const s of json.segments) c.push({ ...s, data: Buffer.from(s.data, 'base64') });
  const rules = new SamplingRules();
  rules.update(
    parseNetworkSamplings(
      '{"NetworkSamplings":[{"When4xx":true,"When5xx":true,"Settings":{"RequireCompleteResponse":true}}]}',
    ),
  );
  const sampler = new HttpSampler();
  for (const e of exchanges) sampler.consider(rules, e);
  const samples = sampler.drain();
  assert.deepEqual(
    samples.map((s) => [s.reason, s.uri, s.trace.provider, s.trace.traceId]),
    [
      ['status_4xx', '/nothing-here', 'w3c', '0af7651916cd43dd8448eb211c80319c'],
      ['status_4xx', '/teapot', 'w3c', '0af7651916cd43dd8448eb211c80319c'],
      ['status_5xx', '/fail', 'w3c', '0af7651916cd43dd8448eb211c80319c'],
    ],
  );
  const [event] = sampledTraceEvents(samples[2]!, traffic, { bootTimeEpochNs: 0n });
  assert.equal(event!.traceContext?.type, 'ZIPKIN');
  assert.match(event!.tags!.find((t) => t.key === 'data_content')!.value!, /<center>nginx\/1\.22\.1<\/center>/);
  // the gzip'd chunked answer (no trace header: not sampled) reads back as the file
  const gz = exchanges[5]!.response;
  const text = readableContent(gz, 'UTF-8');
  assert.equal(text.slice(gz.head.length).length, exchanges[1]!.response.bodySize);
  assert.equal(text.slice(gz.head.length), exchanges[1]!.response.body.toString());
  assert.match(text.slice(gz.head.length), /^[A-Za-z0-9+/=\n]+$/);
});
