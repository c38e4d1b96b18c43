/**
 * Sampled HTTP exchanges over real sockets: rover's sampled-trace logs (LogReportService) become
 * sampled_*_trace_record rows read by readRecords and MQE as the ProcessRelation dashboard reads
 * them, and its raw request/response events (SpanAttachedEventReportService) are shown by
 * queryTrace, where the UI's trace view (opened from a record's trace link) reads them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SpanAttachedEvent } from '@swlite/protocol';
import {
  AgentClient,
  execExpression,
  graphqlOk,
  hostProcess,
  minuteDuration,
  sampledTraceLog,
  type SampledExchange,
} from '@swlite/testkit';
import { instanceId, processId, serviceId } from './core/ids';
import { startTestOap, type TestOap } from './testing/start';

const SVC = 'host-svc';
const INST = 'host-1';
const INSTANCE_ID = instanceId(serviceId(SVC), INST);
const pid = (name: string) => processId(INSTANCE_ID, name);

// a host rover's layer: the OAP has no LAL rule for it and would drop these
const sampledLog = (
  traceId: string,
  exchange: Omit<SampledExchange, 'client_process' | 'server_process'> & Partial<SampledExchange>,
) =>
  sampledTraceLog({ service: SVC, instance: INST, layer: 'OS_LINUX' }, traceId, {
    client_process: { process_id: pid('client') },
    server_process: { process_id: pid('server') },
    ...exchange,
  });

const RECORDS = `query readRecords($condition: RecordCondition!, $duration: Duration!) {
  readRecords(condition: $condition, duration: $duration) { id name value refId } }`;
const TOPOLOGY = `query ($serviceInstanceId: ID!, $duration: Duration!) {
  getProcessTopology(serviceInstanceId: $serviceInstanceId, duration: $duration) {
    nodes { id name isReal } calls { id source target detectPoints sourceComponents targetComponents } } }`;

describe('sampled traces and attached events over gRPC and GraphQL', () => {
  let oap: TestOap;
  let agent: AgentClient;
  const t0 = Date.now();
  const duration = () => minuteDuration(t0 - 60_000, Date.now() + 60_000);
  const relation = {
    serviceName: SVC,
    normal: true,
    serviceInstanceName: INST,
    processName: 'client',
    destServiceName: SVC,
    destNormal: true,
    destServiceInstanceName: INST,
    destProcessName: 'server',
  };

  before(async () => {
    oap = await startTestOap();
    agent = new AgentClient(oap.grpcAddress, 'rover-host');
    await agent.reportProcesses([
      hostProcess('client', { service: SVC, instance: INST, pid: 100 }),
      hostProcess('server', { service: SVC, instance: INST, pid: 101 }),
    ]);
    const answer = await agent.sendLogs([
      sampledLog('t-slow', { uri: '/slow', reason: 'slow', latency: 1600, status: 200 }),
      sampledLog('t-slow-2', { uri: '/slow?x=1', reason: 'slow', latency: 1500, status: 200 }),
      sampledLog('t-err', { uri: '/err', reason: 'status_5xx', latency: 20, status: 500 }),
      // the server's own sample of the same exchange: the same relation
      sampledLog('t-err-s', { uri: '/err', reason: 'status_5xx', latency: 18, detect_point: 'server' }),
      sampledLog('t-404', {
        uri: '/missing',
        reason: 'status_4xx',
        latency: 3,
        server_process: { address: '10.0.0.9:443' },
        ssl: true,
      }),
      // not a sampled trace: accepted, not kept
      { ...sampledLog('t-other', { uri: '/x', reason: 'slow', latency: 1 }), tags: { data: [] } },
      // a sampled trace without a trace id: dropped as the OAP drops it
      { ...sampledLog('', { uri: '/x', reason: 'slow', latency: 1 }) },
      sampledLog('t-bad-reason', { uri: '/x', reason: 'fast', latency: 1 }),
    ]);
    assert.deepEqual(answer.commands, []);
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
  });

  it('lists the relation sampled records by latency through readRecords', async () => {
    const read = async (name: string, topN = 20, order = 'DES', parentEntity: Record<string, unknown> = relation) =>
      (
        await graphqlOk(oap.graphqlUrl, RECORDS, {
          condition: { name, parentEntity, topN, order },
          duration: duration(),
        })
      ).readRecords;
    assert.deepEqual(await read('sampled_slow_trace_record'), [
      { id: 't-slow', name: '/slow', value: '1600', refId: 't-slow' },
      { id: 't-slow-2', name: '/slow?x=1', value: '1500', refId: 't-slow-2' },
    ]);
    assert.deepEqual(
      (await read('sampled_slow_trace_record', 1, 'ASC')).map((r: { id: string }) => r.id),
      ['t-slow-2'],
    );
    assert.deepEqual(
      (await read('sampled_status_5xx_trace_record')).map((r: { id: string }) => r.id),
      ['t-err', 't-err-s'],
    );
    // the 4xx went to the virtual remote peer
    assert.deepEqual(await read('sampled_status_4xx_trace_record'), []);
    assert.deepEqual(
      await read('sampled_status_4xx_trace_record', 20, 'DES', { ...relation, destProcessName: 'UNKNOWN_REMOTE' }),
      [{ id: 't-404', name: '/missing', value: '3', refId: 't-404' }],
    );
  });

  it('answers top_n and the bare record name (the stock widgets) in MQE', async () => {
    const top = await execExpression(
      oap.graphqlUrl,
      'top_n(sampled_status_5xx_trace_record, 1, des)',
      relation,
      duration(),
    );
    assert.deepEqual(top, {
      type: 'RECORD_LIST',
      error: null,
      results: [{ metric: { labels: [] }, values: [{ id: '/err', value: '20', traceID: 't-err', owner: null }] }],
    });
    const bare = await execExpression(oap.graphqlUrl, 'sampled_slow_trace_record', relation, duration());
    assert.equal(bare.type, 'RECORD_LIST');
    assert.deepEqual(
      bare.results[0]!.values.map((v) => [v.id, v.value, v.traceID]),
      [
        ['/slow', '1600', 't-slow'],
        ['/slow?x=1', '1500', 't-slow-2'],
      ],
    );
  });

  it('marks the sampled relations in the topology, with the detect point of each side', async () => {
    const { getProcessTopology: topo } = await graphqlOk(oap.graphqlUrl, TOPOLOGY, {
      serviceInstanceId: INSTANCE_ID,
      duration: duration(),
    });
    const calls = Object.fromEntries(
      topo.calls.map((c: { target: string; detectPoints: string[]; sourceComponents: string[] }) => [
        c.target,
        [[...c.detectPoints].sort(), c.sourceComponents],
      ]),
    );
    assert.deepEqual(calls, {
      [pid('server')]: [['CLIENT', 'SERVER'], ['http']],
      [pid('UNKNOWN_REMOTE')]: [['CLIENT'], ['https']],
    });
  });

  it('shows the attached request and response in the trace view of the record', async () => {
    const now = Math.floor(Date.now() / 1000);
    const event = (name: string, nanos: number, tags: Record<string, string>): SpanAttachedEvent => ({
      startTime: { seconds: now, nanos },
      endTime: { seconds: now, nanos: nanos + 1000 },
      event: name,
      tags: Object.entries({ service_name: SVC, service_instance_name: INST, process_name: 'client', ...tags }).map(
        ([key, value]) => ({ key, value }),
      ),
      summary: [],
      traceContext: { type: 'SKYWALKING', traceId: 't-slow', traceSegmentId: 'seg-1', spanId: '0' },
    });
    const answer = await agent.sendAttachedEvents([
      event('HTTP Response Sampling', 500, {
        data_type: 'response',
        data_direction: 'inbound',
        data_content: 'HTTP/1.1 200 OK\r\n\r\nslow body',
      }),
      event('HTTP Request Sampling', 100, {
        data_type: 'request',
        data_direction: 'outbound',
        data_content: 'GET /slow HTTP/1.1\r\n\r\n',
      }),
      { ...event('Syscall Write', 200, { package_size: '20B' }), summary: [{ key: 'package_count', value: 1 }] },
      // no trace: not kept
      { ...event('HTTP Request Sampling', 1, {}), traceContext: null },
    ]);
    assert.deepEqual(answer.commands, []);
    const { trace } = await graphqlOk(
      oap.graphqlUrl,
      `query ($traceId: ID!) { trace: queryTrace(traceId: $traceId) { spans { traceId segmentId spanId serviceCode serviceInstanceName
        attachedEvents { startTime { seconds nanos } event endTime { seconds nanos } tags { key value } summary { key value } } } } }`,
      { traceId: 't-slow' },
    );
    assert.equal(trace.spans.length, 1);
    const span = trace.spans[0];
    assert.deepEqual(
      [span.traceId, span.segmentId, span.spanId, span.serviceCode, span.serviceInstanceName],
      ['t-slow', 'seg-1', 0, SVC, INST],
    );
    assert.deepEqual(
      span.attachedEvents.map((e: { event: string }) => e.event),
      ['HTTP Request Sampling', 'Syscall Write', 'HTTP Response Sampling'],
    );
    const response = span.attachedEvents[2];
    assert.deepEqual(response.startTime, { seconds: now, nanos: 500 });
    assert.ok(
      response.tags.some(
        (t: { key: string; value: string }) => t.key === 'data_content' && t.value.endsWith('slow body'),
      ),
    );
    assert.deepEqual(span.attachedEvents[1].summary, [{ key: 'package_count', value: 1 }]);
    const none = await graphqlOk(oap.graphqlUrl, `query { queryTrace(traceId: "t-none") { spans { spanId } } }`);
    assert.deepEqual(none.queryTrace, { spans: [] });
  });
});
