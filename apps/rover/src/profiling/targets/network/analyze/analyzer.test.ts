import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NetworkAnalyzer, type ConnectionState } from './analyzer';
import type { MonitoredProcess, TrafficContext } from './connections';
import type { Direction, SocketSegment } from './http1/message';

function fixture(name: string): SocketSegment[] {
  const json = JSON.parse(readFileSync(new URL(`./http1/fixtures/${name}.json`, import.meta.url), 'utf8')) as {
    segments: Array<{ direction: Direction; startNs: number; endNs: number; data: string }>;
  };
  return json.segments.map((s) => ({ ...s, data: Buffer.from(s.data, 'base64') }));
}

const proc = (pid: number, name: string): MonitoredProcess => ({
  pid,
  id: `id-${name}`,
  service: 'svc',
  instance: 'inst',
  name,
  layer: 'K8S_SERVICE',
});
const ctx: TrafficContext<ConnectionState> = {
  processes: new Map([
    [100, proc(100, 'client')],
    [200, proc(200, 'server')],
  ]),
  hostAddresses: new Set(['127.0.0.1']),
};
const CLIENT = { pid: 100, fd: 7, id: 11n };
const SERVER = { pid: 200, fd: 9, id: 22n };
const cAddr = { ip: '127.0.0.1', port: 51000 };
const sAddr = { ip: '127.0.0.1', port: 8080 };

test('both ends of a loopback keep-alive connection: meters per side, samples per detect point, then idle', () => {
  const analyzer = new NetworkAnalyzer({ bootTimeEpochNs: 1_764_000_000_000_000_000n });
  analyzer.updateExtensionConfig(
    '{"NetworkSamplings":[{"URIRegex":null,"MinDuration":null,"When4xx":false,"When5xx":true,' +
      '"Settings":{"RequireCompleteRequest":true,"MaxRequestSize":null,"RequireCompleteResponse":true,"MaxResponseSize":null}}]}',
  );
  analyzer.updateExtensionConfig('null'); // a keep-alive command: rules stay
  // the client's connect has no role from the kernel here: its first request tells
  analyzer.connectionOpened(CLIENT, 'unknown', { local: cAddr, remote: sAddr }, 30_000);
  analyzer.connectionOpened(SERVER, 'server', { local: sAddr, remote: cAddr }, 20_000);
  const segments = fixture('curl-keepalive');
  for (const s of segments) {
    analyzer.socketData(SERVER, s);
    // the client sees the same bytes the other way round
    analyzer.socketData(CLIENT, { ...s, direction: s.direction === 'ingress' ? 'egress' : 'ingress' });
    const l4 = analyzer.layer4(s.direction === 'egress' ? SERVER : CLIENT);
    l4.write.count++;
    l4.write.bytes += s.data.length;
  }
  analyzer.connectionClosed(CLIENT, 5_000);
  analyzer.connectionClosed(SERVER, 6_000);

  const out = analyzer.flush(ctx, 1_764_000_100_000);
  assert.equal(out.meters.length, 1, 'one collection for the one service instance');
  const meters = out.meters[0]!.meterData!;
  const find = (name: string, side: string) =>
    meters.find(
      (m) => m.singleValue?.name === name && m.singleValue.labels!.some((l) => l.name === 'side' && l.value === side),
    );
  const clientReq = find('rover_net_p_http1_request_counter', 'client')!;
  assert.equal(clientReq.singleValue!.value, 6);
  assert.deepEqual(
    clientReq.singleValue!.labels!.map((l) => `${l.name}=${l.value}`),
    ['client_process_id=id-client', 'server_process_id=id-server', 'side=client', 'protocol=http', 'is_ssl=false'],
  );
  assert.equal(find('rover_net_p_http1_request_counter', 'server')!.singleValue!.value, 6);
  const egressBytes = segments.filter((s) => s.direction === 'egress').reduce((n, s) => n + s.data.length, 0);
  assert.equal(find('rover_net_p_server_write_bytes_counter', 'server')!.singleValue!.value, egressBytes);
  assert.equal(find('rover_net_p_client_connect_counts_counter', 'client')!.singleValue!.value, 1);
  assert.equal(find('rover_net_p_server_close_exe_time_counter', 'server')!.singleValue!.value, 6_000);
  assert.deepEqual(
    [meters[0]!.service, meters[0]!.serviceInstance, meters[0]!.timestamp],
    ['svc', 'inst', 1_764_000_100_000],
  );

  // When4xx false: only the 500, once from each end
  assert.equal(out.logs.length, 1);
  const bodies = out.logs[0]!.logs.map((l) => JSON.parse(l.body!.json!.json!));
  assert.deepEqual(
    bodies
      .map((b) => [b.uri, b.reason, b.detect_point, b.client_process.process_id, b.server_process.process_id])
      .sort(),
    [
      ['/err', 'status_5xx', 'client', 'id-client', 'id-server'],
      ['/err', 'status_5xx', 'server', 'id-client', 'id-server'],
    ],
  );
  assert.equal(out.events.length, 4);
  assert.deepEqual(
    new Set(out.events.map((e) => e.event)),
    new Set(['HTTP Request Sampling', 'HTTP Response Sampling']),
  );

  assert.equal(analyzer.connections.size, 0, 'closed connections are forgotten after their flush');
  assert.deepEqual(analyzer.flush(ctx, 1_764_000_102_000), { meters: [], logs: [], events: [] });
});

test('a bad ExtensionConfigJSON is a clear error and keeps the rules', () => {
  const analyzer = new NetworkAnalyzer({ bootTimeEpochNs: 0n });
  analyzer.updateExtensionConfig('{"NetworkSamplings":[{"MinDuration":5}]}');
  assert.throws(
    () => analyzer.updateExtensionConfig('{"NetworkSamplings":[{"MinDuration":"5"}]}'),
    /MinDuration must be an integer/,
  );
  assert.equal(analyzer.rules.ruleFor('/x')?.minDurationMs, 5);
});

test('a connection is http from its first request head: an interval before the first answer reports tcp meters as http', () => {
  const analyzer = new NetworkAnalyzer({ bootTimeEpochNs: 0n });
  // opened before the task: no role from the kernel, only the request it sends tells
  analyzer.connections.open(CLIENT, { role: 'unknown', local: cAddr, remote: sAddr });
  const request = Buffer.from('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  analyzer.socketData(CLIENT, { direction: 'egress', data: request, startNs: 1_000, endNs: 2_000 });
  const l4 = analyzer.layer4(CLIENT);
  l4.write.count++;
  l4.write.bytes += request.length;
  const meters = analyzer.flush(ctx, 1_000).meters[0]!.meterData!;
  const write = meters.find((m) => m.singleValue?.name === 'rover_net_p_client_write_bytes_counter')!;
  assert.deepEqual(
    write.singleValue!.labels!.map((l) => `${l.name}=${l.value}`),
    ['client_process_id=id-client', 'server_local=true', 'side=client', 'protocol=http', 'is_ssl=false'],
  );
  assert.equal(
    meters.some((m) => m.singleValue?.name === 'rover_net_p_http1_request_counter'),
    false,
    'no request counted before its response',
  );
});
