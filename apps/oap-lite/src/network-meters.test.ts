/**
 * Network profiling meters over real sockets: rover_net_p_* collections through
 * MeterReportService.collectBatch become process_relation_* metrics, the instance's process
 * topology and MQE answers, as the stock UI's Network Profiling tab and ProcessRelation
 * dashboards ask for them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AgentClient,
  execExpression,
  graphqlOk,
  hostProcess,
  minuteDuration,
  netHistogram,
  netMeterCollection,
  netSingle,
  type NetLabels,
} from '@swlite/testkit';
import { instanceId, processId, serviceId } from './core/ids';
import { BUNDLED_TEMPLATES } from './services/ui-template-service';
import { startTestOap, type TestOap } from './testing/start';

const SVC = 'net-svc';
const INST = 'net-inst';
const INSTANCE_ID = instanceId(serviceId(SVC), INST);
const pid = (name: string) => processId(INSTANCE_ID, name);

const TOPOLOGY = `query queryData($serviceInstanceId: ID!, $duration: Duration!) {
  topology: getProcessTopology(serviceInstanceId: $serviceInstanceId, duration: $duration) {
    nodes { id name isReal serviceName serviceId serviceInstanceId serviceInstanceName }
    calls { id source detectPoints target sourceComponents targetComponents } } }`;

type Labels = NetLabels;
/** A collection of this test's instance. */
const collection = (timestamp: number, meters: Parameters<typeof netMeterCollection>[2]) =>
  netMeterCollection({ service: SVC, instance: INST }, timestamp, meters);
const single = netSingle;
const histogram = netHistogram;

const HTTP_CLIENT: Labels = { side: 'client', protocol: 'http', is_ssl: 'false' };

describe('network profiling meters over gRPC, GraphQL and MQE', () => {
  let oap: TestOap;
  let agent: AgentClient;
  const t = Math.floor(Date.now() / 60_000) * 60_000 + 5_000;
  const duration = minuteDuration(t, t);
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
    agent = new AgentClient(oap.grpcAddress, 'rover-net');
    await agent.reportProcesses([
      hostProcess('client', { service: SVC, instance: INST, layer: 'K8S_SERVICE', pid: 100 }),
      hostProcess('server', { service: SVC, instance: INST, layer: 'K8S_SERVICE', pid: 101 }),
    ]);
    const cs = { client_process_id: pid('client'), server_process_id: pid('server') };
    // two 2-second reports of the client side in one minute, one of the server side
    const clientReport = (at: number, requests: number, duration: number) =>
      collection(at, [
        single('http1_request_counter', requests, { ...cs, ...HTTP_CLIENT }),
        single('http1_response_status_counter', requests - 1, { ...cs, ...HTTP_CLIENT, code: '200' }),
        single('http1_response_status_counter', 1, { ...cs, ...HTTP_CLIENT, code: '500' }),
        single('http1_client_duration_avg', duration, { ...cs, ...HTTP_CLIENT }),
        histogram(
          'http1_client_duration_histogram',
          [
            [0, 0],
            [50, 10],
            [100, 15],
            [500, 5],
          ],
          { ...cs, ...HTTP_CLIENT },
        ),
        single('client_write_counts_counter', 4, { ...cs, ...HTTP_CLIENT }),
        single('client_write_counts_counter', 2, {
          client_process_id: pid('client'),
          server_local: 'true',
          ...HTTP_CLIENT,
        }),
        single('client_write_counts_counter', 3, {
          client_process_id: pid('client'),
          server_address: '10.0.0.9:443',
          side: 'client',
          protocol: 'unknown',
          is_ssl: 'true',
        }),
      ]);
    await agent.sendMeters([clientReport(t, 30, 100), clientReport(t + 2_000, 30, 200)]);
    await agent.sendMeters([
      collection(t + 1_000, [
        single('server_read_counts_counter', 7, { ...cs, side: 'server', protocol: 'http', is_ssl: 'false' }),
      ]),
    ]);
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
  });

  it('draws the process topology of the instance, with virtual peers', async () => {
    const { topology } = await graphqlOk(oap.graphqlUrl, TOPOLOGY, { serviceInstanceId: INSTANCE_ID, duration });
    const node = (name: string, isReal: boolean) => ({
      id: pid(name),
      name,
      isReal,
      serviceName: SVC,
      serviceId: serviceId(SVC),
      serviceInstanceId: INSTANCE_ID,
      serviceInstanceName: INST,
    });
    const byId = <T extends { id: string }>(list: T[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(
      byId(topology.nodes),
      byId([node('client', true), node('server', true), node('UNKNOWN_LOCAL', false), node('UNKNOWN_REMOTE', false)]),
    );
    const call = (server: string, detectPoints: string[], source: string[], target: string[]) => ({
      id: `${pid('client')}-${pid(server)}`,
      source: pid('client'),
      target: pid(server),
      detectPoints,
      sourceComponents: source,
      targetComponents: target,
    });
    assert.deepEqual(
      byId(topology.calls.map((c: { detectPoints: string[] }) => ({ ...c, detectPoints: [...c.detectPoints].sort() }))),
      byId([
        call('server', ['CLIENT', 'SERVER'], ['http'], ['http']),
        call('UNKNOWN_LOCAL', ['CLIENT'], ['http'], []),
        call('UNKNOWN_REMOTE', ['CLIENT'], ['tls'], []),
      ]),
    );
    // another minute has nothing
    const earlier = minuteDuration(t - 600_000, t - 60_000);
    const none = await graphqlOk(oap.graphqlUrl, TOPOLOGY, { serviceInstanceId: INSTANCE_ID, duration: earlier });
    assert.deepEqual(none.topology, { nodes: [], calls: [] });
  });

  const series = async (expression: string, entity: Record<string, unknown> = relation, d = duration) => {
    const r = await execExpression(oap.graphqlUrl, expression, entity, d);
    assert.equal(r.error, null, expression);
    return {
      type: r.type,
      series: r.results.map((s) => [
        s.metric.labels.map((l) => `${l.key}=${l.value}`).join(','),
        s.values.map((v) => v.value),
      ]),
    };
  };

  it('answers the per-minute metrics of a process relation', async () => {
    assert.deepEqual(await series('process_relation_http1_request_cpm'), {
      type: 'TIME_SERIES_VALUES',
      series: [['', ['60']]],
    });
    assert.deepEqual((await series('process_relation_http1_client_duration')).series, [['', ['150']]]);
    assert.deepEqual((await series('process_relation_http1_response_status_cpm')).series, [
      ['code=200', ['58']],
      ['code=500', ['2']],
    ]);
    assert.deepEqual((await series("process_relation_http1_response_status_cpm{code='500'}")).series, [
      ['code=500', ['2']],
    ]);
    assert.deepEqual((await series('process_relation_client_write_cpm')).series, [['', ['8']]]);
    assert.deepEqual((await series('process_relation_server_read_cpm')).series, [['', ['7']]]);
    assert.deepEqual(
      (await series('process_relation_client_write_cpm', { ...relation, destProcessName: 'UNKNOWN_REMOTE' })).series,
      [['', ['6']]],
    );
    assert.deepEqual(
      (await series('process_relation_client_write_cpm', { ...relation, destProcessName: 'UNKNOWN_LOCAL' })).series,
      [['', ['4']]],
    );
  });

  it('answers percentiles labelled p, and arithmetic as the dashboards write it', async () => {
    assert.deepEqual(await series('process_relation_http1_client_duration_percentile'), {
      type: 'TIME_SERIES_VALUES',
      series: [
        ['p=50', ['100']],
        ['p=70', ['100']],
        ['p=90', ['500']],
        ['p=99', ['500']],
      ],
    });
    assert.deepEqual((await series("process_relation_http1_client_duration_percentile{p='50,99'}")).series, [
      ['p=50', ['100']],
      ['p=99', ['500']],
    ]);
    assert.deepEqual((await series('process_relation_http1_client_duration_percentile/1000')).series, [
      ['p=50', ['0.1']],
      ['p=70', ['0.1']],
      ['p=90', ['0.5']],
      ['p=99', ['0.5']],
    ]);
    assert.deepEqual((await series('process_relation_http1_request_cpm/1024')).series, [['', ['0.059']]]);
    assert.deepEqual((await series('process_relation_http1_request_cpm + process_relation_client_write_cpm')).series, [
      ['', ['68']],
    ]);
  });

  it('reads SUM_PER_MIN per minute of an hour, and nothing without the relation entity', async () => {
    const hour = new Date(t);
    const p = (n: number) => String(n).padStart(2, '0');
    const h = `${hour.getFullYear()}-${p(hour.getMonth() + 1)}-${p(hour.getDate())} ${p(hour.getHours())}`;
    assert.deepEqual(
      (await series('process_relation_http1_request_cpm', relation, { start: h, end: h, step: 'HOUR' })).series,
      [['', ['1']]],
    );
    const r = await execExpression(
      oap.graphqlUrl,
      'process_relation_http1_request_cpm',
      { ...relation, destProcessName: null },
      duration,
    );
    assert.deepEqual([r.type, r.results.length, r.error], ['UNKNOWN', 0, null]);
  });

  it('evaluates every expression of the bundled process relation dashboards', async () => {
    type Widget = { expressions?: string[]; children?: Array<{ children: Widget[] }> };
    const expressions = (list: Widget[]): string[] =>
      list.flatMap((w) => [
        ...(w.expressions ?? []),
        ...(w.children ?? []).flatMap((tab) => expressions(tab.children)),
      ]);
    const all = new Set(
      BUNDLED_TEMPLATES.filter((t) => t.configuration.entity === 'ProcessRelation').flatMap((t) =>
        expressions(t.configuration.children as Widget[]),
      ),
    );
    assert.ok(all.size >= 30, `${all.size} expressions`);
    for (const expression of all) {
      const r = await execExpression(oap.graphqlUrl, expression, relation, duration);
      assert.equal(r.error, null, expression);
      assert.ok(['TIME_SERIES_VALUES', 'RECORD_LIST'].includes(r.type), `${expression}: ${r.type}`);
    }
  });
});
