import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadSkyWalkingGrpc, type MeterData } from '@swlite/protocol';
import {
  addToBucket,
  bucketIndex,
  HTTP_DURATION_BUCKETS_MS,
  HTTP_SIZE_BUCKETS,
  layer4Delta,
  mergeHttp1,
  mergeLayer4,
  newHttp1,
  newLayer4,
  recordExchange,
  SOCKET_BUCKETS_NS,
} from './accumulators';
import { Http1Connection } from './http1/connection-parser';
import type { Direction, HttpExchange } from './http1/message';
import { basicLabels, http1Meters, layer4Meters, meterCollections, type MeterTraffic } from './meters';
import { SamplingRules } from './sampling';

const labels = (m: MeterData) =>
  Object.fromEntries((m.singleValue ?? m.histogram)!.labels!.map((l) => [l.name, l.value]));
const nameOf = (m: MeterData) => (m.singleValue ?? m.histogram)!.name;

const serverTraffic: MeterTraffic = {
  local: { id: 'proc-server' },
  role: 'server',
  remote: { kind: 'process', processId: 'proc-client' },
  protocol: 'http',
  isSsl: false,
};

test('labels: local process id under the role, the remote end under the peer role, side, protocol, is_ssl', () => {
  assert.deepEqual(basicLabels(serverTraffic), [
    { name: 'server_process_id', value: 'proc-server' },
    { name: 'client_process_id', value: 'proc-client' },
    { name: 'side', value: 'server' },
    { name: 'protocol', value: 'http' },
    { name: 'is_ssl', value: 'false' },
  ]);
  const unknown = basicLabels({
    ...serverTraffic,
    role: 'unknown',
    remote: { kind: 'address', address: '10.0.0.9:443' },
    isSsl: true,
    protocol: 'unknown',
  });
  assert.deepEqual(
    unknown.map((l) => `${l.name}=${l.value}`),
    ['client_process_id=proc-server', 'server_address=10.0.0.9:443', 'side=client', 'protocol=unknown', 'is_ssl=true'],
  );
  assert.equal(
    labels({ singleValue: { name: 'x', labels: basicLabels({ ...serverTraffic, remote: { kind: 'local' } }) } })
      .client_local,
    'true',
  );
});

test('histogram buckets as upstream: value counts in the last bound not above it; below the second bound is bucket 0', () => {
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS_MS, 0), 0);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS_MS, 1), 0);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS_MS, 2), 1);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS_MS, 1500), HTTP_DURATION_BUCKETS_MS.indexOf(1500));
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS_MS, 99_999), HTTP_DURATION_BUCKETS_MS.length - 1);
  assert.equal(bucketIndex(HTTP_SIZE_BUCKETS, 1047), 1, '256, 512, 1048: upstream typo kept, it is on the wire');
  assert.equal(SOCKET_BUCKETS_NS.length, 34);
});

test('layer-4 meters: counters only above zero, exe time as the interval average, non-empty buckets', () => {
  const conn1 = newLayer4();
  conn1.write = { count: 4, bytes: 1200, exeTime: 40_000 };
  conn1.read = { count: 2, bytes: 0, exeTime: 0 };
  conn1.writeRtt = { count: 2, bytes: 0, exeTime: 300 };
  addToBucket(conn1.writeExeTimeHistogram, 1, 4);
  addToBucket(conn1.writeRttHistogram, 2, 2);
  const conn2 = newLayer4();
  conn2.write = { count: 1, bytes: 100, exeTime: 60_000 };
  conn2.connect = { count: 1, bytes: 0, exeTime: 25_000 };
  addToBucket(conn2.writeExeTimeHistogram, 99); // past the last bucket: the last
  const traffic = newLayer4();
  mergeLayer4(traffic, conn1);
  mergeLayer4(traffic, conn2);
  const meters = layer4Meters(serverTraffic, traffic);
  assert.deepEqual(
    meters.map((m) => [nameOf(m), m.singleValue?.value ?? m.histogram!.values!.map((v) => [v.bucket, v.count])]),
    [
      ['rover_net_p_server_write_counts_counter', 5],
      ['rover_net_p_server_write_bytes_counter', 1300],
      ['rover_net_p_server_write_exe_time_counter', 20_000],
      ['rover_net_p_server_read_counts_counter', 2],
      ['rover_net_p_server_write_rtt_counts_counter', 2],
      ['rover_net_p_server_write_rtt_exe_time_counter', 150],
      ['rover_net_p_server_connect_counts_counter', 1],
      ['rover_net_p_server_connect_exe_time_counter', 25_000],
      ['rover_net_p_server_write_rtt_histogram', [[50, 2]]],
      [
        'rover_net_p_server_write_exe_time_histogram',
        [
          [10_000, 4],
          [5_000_000_000, 1],
        ],
      ],
    ],
  );
  assert.deepEqual(layer4Meters(serverTraffic, newLayer4()), [], 'an idle interval sends nothing');
});

test('layer-4 deltas from cumulative kernel counters', () => {
  const prev = newLayer4();
  prev.write = { count: 10, bytes: 1000, exeTime: 5000 };
  prev.readExeTimeHistogram[3] = 7;
  const cur = newLayer4();
  cur.write = { count: 12, bytes: 1500, exeTime: 5400 };
  cur.readExeTimeHistogram[3] = 9;
  const d = layer4Delta(cur, prev);
  assert.deepEqual(d.write, { count: 2, bytes: 500, exeTime: 400 });
  assert.equal(d.readExeTimeHistogram[3], 2);
  assert.deepEqual(layer4Delta(cur, undefined).write, cur.write, 'first reading: all of it');
});

function fixtureExchanges(): HttpExchange[] {
  const json = JSON.parse(readFileSync(new URL('./http1/fixtures/curl-keepalive.json', import.meta.url), 'utf8')) as {
    segments: Array<{ direction: Direction; startNs: number; endNs: number; data: string }>;
  };
  const out: HttpExchange[] = [];
  const c = new Http1Connection((e) => out.push(e));
  for (const s of json.segments) c.push({ ...s, data: Buffer.from(s.data, 'base64') });
  return out;
}

test('http1 meters from real exchanges: counts, status codes, sizes and durations', () => {
  const exchanges = fixtureExchanges();
  const perConn = newHttp1();
  const rules = new SamplingRules();
  for (const e of exchanges) recordExchange(perConn, e, rules);
  const acc = newHttp1();
  mergeHttp1(acc, perConn);
  assert.equal(perConn.server.requests, 0, 'merging empties the connection');
  const meters = http1Meters(serverTraffic, acc, false);
  const byName = (n: string) => meters.filter((m) => nameOf(m) === `rover_net_p_http1_${n}`);
  const durationsMs = exchanges.map((e) => Math.floor(e.durationNs / 1e6));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  if (durationsMs.some((d) => d > 0))
    assert.equal(byName('server_duration_avg')[0]!.singleValue!.value, mean(durationsMs));
  assert.equal(byName('request_counter')[0]!.singleValue!.value, 6);
  assert.deepEqual(
    byName('response_status_counter').map((m) => [labels(m).code, m.singleValue!.value]),
    [
      ['200', 4],
      ['500', 1],
      ['404', 1],
    ],
  );
  const reqSizes = exchanges.map((e) => e.request.headerSize + e.request.bodySize);
  assert.equal(byName('request_package_size_avg')[0]!.singleValue!.value, mean(reqSizes));
  const hist = byName('response_package_size_histogram')[0]!.histogram!.values!;
  assert.equal(hist.length, HTTP_SIZE_BUCKETS.length, 'every bucket is sent');
  assert.equal(
    hist.reduce((n, v) => n + Number(v.count), 0),
    6,
  );
  assert.deepEqual(byName('client_duration_avg'), [], 'no client-side data on a server connection');
  assert.deepEqual(labels(byName('request_counter')[0]!), {
    server_process_id: 'proc-server',
    client_process_id: 'proc-client',
    side: 'server',
    protocol: 'http',
    is_ssl: 'false',
  });
});

test('collections: one per service instance, service/instance/timestamp on the first meter only; valid collectBatch bytes', () => {
  const l4 = newLayer4();
  l4.write = { count: 1, bytes: 10, exeTime: 5 };
  const a = layer4Meters(serverTraffic, l4);
  const b = layer4Meters({ ...serverTraffic, role: 'client' }, l4);
  const cols = meterCollections(
    [
      { service: 'svc', instance: 'i1', meters: a },
      { service: 'svc', instance: 'i2', meters: b },
      { service: 'svc', instance: 'i1', meters: b },
      { service: 'svc', instance: 'i3', meters: [] },
    ],
    1_764_000_000_000,
  );
  assert.equal(cols.length, 2);
  const [first, second] = cols;
  assert.equal(first!.meterData!.length, a.length + b.length);
  assert.deepEqual(
    [first!.meterData![0]!.service, first!.meterData![0]!.serviceInstance, first!.meterData![0]!.timestamp],
    ['svc', 'i1', 1_764_000_000_000],
  );
  assert.equal(first!.meterData![1]!.service, undefined);
  assert.equal(second!.meterData![0]!.serviceInstance, 'i2');
  const method = loadSkyWalkingGrpc().skywalking.v3.MeterReportService.service.collectBatch;
  const decoded = method.requestDeserialize(method.requestSerialize(first!));
  assert.equal(decoded.meterData[0]!.singleValue!.name, 'rover_net_p_server_write_counts_counter');
  assert.equal(decoded.meterData[1]!.service, '');
});
