import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { instanceId, processId, serviceId } from '../core/ids';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';
import type { MetricValueRecord } from '../storage/types';
import {
  CONTINUOUS_PROFILING_RULES,
  InvalidMeterError,
  MeterService,
  toMeterLong,
  type MeterInput,
} from './meter-service';

const T = Date.UTC(2026, 10, 27, 15, 30, 12, 345);
const MINUTE = Date.UTC(2026, 10, 27, 15, 30);
const SVC = serviceId('svc');
const PROC = processId(instanceId(SVC, 'inst'), 'nginx');

const meter = (name: string, value: number, labels: Record<string, string> = {}, over: Partial<MeterInput> = {}) =>
  ({
    kind: 'singleValue',
    name: `rover_con_p_${name}`,
    labels: Object.entries({ process_name: 'nginx', layer: 'OS_LINUX', ...labels }).map(([n, v]) => ({
      name: n,
      value: v,
    })),
    value,
    service: 'svc',
    serviceInstance: 'inst',
    timestamp: T,
    ...over,
  }) satisfies MeterInput;

const value = (metric: string, summation: number, over: Partial<MetricValueRecord> = {}): MetricValueRecord => ({
  metric: `continuous_profiling_${metric}`,
  entityId: PROC,
  serviceId: SVC,
  timeBucket: MINUTE,
  labels: {},
  summation,
  count: 1,
  ...over,
});

const byMetric = (records: MetricValueRecord[]) =>
  [...records].sort(
    (a, b) => a.metric.localeCompare(b.metric) || JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)),
  );

describe('MeterService.analyse: the continuous-profiling MAL rules', () => {
  const svc = new MeterService(undefined as never);

  it('has the five rules of continuous-profiling.yaml', () => {
    assert.deepEqual(
      CONTINUOUS_PROFILING_RULES.map((r) => [r.meter, r.metric, r.multiply, r.extraLabels]),
      [
        ['rover_con_p_process_cpu', 'continuous_profiling_process_cpu', 10_000, []],
        ['rover_con_p_process_thread_count', 'continuous_profiling_process_thread_count', 1, []],
        ['rover_con_p_system_load', 'continuous_profiling_system_load', 100, []],
        ['rover_con_p_http_error_rate', 'continuous_profiling_http_error_rate', 100, ['uri']],
        ['rover_con_p_http_avg_response_time', 'continuous_profiling_http_avg_response_time', 1, ['uri']],
      ],
    );
    assert.deepEqual(svc.metrics(), [
      { name: 'continuous_profiling_process_cpu', labeled: false },
      { name: 'continuous_profiling_process_thread_count', labeled: false },
      { name: 'continuous_profiling_system_load', labeled: false },
      { name: 'continuous_profiling_http_error_rate', labeled: true },
      { name: 'continuous_profiling_http_avg_response_time', labeled: true },
    ]);
  });

  it('multiplies, converts to a long and names the process and its minute', () => {
    const got = svc.analyse([
      meter('process_cpu', 0.1234),
      meter('process_thread_count', 17),
      meter('system_load', 1.239),
      meter('http_error_rate', 0.125, { uri: '/a' }),
      meter('http_avg_response_time', 12.5, { uri: '/a' }),
      meter('http_avg_response_time', 7, { uri: '/b' }),
    ]);
    assert.deepEqual(byMetric(got), [
      value('http_avg_response_time', 13, { labels: { uri: '/a' } }), // 12.5 rounds half up
      value('http_avg_response_time', 7, { labels: { uri: '/b' } }),
      value('http_error_rate', 13, { labels: { uri: '/a' } }),
      value('process_cpu', 1234),
      value('process_thread_count', 17),
      value('system_load', 124),
    ]);
  });

  it("converts values as MAL's Analyzer does: <= 0 is 0, below 1 is 1, else rounded", () => {
    assert.deepEqual(
      [-3, 0, 1e-9, 0.5, 0.999, 1, 1.49, 1.5, 2.5, 1e15].map(toMeterLong),
      [0, 0, 1, 1, 1, 1, 1, 2, 3, 1e15],
    );
  });

  it('averages the samples of one input per process (and uri) before they count once', () => {
    const got = svc.analyse([
      meter('process_cpu', 0.1),
      meter('process_cpu', 0.4),
      meter('process_cpu', 0.9, { process_name: 'other' }),
      meter('http_error_rate', 0.1, { uri: '/a' }),
      meter('http_error_rate', 0.2, { uri: '/a' }),
      meter('http_error_rate', 0.3), // no uri: its own series with uri ""
    ]);
    const other = processId(instanceId(SVC, 'inst'), 'other');
    assert.deepEqual(byMetric(got), [
      value('http_error_rate', 30, { labels: { uri: '' } }),
      value('http_error_rate', 15, { labels: { uri: '/a' } }),
      value('process_cpu', 2500),
      value('process_cpu', 9000, { entityId: other }),
    ]);
  });

  it('takes service, instance and time from the MeterData that set them (the last one wins)', () => {
    const got = svc.analyse([
      meter('process_cpu', 0.1, {}, { service: '', serviceInstance: '', timestamp: 0 }),
      meter('process_cpu', 0.3, {}, { service: 'svc', serviceInstance: 'inst', timestamp: T }),
      meter('process_cpu', 0.2, {}, { service: '', serviceInstance: '', timestamp: 0 }),
    ]);
    assert.deepEqual(got, [value('process_cpu', 2000)]);
    const later = svc.analyse([meter('process_cpu', 0.1, {}, { timestamp: T + 60_000 })]);
    assert.equal(later[0]!.timeBucket, MINUTE + 60_000);
  });

  it('cuts service and instance names to 70 characters as NamingControl does, and names a blank process _blank', () => {
    const long = 's'.repeat(80);
    const [r] = svc.analyse([
      meter('process_cpu', 0.1, { process_name: '' }, { service: long, serviceInstance: long }),
    ]);
    const sid = serviceId('s'.repeat(70));
    assert.equal(r!.serviceId, sid);
    assert.equal(r!.entityId, processId(instanceId(sid, 's'.repeat(70)), '_blank'));
  });

  it('ignores meters without a rule and histograms of other names', () => {
    assert.deepEqual(
      svc.analyse([
        meter('unknown', 1),
        {
          ...meter('x', 0),
          kind: 'histogram',
          name: 'latency',
          buckets: [{ bucket: 1, count: 2, isNegativeInfinity: false }],
        },
      ]),
      [],
    );
    assert.deepEqual(svc.analyse([]), []);
  });

  it('averages the bucket counts of a histogram a rule reads, as the OAP samples them', () => {
    const h: MeterInput = {
      ...meter('process_thread_count', 0),
      kind: 'histogram',
      buckets: [
        { bucket: 0, count: 2, isNegativeInfinity: true },
        { bucket: 10, count: 6, isNegativeInfinity: false },
      ],
    };
    assert.deepEqual(svc.analyse([h]), [value('process_thread_count', 4)]);
  });

  it('refuses input the OAP would drop or could not store, naming the problem', () => {
    const cases: Array<[MeterInput[], RegExp]> = [
      [[meter('process_cpu', 1, {}, { service: '' })], /without service:/],
      [[meter('process_cpu', 1, {}, { serviceInstance: '', timestamp: 0 })], /without serviceInstance, timestamp:/],
      [[meter('process_cpu', Number.NaN)], /value NaN/],
      [[meter('process_cpu', -Infinity)], /value -Infinity/],
      [[meter('process_cpu', 1e300)], /too large/],
      [[meter('unknown', 1, { service: 'x' })], /label named "service"/],
      [[{ ...meter('x', 0), kind: 'histogram', labels: [{ name: 'le', value: '1' }] }], /label named "le"/],
      [
        [
          {
            ...meter('unknown', 1),
            labels: [
              { name: 'a', value: '1' },
              { name: 'a', value: '2' },
            ],
          },
        ],
        /"a" twice/,
      ],
      [[meter('process_cpu', 1, {}, { timestamp: Date.UTC(10000, 0, 1) })], /not a time/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => svc.analyse(input),
        (err: Error) => err instanceof InvalidMeterError && message.test(err.message),
      );
    }
  });
});

describe('MeterService.ingest', () => {
  let dir: string;
  let storage: SqliteStorage;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oap-lite-meters-'));
    storage = new SqliteStorage({ dataDir: dir });
    await storage.init();
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every input of a batch as one accepted value each, or nothing when one is bad', async () => {
    const svc = new MeterService(storage);
    assert.equal(
      await svc.ingest([[meter('process_cpu', 0.1)], [meter('process_cpu', 0.2), meter('process_cpu', 0.4)]]),
      2,
    );
    const range = { start: MINUTE, end: MINUTE };
    assert.deepEqual(await storage.meters.queryMetricValues('continuous_profiling_process_cpu', PROC, range), [
      value('process_cpu', 4000, { count: 2 }),
    ]);
    await assert.rejects(
      svc.ingest([[meter('process_cpu', 0.1)], [meter('process_cpu', Number.NaN)]]),
      InvalidMeterError,
    );
    assert.equal(
      (await storage.meters.queryMetricValues('continuous_profiling_process_cpu', PROC, range))[0]!.count,
      2,
    );
  });
});
