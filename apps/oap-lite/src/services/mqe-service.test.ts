import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidDurationError, type DurationInput } from '../core/duration';
import { instanceId, processId, serviceId } from '../core/ids';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';
import type { MetricValueRecord } from '../storage/types';
import { formatMqeValue, MqeService, type ExpressionResult } from './mqe-service';

const MIN = 60_000;
/** 10:00 local time on a day without a daylight-saving change. */
const H = new Date(2026, 10, 27, 10, 0).getTime();
const pad = (n: number) => String(n).padStart(2, '0');
const minute = (t: number) => {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}${pad(d.getMinutes())}`;
};
const minutes = (from: number, to: number): DurationInput => ({ start: minute(from), end: minute(to), step: 'MINUTE' });

const ENTITY = { serviceName: 'svc', normal: true, serviceInstanceName: 'inst', processName: 'p' };
const PROC = processId(instanceId(serviceId('svc'), 'inst'), 'p');

const rec = (metric: string, t: number, summation: number, count = 1, labels = {}): MetricValueRecord => ({
  metric,
  entityId: PROC,
  serviceId: serviceId('svc'),
  timeBucket: t,
  labels,
  summation,
  count,
});
const seriesOf = (r: ExpressionResult) =>
  r.results.map((s) => [s.metric.labels.map((l) => `${l.key}=${l.value}`).join(','), s.values.map((v) => v.value)]);

describe('MqeService', () => {
  let dir: string;
  let storage: SqliteStorage;
  let mqe: MqeService;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oap-lite-mqe-'));
    storage = new SqliteStorage({ dataDir: dir });
    await storage.init();
    mqe = new MqeService(storage, [
      { name: 'single', labeled: false },
      { name: 'labeled', labeled: true },
    ]);
    await storage.meters.addMetricValues([
      rec('single', H, 10, 2), // 5
      rec('single', H + MIN, 1, 3), // 0 → 1: something positive was accepted
      rec('single', H + 2 * MIN, 0, 1), // 0
      rec('single', H + 59 * MIN, 9, 1), // 9
      rec('single', H + 60 * MIN, 7, 1), // next hour
      rec('labeled', H, 4, 1, { uri: '/a' }),
      rec('labeled', H, 6, 2, { uri: '/a/b' }),
      rec('labeled', H + MIN, 8, 1, { uri: '/c' }),
      rec('labeled', H + MIN, 2, 1, { uri: '/a' }),
    ]);
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a single-value metric per minute with the avg function value, null without data', async () => {
    const r = await mqe.execute('single', ENTITY, minutes(H - MIN, H + 3 * MIN));
    assert.equal(r.type, 'TIME_SERIES_VALUES');
    assert.deepEqual(
      r.results[0]!.values.map((v) => v.id),
      [H - MIN, H, H + MIN, H + 2 * MIN, H + 3 * MIN].map(String),
    );
    assert.deepEqual(seriesOf(r), [['', [null, '5', '1', '0', null]]]);
    assert.deepEqual(r.results[0]!.values[1], { id: String(H), value: '5', owner: null, traceID: null });
  });

  it('answers a labeled metric per label set seen in the duration, sorted as the OAP sorts "{uri=...}"', async () => {
    const r = await mqe.execute('labeled', ENTITY, minutes(H, H + MIN));
    // "{uri=/a/b}" sorts before "{uri=/a}" ('/' < '}')
    assert.deepEqual(seriesOf(r), [
      ['uri=/a/b', ['3', null]],
      ['uri=/a', ['4', '2']],
      ['uri=/c', [null, '8']],
    ]);
    assert.deepEqual(seriesOf(await mqe.execute('labeled', ENTITY, minutes(H, H))), [
      ['uri=/a/b', ['3']],
      ['uri=/a', ['4']],
    ]);
  });

  it('selects label sets as the OAP does: comma lists, blank values ignored, every name must match', async () => {
    const d = minutes(H, H + MIN);
    const uris = async (e: string) => (await mqe.execute(e, ENTITY, d)).results.map((s) => s.metric.labels[0]!.value);
    assert.deepEqual(await uris("labeled{uri='/c'}"), ['/c']);
    assert.deepEqual(await uris("labeled{uri=' /c , /a ,'}"), ['/a', '/c']);
    assert.deepEqual(await uris("labeled{uri='/c', uri='/a'}"), ['/a', '/c']);
    assert.deepEqual(await uris("labeled{uri=' '}"), ['/a/b', '/a', '/c']);
    assert.deepEqual(await uris("labeled{uri=','}"), ['/a/b', '/a', '/c']);
    assert.deepEqual(await uris("labeled{uri='/c', other='x'}"), []);
    assert.deepEqual(await uris("labeled{_='/c'}"), []);
    assert.deepEqual(await uris("labeled{uri='/nope'}"), []);
  });

  it('adds up minutes into HOUR and DAY points', async () => {
    const day = minute(H).slice(0, 10);
    const hour = minute(H).slice(0, 13);
    const nextHour = minute(H + 60 * MIN).slice(0, 13);
    const hourly = await mqe.execute('single', ENTITY, { start: hour, end: nextHour, step: 'HOUR' });
    // 10:00-10:59: (10 + 1 + 0 + 9) / (2 + 3 + 1 + 1) = 2; 11:00: 7
    assert.deepEqual(seriesOf(hourly), [['', ['2', '7']]]);
    assert.deepEqual(
      hourly.results[0]!.values.map((v) => v.id),
      [H, H + 60 * MIN].map(String),
    );
    const daily = await mqe.execute('single', ENTITY, { start: day, end: day, step: 'DAY' });
    assert.deepEqual(seriesOf(daily), [['', ['3']]]); // 27 / 8
    assert.deepEqual(seriesOf(await mqe.execute('labeled', ENTITY, { start: hour, end: hour, step: 'HOUR' })), [
      ['uri=/a/b', ['3']],
      ['uri=/a', ['3']],
      ['uri=/c', ['8']],
    ]);
  });

  it('has nothing at SECOND steps: metrics are kept per minute', async () => {
    const second = (t: number) => `${minute(t)}${pad(new Date(t).getSeconds())}`;
    const r = await mqe.execute('single', ENTITY, { start: second(H), end: second(H + 2_000), step: 'SECOND' });
    assert.deepEqual(seriesOf(r), [['', [null, null, null]]]);
  });

  it('answers errors and empty results as the OAP does', async () => {
    const d = minutes(H, H);
    const answer = async (e: string, entity: Record<string, unknown> = ENTITY) => {
      const r = await mqe.execute(e, entity, d);
      return [r.type, r.error, r.results.length];
    };
    assert.deepEqual(await answer('nope'), ['UNKNOWN', 'Metric: [nope] does not exist.', 0]);
    assert.deepEqual(await answer('single +'), ['UNKNOWN', "line 1:8 no viable alternative at input '<EOF>'", 0]);
    assert.deepEqual(await answer('single * nope'), ['UNKNOWN', 'Metric: [nope] does not exist.', 0]);
    assert.deepEqual(await answer('single * 2'), ['TIME_SERIES_VALUES', null, 1]);
    assert.deepEqual(await answer('avg(single)'), ['UNKNOWN', null, 0]);
    assert.deepEqual(await answer('single', { ...ENTITY, processName: null }), ['UNKNOWN', null, 0]);
    assert.deepEqual(await answer('single', { ...ENTITY, normal: undefined }), ['UNKNOWN', null, 0]);
    assert.deepEqual(await answer('labeled', { serviceName: 'svc', normal: true }), ['TIME_SERIES_VALUES', null, 0]);
    await assert.rejects(
      mqe.execute('single', ENTITY, { start: '2026-11-27', end: '2026-11-27', step: 'MINUTE' }),
      InvalidDurationError,
    );
    await assert.rejects(
      mqe.execute('single', ENTITY, { start: '2020-01-01 0000', end: '2026-01-01 0000', step: 'MINUTE' }),
      /more than 100000 MINUTE points/,
    );
  });

  it('formats values as the OAP (DecimalFormat: no grouping, three decimals, half-even on the exact double)', () => {
    const cases: Array<[number, string]> = [
      [0, '0'],
      [1617, '1617'],
      [12345678901, '12345678901'],
      [-3, '-3'],
      [1.5, '1.5'],
      [0.1 + 0.2, '0.3'],
      [2.0005, '2.001'], // the double is a little above 2.0005
      [1.0005, '1'], // and this one a little below 1.0005
      [1.0625, '1.062'], // exact ties go to the even digit
      [1.1875, '1.188'],
      [-1.0625, '-1.062'],
    ];
    assert.deepEqual(
      cases.map(([v]) => formatMqeValue(v)),
      cases.map(([, text]) => text),
    );
  });
});
