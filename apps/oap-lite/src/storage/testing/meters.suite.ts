/** Behaviour of MeterStore: additions per (metric, entity, minute, label set). */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { MetricValueRecord } from '../types';
import { M0, MIN, T0, mv, sortedMv, type Run } from './harness';

export const describeMeterBehaviour = (run: Run): void => {
  describe('metric values', () => {
    it(
      'adds sums and counts per metric, entity, minute and label set',
      run(async (s) => {
        await s.meters.addMetricValues([
          mv({ summation: 10 }),
          mv({ summation: 5, count: 2 }), // same key in one batch: adds up
          mv({ timeBucket: M0 + MIN, summation: 7 }),
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 3 }),
          mv({ metric: 'm_labeled', labels: { uri: '/b' }, summation: 4 }),
        ]);
        await s.meters.addMetricValues([
          mv({ summation: 1, serviceId: 's2.1' }),
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 30 }),
        ]);
        assert.deepEqual(sortedMv(await s.meters.queryMetricValues('m_single', 'e1', { start: M0, end: M0 + MIN })), [
          mv({ summation: 16, count: 4, serviceId: 's2.1' }),
          mv({ timeBucket: M0 + MIN, summation: 7 }),
        ]);
        assert.deepEqual(sortedMv(await s.meters.queryMetricValues('m_labeled', 'e1', { start: 0, end: T0 * 2 })), [
          mv({ metric: 'm_labeled', labels: { uri: '/a' }, summation: 33, count: 2 }),
          mv({ metric: 'm_labeled', labels: { uri: '/b' }, summation: 4 }),
        ]);
      }),
    );

    it(
      'keeps label sets apart whatever their names and values hold',
      run(async (s) => {
        const sets: Array<Record<string, string>> = [
          { uri: '/a,b' },
          { uri: '/a|b=c' },
          { uri: '{uri=/a}' },
          { uri: '' },
          { uri: 'ünï/😀' },
          { a: '1', uri: '/a' },
          { uri: '/a', a: '1' },
        ];
        await s.meters.addMetricValues(sets.map((labels, i) => mv({ metric: 'm_labeled', labels, summation: i + 1 })));
        const got = await s.meters.queryMetricValues('m_labeled', 'e1', { start: M0, end: M0 });
        const byLabels = Object.fromEntries(
          got.map((r) => [JSON.stringify(Object.entries(r.labels).sort()), [r.summation, r.count]]),
        );
        assert.deepEqual(byLabels, {
          [JSON.stringify([['uri', '/a,b']])]: [1, 1],
          [JSON.stringify([['uri', '/a|b=c']])]: [2, 1],
          [JSON.stringify([['uri', '{uri=/a}']])]: [3, 1],
          [JSON.stringify([['uri', '']])]: [4, 1],
          [JSON.stringify([['uri', 'ünï/😀']])]: [5, 1],
          // the order of the names does not make another set
          [JSON.stringify([
            ['a', '1'],
            ['uri', '/a'],
          ])]: [13, 2],
        });
      }),
    );

    it(
      'reads one metric and entity within the range, bounds included, in time order',
      run(async (s) => {
        await s.meters.addMetricValues([
          mv({ timeBucket: M0 - MIN }),
          mv({ timeBucket: M0 + 2 * MIN, summation: 3 }),
          mv({ timeBucket: M0, summation: 1 }),
          mv({ timeBucket: M0 + 3 * MIN }),
          mv({ entityId: 'e2' }),
          mv({ metric: 'm_other' }),
        ]);
        const got = await s.meters.queryMetricValues('m_single', 'e1', { start: M0, end: M0 + 2 * MIN });
        assert.deepEqual(
          got.map((r) => [r.timeBucket, r.summation]),
          [
            [M0, 1],
            [M0 + 2 * MIN, 3],
          ],
        );
        // a range inside one minute does not hold that minute's start
        assert.deepEqual(await s.meters.queryMetricValues('m_single', 'e1', { start: M0 + 1, end: M0 + MIN - 1 }), []);
        assert.deepEqual(await s.meters.queryMetricValues('m_single', 'e3', { start: 0, end: T0 * 2 }), []);
      }),
    );

    it(
      'refuses a batch with an invalid record and writes none of it',
      run(async (s) => {
        await s.meters.addMetricValues([mv()]);
        const bad: Array<Partial<MetricValueRecord>> = [
          { count: 0 },
          { summation: -1 },
          { summation: 1.5 },
          { timeBucket: M0 + 1 },
          { metric: '' },
          { entityId: '' },
          { summation: Number.MAX_SAFE_INTEGER + 2 },
        ];
        for (const over of bad) {
          await assert.rejects(
            s.meters.addMetricValues([mv({ summation: 100 }), mv({ timeBucket: M0 + MIN }), mv(over)]),
            JSON.stringify(over),
          );
        }
        assert.deepEqual(await s.meters.queryMetricValues('m_single', 'e1', { start: 0, end: T0 * 2 }), [mv()]);
      }),
    );

    it(
      'loses no addition when writers race on one minute',
      run(async (s) => {
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            s.meters.addMetricValues([
              mv({ summation: i + 1 }),
              mv({ metric: 'm_labeled', labels: { uri: `/u${i % 3}` }, summation: 1 }),
            ]),
          ),
        );
        assert.deepEqual(await s.meters.queryMetricValues('m_single', 'e1', { start: M0, end: M0 }), [
          mv({ summation: 78, count: 12 }),
        ]);
        const labeled = await s.meters.queryMetricValues('m_labeled', 'e1', { start: M0, end: M0 });
        assert.deepEqual(labeled.map((r) => [r.labels.uri, r.summation, r.count]).sort(), [
          ['/u0', 4, 4],
          ['/u1', 4, 4],
          ['/u2', 4, 4],
        ]);
      }),
    );

    it(
      'expires values of minutes before the metrics cut, whole old days included',
      run(async (s) => {
        const DAY = 86_400_000;
        await s.meters.addMetricValues([
          mv({ timeBucket: M0 - 3 * DAY }),
          mv({ timeBucket: M0 - 3 * DAY, metric: 'm_labeled', labels: { uri: '/a' } }),
          mv({ timeBucket: M0 - MIN }),
          mv({ timeBucket: M0 }),
          mv({ timeBucket: M0 + MIN }),
        ]);
        const n = await s.deleteExpired(0, M0);
        assert.ok(n >= 3, `deleteExpired returned ${n}`);
        assert.deepEqual(
          (await s.meters.queryMetricValues('m_single', 'e1', { start: 0, end: T0 * 2 })).map((r) => r.timeBucket),
          [M0, M0 + MIN],
        );
        assert.deepEqual(await s.meters.queryMetricValues('m_labeled', 'e1', { start: 0, end: T0 * 2 }), []);
        assert.equal(await s.deleteExpired(0, M0), 0);
        // a minute that expired can be written again
        await s.meters.addMetricValues([mv({ timeBucket: M0 - MIN, summation: 2 })]);
        assert.equal(
          (await s.meters.queryMetricValues('m_single', 'e1', { start: M0 - MIN, end: M0 - MIN }))[0]?.summation,
          2,
        );
      }),
    );
  });
};
