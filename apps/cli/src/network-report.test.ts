/** An edge's metrics over several minutes, summed and averaged as the report says. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EdgeMetrics, ProcessTopology } from './api';
import { edgeReport, exchangeDetails, relationEntity } from './network-report';

const series = (values: Array<number | null>, labels: Record<string, string> = {}) => ({
  metric: { labels: Object.entries(labels).map(([key, value]) => ({ key, value })) },
  values: values.map((v, i) => ({ id: String(i), value: v === null ? null : String(v) })),
});
const answer = (...results: ReturnType<typeof series>[]) => ({
  type: 'TIME_SERIES_VALUES' as const,
  error: null,
  results,
});
const none = answer();

const TOPOLOGY: ProcessTopology = {
  nodes: [
    {
      id: 'c',
      name: 'client',
      isReal: true,
      serviceId: 'c2hvcA==.1',
      serviceName: 'shop',
      serviceInstanceId: 'i',
      serviceInstanceName: 'node-1',
    },
    {
      id: 's',
      name: 'UNKNOWN_REMOTE',
      isReal: false,
      serviceId: 'c2hvcA==.0',
      serviceName: 'shop',
      serviceInstanceId: 'i',
      serviceInstanceName: 'node-1',
    },
  ],
  calls: [
    {
      id: 'c-s',
      source: 'c',
      target: 's',
      detectPoints: ['SERVER', 'CLIENT'],
      sourceComponents: ['http'],
      targetComponents: ['http'],
    },
  ],
};

const metrics = (over: Partial<EdgeMetrics>): EdgeMetrics => ({
  requestCpm: none,
  statusCpm: none,
  clientDuration: none,
  serverDuration: none,
  clientDurationP99: none,
  serverDurationP99: none,
  clientWriteBytes: none,
  clientReadBytes: none,
  serverWriteBytes: none,
  serverReadBytes: none,
  clientWriteCpm: none,
  serverWriteCpm: none,
  clientRtt: none,
  slow: [],
  status4xx: [],
  status5xx: [],
  ...over,
});

describe('edge report', () => {
  it('sums counts over the minutes, weighs average latency by requests, takes the worst minute p99', () => {
    const warnings = new Set<string>();
    const report = edgeReport(
      TOPOLOGY,
      TOPOLOGY.calls[0]!,
      metrics({
        // three minutes, the last without data
        requestCpm: answer(series([90, 10, null])),
        statusCpm: answer(series([88, 10, null], { code: '200' }), series([2, null, null], { code: '503' })),
        clientDuration: answer(series([10, 100, null])),
        clientDurationP99: answer(series([50, 250, null], { p: '99' })),
        clientWriteBytes: answer(series([1000, 24, null])),
        status5xx: [{ id: 't1', name: '/err', value: '12', refId: 't1' }],
      }),
      2,
      warnings,
    );
    assert.deepEqual(report.http, {
      requests: 100,
      perMinute: 50,
      statusCodes: { 200: 98, 503: 2 },
      client: { avgMs: 19, p99Ms: 250 },
      server: { avgMs: null, p99Ms: null },
    });
    assert.deepEqual(report.bytes, { clientWrite: 1024, clientRead: null, serverWrite: null, serverRead: null });
    assert.deepEqual(report.detectPoints, ['CLIENT', 'SERVER']);
    assert.deepEqual(report.records['5xx'], [
      { kind: '5xx', uri: '/err', latencyMs: 12, traceId: 't1', status: null, time: null },
    ]);
    assert.deepEqual([...warnings], []);
  });

  it('has no HTTP part without requests, and passes MQE errors on as warnings', () => {
    const warnings = new Set<string>();
    const report = edgeReport(
      TOPOLOGY,
      TOPOLOGY.calls[0]!,
      metrics({
        requestCpm: {
          type: 'UNKNOWN',
          error: 'Metric: [process_relation_http1_request_cpm] does not exist.',
          results: [],
        },
      }),
      1,
      warnings,
    );
    assert.equal(report.http, null);
    assert.deepEqual([...warnings], ['requestCpm: Metric: [process_relation_http1_request_cpm] does not exist.']);
  });

  it("reads a sampled exchange's status and start from the request and response attached to its trace", () => {
    const event = (name: string, seconds: number, content: string) => ({
      event: name,
      startTime: { seconds, nanos: 250_000_000 },
      tags: [{ key: 'data_content', value: content }],
    });
    assert.deepEqual(
      exchangeDetails([
        event('Syscall Write', 99, ''),
        event('HTTP Response Sampling', 101, 'HTTP/1.1 404 Not Found\r\n\r\n'),
        event('HTTP Request Sampling', 100, 'GET / HTTP/1.1\r\n\r\n'),
      ]),
      { status: 404, time: 100_250 },
    );
    assert.deepEqual(
      exchangeDetails([event('HTTP Response Sampling', 5, '[not plain, current content type: image/png]')]),
      {
        status: null,
        time: 5250,
      },
    );
    assert.deepEqual(exchangeDetails([]), { status: null, time: null });
  });

  it('names the relation entity, normal or not by the service ID', () => {
    assert.deepEqual(relationEntity(TOPOLOGY.nodes[0]!, TOPOLOGY.nodes[1]!), {
      serviceName: 'shop',
      normal: true,
      serviceInstanceName: 'node-1',
      processName: 'client',
      destServiceName: 'shop',
      destNormal: false,
      destServiceInstanceName: 'node-1',
      destProcessName: 'UNKNOWN_REMOTE',
    });
  });
});
