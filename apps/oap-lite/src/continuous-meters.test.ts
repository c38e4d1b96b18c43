/**
 * Rover's continuous-profiling meters over real sockets: MeterReportService (collectBatch as rover
 * sends them, and collect) on the agent port, read back with MQE (execExpression) over GraphQL as
 * `swctl metrics exec --service-name ... --instance-name ... --process-name ...` asks, with the
 * OAP's MAL rules (continuous-profiling.yaml) applied. Also bad input, authentication and restart.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MeterDataCollection } from '@swlite/protocol';
import {
  AgentClient,
  hostProcess,
  roverMeterCollection,
  execExpression,
  minuteDuration,
  type ExpressionResultJson,
} from '@swlite/testkit';
import { startTestOap, type TestOap } from './testing/start';

const MIN = 60_000;
/** Local start of the hour two hours ago, plus ten minutes: M and M + 1 min share an hour and a day. */
const M = (() => {
  const d = new Date(Date.now() - 2 * 3_600_000);
  d.setMinutes(10, 0, 0);
  return d.getTime();
})();
const DURATION = minuteDuration(M - 2 * MIN, M + 2 * MIN);
const IDS = [-2, -1, 0, 1, 2].map((i) => String(M + i * MIN));

const nginx = { serviceName: 'demo-service', normal: true, serviceInstanceName: 'host-1', processName: 'nginx' };
const values = (r: ExpressionResultJson) => r.results.map((s) => s.values.map((v) => v.value));
const labelsOf = (r: ExpressionResultJson) => r.results.map((s) => s.metric.labels);

/** Two checks of nginx in minute M, one in M + 1 (and a second instance in the same stream). */
const checks = (): MeterDataCollection[] => [
  roverMeterCollection(
    [
      {
        process: 'nginx',
        processCpu: 0.1234,
        threadCount: 10,
        systemLoad: 1.5,
        http: [
          { uri: '/a', errorRate: 0.5, avgResponseTime: 120.4 },
          { uri: '/b', errorRate: 0.011, avgResponseTime: 3 },
        ],
      },
    ],
    { timestamp: M + 5_000 },
  ),
  roverMeterCollection([{ process: 'nginx', processCpu: 0.42 }], { instance: 'host-2', timestamp: M + 5_000 }),
  roverMeterCollection(
    [
      {
        process: 'nginx',
        processCpu: 0.2,
        threadCount: 13,
        systemLoad: 2.25,
        http: [{ uri: '/a', errorRate: 0.25, avgResponseTime: 99.6 }],
      },
    ],
    { timestamp: M + 35_000 },
  ),
  roverMeterCollection([{ process: 'nginx', processCpu: 0.00001 }], { timestamp: M + MIN + 1_000 }),
];

describe('continuous-profiling meters: MeterReportService in, MQE out', () => {
  let oap: TestOap;
  let agent: AgentClient;
  const query = (expression: string, entity: Record<string, unknown> = nginx, duration = DURATION) =>
    execExpression(oap.graphqlUrl, expression, entity, duration);

  before(async () => {
    oap = await startTestOap();
    agent = new AgentClient(oap.grpcAddress, 'rover-1');
    await agent.reportProcesses([hostProcess('nginx'), hostProcess('worker')]);
  });
  after(async () => {
    agent.close();
    await oap.cleanup();
  });

  it('stores what collectBatch brings with the MAL rules applied, per minute', async () => {
    assert.deepEqual(await agent.sendMeters(checks()), { commands: [] });

    const cpu = await query('continuous_profiling_process_cpu');
    assert.equal(cpu.type, 'TIME_SERIES_VALUES');
    assert.equal(cpu.error, null);
    assert.deepEqual(labelsOf(cpu), [[]]);
    assert.deepEqual(
      cpu.results[0]!.values.map((v) => v.id),
      IDS,
    );
    // ×10000 per check: 1234 and 2000 average to 1617; 0.1 is at least 1
    assert.deepEqual(values(cpu), [[null, null, '1617', '1', null]]);
    assert.deepEqual(
      values(await query('continuous_profiling_process_cpu', { ...nginx, serviceInstanceName: 'host-2' })),
      [[null, null, '4200', null, null]],
    );
    // integer averages, as the OAP's avg function keeps them
    assert.deepEqual(values(await query('continuous_profiling_process_thread_count')), [
      [null, null, '11', null, null],
    ]);
    assert.deepEqual(values(await query('continuous_profiling_system_load')), [[null, null, '187', null, null]]);
  });

  it('answers labeled metrics per uri, sorted, and filters by label selectors', async () => {
    const errors = await query('continuous_profiling_http_error_rate');
    assert.equal(errors.type, 'TIME_SERIES_VALUES');
    assert.deepEqual(labelsOf(errors), [[{ key: 'uri', value: '/a' }], [{ key: 'uri', value: '/b' }]]);
    // /a: 50 and 25 → 37; /b: 1.1 rounds to 1
    assert.deepEqual(values(errors), [
      [null, null, '37', null, null],
      [null, null, '1', null, null],
    ]);
    assert.deepEqual(values(await query('continuous_profiling_http_avg_response_time')), [
      [null, null, '110', null, null],
      [null, null, '3', null, null],
    ]);
    const b = await query("continuous_profiling_http_error_rate{uri='/b'}");
    assert.deepEqual(labelsOf(b), [[{ key: 'uri', value: '/b' }]]);
    assert.deepEqual(labelsOf(await query('continuous_profiling_http_error_rate{uri="/b, /a"}')).length, 2);
    const none = await query("continuous_profiling_http_error_rate{uri='/nope'}");
    assert.deepEqual([none.type, none.results, none.error], ['TIME_SERIES_VALUES', [], null]);
    assert.deepEqual((await query("continuous_profiling_http_error_rate{status='500'}")).results, []);
    // a selector on a single-value metric is ignored, as the OAP does
    assert.deepEqual(values(await query("continuous_profiling_process_cpu{uri='/b'}")), [
      [null, null, '1617', '1', null],
    ]);
  });

  it('takes a whole collect stream as one input (service, instance and time on its first MeterData)', async () => {
    const [first, ...rest] = roverMeterCollection(
      [
        { process: 'worker', processCpu: 0.5, threadCount: 4 },
        { process: 'worker', processCpu: 0.3 },
      ],
      { timestamp: M + 2_000 },
    ).meterData!;
    const bare = rest.map((m) => ({ ...m, service: '', serviceInstance: '', timestamp: 0 }));
    assert.deepEqual(await agent.collectMeters([first!, ...bare]), { commands: [] });
    const worker = { ...nginx, processName: 'worker' };
    // the stream's two samples average before they count once: (5000 + 3000) / 2
    assert.deepEqual(values(await query('continuous_profiling_process_cpu', worker)), [
      [null, null, '4000', null, null],
    ]);
    await agent.collectMeters([
      { ...first!, timestamp: M + 3_000, singleValue: { ...first!.singleValue!, value: 0.1 } },
    ]);
    assert.deepEqual(values(await query('continuous_profiling_process_cpu', worker)), [
      [null, null, '2500', null, null],
    ]);
  });

  it('ignores meters no rule reads, and stores the rest of their input', async () => {
    const collection = roverMeterCollection([{ process: 'ignored-neighbour', processCpu: 0.5 }], {
      timestamp: M + 4_000,
    });
    collection.meterData!.push(
      { ...collection.meterData![0]!, singleValue: { name: 'jvm_threads', labels: [], value: 3 } },
      { histogram: { name: 'http_latency', labels: [], values: [{ bucket: 0, count: 4 }] } },
      {}, // carries no meter at all
    );
    assert.deepEqual(await agent.sendMeters([collection]), { commands: [] });
    assert.deepEqual(
      values(await query('continuous_profiling_process_cpu', { ...nginx, processName: 'ignored-neighbour' })),
      [[null, null, '5000', null, null]],
    );
    const meterName = await query('rover_con_p_process_cpu');
    assert.deepEqual(
      [meterName.type, meterName.error],
      ['UNKNOWN', 'Metric: [rover_con_p_process_cpu] does not exist.'],
    );
    assert.deepEqual((await query('jvm_threads')).error, 'Metric: [jvm_threads] does not exist.');
  });

  it('answers nothing for an entity that is not a process, and empty points for an unknown one', async () => {
    const serviceOnly = await query('continuous_profiling_process_cpu', { serviceName: 'demo-service', normal: true });
    assert.deepEqual([serviceOnly.type, serviceOnly.results, serviceOnly.error], ['UNKNOWN', [], null]);
    const labeled = await query('continuous_profiling_http_error_rate', { serviceName: 'demo-service', normal: true });
    assert.deepEqual([labeled.type, labeled.results], ['TIME_SERIES_VALUES', []]);
    const unknown = await query('continuous_profiling_process_cpu', { ...nginx, processName: 'nope' });
    assert.deepEqual([unknown.type, values(unknown)], ['TIME_SERIES_VALUES', [[null, null, null, null, null]]]);
    // a conjectured (normal: false) service is another entity: meters always name normal ones
    assert.deepEqual(values(await query('continuous_profiling_process_cpu', { ...nginx, normal: false })), [
      [null, null, null, null, null],
    ]);
    assert.deepEqual(
      (await query('continuous_profiling_http_error_rate', { ...nginx, processName: 'nope' })).results,
      [],
    );
  });

  it('answers the OAP error texts for invalid expressions and unknown metrics', async () => {
    const cases: Array<[string, string]> = [
      ['continuous_profiling_http_error_rate{uri=}', "line 1:41 mismatched input '}' expecting VALUE_STRING"],
      ['continuous_profiling_process_cpu $', "line 1:33 token recognition error at: '$'"],
      ['(continuous_profiling_process_cpu', "line 1:33 missing ')' at '<EOF>'"],
      ['', "line 1:0 no viable alternative at input '<EOF>'"],
      ['service_cpm', 'Metric: [service_cpm] does not exist.'],
      ['avg(service_sla) + continuous_profiling_process_cpu', 'Metric: [service_sla] does not exist.'],
    ];
    for (const [expression, error] of cases) {
      const r = await query(expression);
      assert.deepEqual([r.type, r.error, r.results], ['UNKNOWN', error, []], expression);
    }
    // valid MQE over known metrics that oap-lite does not evaluate: the empty answer, no error
    const avg = await query('avg(continuous_profiling_process_cpu)');
    assert.deepEqual([avg.type, avg.error, avg.results], ['UNKNOWN', null, []]);
    // parentheses around a metric are just that
    assert.deepEqual(values(await query('((continuous_profiling_system_load))')), [[null, null, '187', null, null]]);
  });

  it('adds up the minutes of an hour or a day for HOUR and DAY steps', async () => {
    const pad = (n: number) => String(n).padStart(2, '0');
    const d = new Date(M);
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const hour = `${day} ${pad(d.getHours())}`;
    const hourly = await query('continuous_profiling_process_cpu', nginx, { start: hour, end: hour, step: 'HOUR' });
    // minutes M (3234 over 2) and M + 1 (1 over 1): 3235 / 3
    assert.deepEqual(hourly.results[0]!.values, [
      { id: String(new Date(d).setMinutes(0, 0, 0)), value: '1078', traceID: null, owner: null },
    ]);
    const daily = await query('continuous_profiling_process_cpu', nginx, { start: day, end: day, step: 'DAY' });
    assert.deepEqual(values(daily), [['1078']]);
  });

  it('refuses malformed input with INVALID_ARGUMENT, stores nothing of that stream, and keeps serving', async () => {
    const victim = { ...nginx, processName: 'half-stored' };
    const good = () => roverMeterCollection([{ process: 'half-stored', processCpu: 0.5 }], { timestamp: M + 1_000 });
    const withMeter = (change: (c: MeterDataCollection) => void) => {
      const c = good();
      change(c);
      return c;
    };
    const bad: Array<[string, MeterDataCollection, RegExp]> = [
      ['no service', withMeter((c) => (c.meterData![0]!.service = '')), /without service/],
      ['no timestamp', withMeter((c) => (c.meterData![0]!.timestamp = 0)), /without timestamp/],
      ['not a number', withMeter((c) => (c.meterData![0]!.singleValue!.value = Number.NaN)), /value NaN/],
      ['infinite', withMeter((c) => (c.meterData![0]!.singleValue!.value = Infinity)), /value Infinity/],
      [
        'a label twice',
        withMeter((c) => c.meterData![0]!.singleValue!.labels!.push({ name: 'layer', value: 'MESH' })),
        /label "layer" twice/,
      ],
      [
        'a label the backend sets',
        withMeter((c) => c.meterData![0]!.singleValue!.labels!.push({ name: 'instance', value: 'x' })),
        /label named "instance"/,
      ],
    ];
    for (const [what, collection, message] of bad) {
      await assert.rejects(
        agent.sendMeters([good(), collection]),
        (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && message.test(err.details),
        what,
      );
    }
    await assert.rejects(
      agent.collectMeters([{ singleValue: { name: 'rover_con_p_process_cpu', labels: [], value: 1 } }]),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /without service/.test(err.details),
    );
    // a stream the client breaks off stores nothing either
    await assert.rejects(agent.sendMeters([good(), good(), good()], { breakAfter: 2 }), /CANCELLED|Cancelled/);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(values(await query('continuous_profiling_process_cpu', victim)), [[null, null, null, null, null]]);
    // and the server keeps serving
    await agent.sendMeters([good()]);
    assert.deepEqual(values(await query('continuous_profiling_process_cpu', victim)), [
      [null, null, '5000', null, null],
    ]);
  });

  it('keeps the metrics across a restart (SQLite)', async () => {
    const before = await query('continuous_profiling_http_error_rate');
    await oap.stop();
    const again = await startTestOap({}, oap.dataDir);
    try {
      const after = await execExpression(again.graphqlUrl, 'continuous_profiling_http_error_rate', nginx, DURATION);
      assert.deepEqual(after, before);
      assert.deepEqual(
        values(await execExpression(again.graphqlUrl, 'continuous_profiling_process_cpu', nginx, DURATION)),
        [[null, null, '1617', '1', null]],
      );
    } finally {
      await again.stop();
    }
  });
});

describe('MeterReportService behind the agent token', () => {
  it('refuses meters without the Authentication token, as every agent service', async () => {
    const oap = await startTestOap({ SW_AUTHENTICATION: 'let-me-in' });
    const withToken = new grpc.Metadata();
    withToken.set('Authentication', 'let-me-in');
    const stranger = new AgentClient(oap.grpcAddress);
    const rover = new AgentClient(oap.grpcAddress, 'rover', withToken);
    try {
      const meters = [roverMeterCollection([{ process: 'nginx', processCpu: 0.5 }], { timestamp: M })];
      await assert.rejects(
        stranger.sendMeters(meters),
        (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED,
      );
      assert.deepEqual(await rover.sendMeters(meters), { commands: [] });
      assert.deepEqual(
        values(await execExpression(oap.graphqlUrl, 'continuous_profiling_process_cpu', nginx, DURATION)),
        [[null, null, '5000', null, null]],
      );
    } finally {
      stranger.close();
      rover.close();
      await oap.cleanup();
    }
  });
});
