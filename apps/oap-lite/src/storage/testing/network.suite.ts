/** Behaviour of NetworkStore: relations per minute, sampled traces by latency, attached events. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ProcessRelationRecord, SampledTraceRecord, SpanAttachedEventRecord } from '../types';
import { M0, MIN, type Run } from './harness';

const rel = (over: Partial<ProcessRelationRecord> = {}): ProcessRelationRecord => ({
  side: 'CLIENT',
  entityId: 'pa-pb',
  instanceId: 'inst-1',
  serviceId: 's.1',
  sourceProcessId: 'pa',
  destProcessId: 'pb',
  componentId: 49,
  timeBucket: M0,
  ...over,
});

const sampled = (over: Partial<SampledTraceRecord> = {}): SampledTraceRecord => ({
  table: 'sampled_slow_trace_record',
  entityId: 'pa-pb',
  serviceId: 's.1',
  instanceId: 'inst-1',
  traceId: 't1',
  statement: '/slow',
  latency: 1500,
  timestamp: M0 + 1_000,
  ...over,
});

const event = (over: Partial<SpanAttachedEventRecord> = {}): SpanAttachedEventRecord => ({
  traceRefType: 'SKYWALKING',
  relatedTraceId: 't1',
  traceSegmentId: 'seg-1',
  traceSpanId: '0',
  event: 'HTTP Request Sampling',
  startTimeSecond: M0 / 1000,
  startTimeNanos: 5,
  endTimeSecond: M0 / 1000,
  endTimeNanos: 9,
  dataBinary: Buffer.from([0, 1, 2, 255]),
  timestamp: M0 + 2_000,
  ...over,
});

const sortRel = (list: ProcessRelationRecord[]) =>
  [...list].sort(
    (a, b) => a.timeBucket - b.timeBucket || a.entityId.localeCompare(b.entityId) || a.side.localeCompare(b.side),
  );

export const describeNetworkBehaviour = (run: Run): void => {
  describe('network profiling', () => {
    it(
      'keeps one relation per side, entity and minute, read per instance within the range',
      run(async (s) => {
        await s.network.upsertRelations([rel(), rel(), rel({ side: 'SERVER' }), rel({ timeBucket: M0 + MIN })]);
        await s.network.upsertRelations([
          rel(),
          rel({ entityId: 'pa-pc', destProcessId: 'pc', componentId: 110 }),
          rel({ instanceId: 'inst-2' }),
          rel({ timeBucket: M0 + 3 * MIN }),
        ]);
        assert.deepEqual(sortRel(await s.network.queryRelations('inst-1', { start: M0, end: M0 + MIN })), [
          rel(),
          rel({ side: 'SERVER' }),
          rel({ entityId: 'pa-pc', destProcessId: 'pc', componentId: 110 }),
          rel({ timeBucket: M0 + MIN }),
        ]);
        assert.deepEqual(await s.network.queryRelations('inst-1', { start: M0 + 1, end: M0 + MIN - 1 }), []);
        assert.deepEqual(await s.network.queryRelations('inst-3', { start: 0, end: M0 * 2 }), []);
      }),
    );

    it(
      'lists sampled traces of a table and entity by latency, the top N, and replaces a resent one',
      run(async (s) => {
        await s.network.addSampledTraces([
          sampled(),
          sampled({ traceId: 't2', latency: 3000, statement: '/slower' }),
          sampled({ traceId: 't3', latency: 1200 }),
          sampled({ traceId: 't4', entityId: 'pb-pa', latency: 9000 }),
          sampled({ traceId: 't5', table: 'sampled_status_5xx_trace_record', latency: 10 }),
          sampled({ traceId: 't6', timestamp: M0 + 10 * MIN, latency: 99_999 }),
        ]);
        await s.network.addSampledTraces([sampled({ latency: 1600 })]); // same row: replaced
        const range = { start: M0, end: M0 + 5 * MIN };
        const des = await s.network.querySampledTraces('sampled_slow_trace_record', 'pa-pb', range, 10, 'DES');
        assert.deepEqual(
          des.map((r) => [r.traceId, r.latency, r.statement]),
          [
            ['t2', 3000, '/slower'],
            ['t1', 1600, '/slow'],
            ['t3', 1200, '/slow'],
          ],
        );
        assert.deepEqual(des[0], sampled({ traceId: 't2', latency: 3000, statement: '/slower' }));
        const asc = await s.network.querySampledTraces('sampled_slow_trace_record', 'pa-pb', range, 2, 'ASC');
        assert.deepEqual(
          asc.map((r) => r.traceId),
          ['t3', 't1'],
        );
        const all = await s.network.querySampledTraces('sampled_slow_trace_record', null, range, 10, 'DES');
        assert.deepEqual(
          all.map((r) => r.traceId),
          ['t4', 't2', 't1', 't3'],
        );
        assert.deepEqual(
          (await s.network.querySampledTraces('sampled_status_5xx_trace_record', 'pa-pb', range, 10, 'DES')).map(
            (r) => r.traceId,
          ),
          ['t5'],
        );
        assert.deepEqual(
          await s.network.querySampledTraces('sampled_status_4xx_trace_record', null, range, 10, 'DES'),
          [],
        );
      }),
    );

    it(
      'keeps attached events with their bytes, read by trace in start order',
      run(async (s) => {
        await s.network.addSpanAttachedEvents([
          event({ startTimeNanos: 50, event: 'HTTP Response Sampling' }),
          event(),
          event({ relatedTraceId: 't2' }),
        ]);
        const got = await s.network.querySpanAttachedEvents(['t1']);
        assert.deepEqual(
          got.map((e) => e.event),
          ['HTTP Request Sampling', 'HTTP Response Sampling'],
        );
        assert.deepEqual(got[0], event());
        assert.equal((await s.network.querySpanAttachedEvents(['t1', 't2'])).length, 3);
        assert.deepEqual(await s.network.querySpanAttachedEvents(['none']), []);
      }),
    );

    it(
      'expires records by the records TTL and relations by the metrics TTL',
      run(async (s) => {
        await s.network.upsertRelations([rel(), rel({ timeBucket: M0 + 2 * MIN })]);
        await s.network.addSampledTraces([sampled(), sampled({ traceId: 't2', timestamp: M0 + 2 * MIN })]);
        await s.network.addSpanAttachedEvents([event(), event({ relatedTraceId: 't2', timestamp: M0 + 2 * MIN })]);
        await s.deleteExpired(M0 + MIN, M0 + MIN);
        assert.deepEqual(
          (await s.network.queryRelations('inst-1', { start: 0, end: M0 * 2 })).map((r) => r.timeBucket),
          [M0 + 2 * MIN],
        );
        assert.deepEqual(
          (
            await s.network.querySampledTraces('sampled_slow_trace_record', null, { start: 0, end: M0 * 2 }, 10, 'DES')
          ).map((r) => r.traceId),
          ['t2'],
        );
        assert.deepEqual(
          (await s.network.querySpanAttachedEvents(['t1', 't2'])).map((e) => e.relatedTraceId),
          ['t2'],
        );
      }),
    );
  });
};
