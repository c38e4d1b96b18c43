// The Elasticsearch storage against a real Elasticsearch 8.19 node (tools/elasticsearch): the shared
// behaviour suite (a fresh namespace per test), then layout, ids and faults (a node that is down at
// start, an outage during ingest, an incompatible mapping). One node for the whole file. Skips when
// Java/Maven are missing, except under CI=true where that is a failure.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { describeStorageBehaviour } from '../testing';
import { aggregateProfilingStacks } from '../profiling';
import type { MetricValueRecord, ProfilingDataRecord, StackFrame } from '../types';
import { ElasticsearchStorage, dropNamespace, type ElasticsearchStorageOptions } from './elasticsearch-storage';
import { METADATA_INDICES, indexNames, utcDay } from './indices';
import { compatibleWith8, startTestElasticsearchOrSkip } from './test-node';

const { es, skipReason } = await startTestElasticsearchOrSkip();
if (es)
  console.log(
    `elasticsearch test node at ${es.url}: started in ${(es.startedInMs / 1000).toFixed(1)} s${es.reused ? ' (reused)' : ''}`,
  );
const admin = es ? new Client({ node: es.url, ...compatibleWith8() }) : undefined;

after(async () => {
  await admin?.close();
  await es?.stop();
});

let counter = 0;
const freshNamespace = (tag: string): string => `${tag}${process.pid}x${++counter}`;

interface Captured {
  lines: Array<{ level: string; msg: string }>;
  log: NonNullable<ElasticsearchStorageOptions['log']>;
}
const captureLog = (): Captured => {
  const lines: Captured['lines'] = [];
  const push = (level: string) => (_obj: object, msg: string) => void lines.push({ level, msg });
  return { lines, log: { info: push('info'), warn: push('warn'), error: push('error') } };
};

const makeStorage = (namespace: string, over: Partial<ElasticsearchStorageOptions> = {}): ElasticsearchStorage =>
  new ElasticsearchStorage({ clusterNodes: es!.url, namespace, flushIntervalMs: 20, replicas: 0, ...over });

const U = (symbol: string): StackFrame => ({ symbol, stackType: 'USER_SPACE' });
const K = (symbol: string): StackFrame => ({ symbol, stackType: 'KERNEL_SPACE' });
const T0 = Date.UTC(2026, 10, 27, 12);
const rec = (over: Partial<ProfilingDataRecord> = {}): ProfilingDataRecord => ({
  scheduleId: 'sched-1',
  taskId: 'task-1',
  stackIdList: '1_2',
  targetType: 'ON_CPU',
  uploadTime: T0,
  frames: [U('main'), U('run'), K('sys_read')],
  count: 1,
  duration: 0,
  ...over,
});
const ALL = [{ start: 0, end: T0 * 2 }];

const pending = <T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } => {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  promise.catch(() => {});
  return { settled: () => done, promise };
};
const until = async (what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

if (!es) {
  describe('Elasticsearch storage', () => {
    it('needs a real Elasticsearch node', (t) => t.skip(skipReason));
  });
} else {
  describeStorageBehaviour('elasticsearch', async () => {
    const namespace = freshNamespace('bt');
    return {
      storage: makeStorage(namespace),
      reopen: async () => makeStorage(namespace),
      cleanup: () => dropNamespace(admin!, namespace),
    };
  });

  describe('Elasticsearch storage: layout and ids', () => {
    it('uses namespaced indices, a records template and OAP document ids', async () => {
      const namespace = freshNamespace('ly');
      const s = makeStorage(namespace);
      try {
        await s.init();
        const n = indexNames(namespace);
        for (const model of [
          'service_traffic',
          'instance_traffic',
          'process_traffic',
          'service_label',
          'ebpf_profiling_task',
          'ebpf_profiling_schedule',
          'management',
        ]) {
          assert.equal(await admin!.indices.exists({ index: `${namespace}_${model}` }), true, model);
        }
        const tpl = await admin!.indices.getIndexTemplate({ name: `${namespace}_records-all` });
        assert.deepEqual(tpl.index_templates[0]!.index_template.index_patterns, [`${namespace}_records-all-*`]);
        await s.profilingData.writeProfilingData([rec({ scheduleId: 's-a', stackIdList: '7_9', uploadTime: T0 + 5 })]);
        const le = Buffer.alloc(8);
        le.writeBigInt64LE(BigInt(T0 + 5));
        const id = createHash('sha256').update('s-a').update('7_9').update(le).digest('hex');
        const doc = await admin!.get<Record<string, unknown>>({
          index: n.recordsDay(utcDay(T0)),
          id: `ebpf_profiling_data_${id}`,
        });
        assert.equal(doc._source!.record_table, 'ebpf_profiling_data');
        assert.equal(doc._source!.schedule_id, 's-a');
        // the alias of the template covers the daily index
        const alias = await admin!.indices.getAlias({ name: `${namespace}_records-all` });
        assert.deepEqual(Object.keys(alias), [n.recordsDay(utcDay(T0))]);
        // a mapping is strict: nothing dynamic sneaks in
        const mapping = await admin!.indices.getMapping({ index: `${namespace}_process_traffic` });
        assert.equal(Object.values(mapping)[0]!.mappings.dynamic, 'strict');
        // TTL drops whole days: the day before the cut's day goes as an index
        await s.profilingData.writeProfilingData([rec({ scheduleId: 's-a', uploadTime: T0 - 86_400_000 })]);
        assert.equal(await admin!.indices.exists({ index: n.recordsDay(utcDay(T0 - 86_400_000)) }), true);
        assert.equal(await s.deleteExpired(T0, 0), 1);
        assert.equal(await admin!.indices.exists({ index: n.recordsDay(utcDay(T0 - 86_400_000)) }), false);
      } finally {
        await s.close();
        await dropNamespace(admin!, namespace);
      }
    });

    it('keeps metric values OAP-style: daily metrics-all indices, one document per metric, minute and entity', async () => {
      const namespace = freshNamespace('mt');
      const s = makeStorage(namespace);
      try {
        await s.init();
        const n = indexNames(namespace);
        const tpl = await admin!.indices.getIndexTemplate({ name: `${namespace}_metrics-all` });
        assert.deepEqual(tpl.index_templates[0]!.index_template.index_patterns, [`${namespace}_metrics-all-*`]);
        const minute = T0 + 5 * 60_000; // 2026-11-27 12:05 UTC
        const base = { entityId: 'proc-1', serviceId: 'c3Zj.1', timeBucket: minute, count: 1 };
        await s.meters.addMetricValues([
          { ...base, metric: 'continuous_profiling_process_cpu', labels: {}, summation: 7 },
          { ...base, metric: 'continuous_profiling_process_cpu', labels: {}, summation: 2 },
          { ...base, metric: 'continuous_profiling_http_error_rate', labels: { uri: '/a' }, summation: 50 },
          { ...base, metric: 'continuous_profiling_http_error_rate', labels: { uri: '/b' }, summation: 0 },
        ]);
        const single = await admin!.get<Record<string, unknown>>({
          index: n.metricsDay('20261127'),
          id: 'continuous_profiling_process_cpu_202611271205_proc-1',
        });
        assert.deepEqual(single._source, {
          metric_table: 'continuous_profiling_process_cpu',
          entity_id: 'proc-1',
          service_id: 'c3Zj.1',
          time_bucket: 202611271205,
          summation: 9,
          count: 2,
          value: 4,
        });
        const labeled = await admin!.get<Record<string, unknown>>({
          index: n.metricsDay('20261127'),
          id: 'continuous_profiling_http_error_rate_202611271205_proc-1',
        });
        assert.deepEqual(labeled._source!.datatable_value, { '[["uri","/a"]]': 50, '[["uri","/b"]]': 0 });
        const alias = await admin!.indices.getAlias({ name: `${namespace}_metrics-all` });
        assert.deepEqual(Object.keys(alias), [n.metricsDay('20261127')]);
        // TTL drops a whole day of metrics as an index
        await s.meters.addMetricValues([
          { ...base, metric: 'm', labels: {}, summation: 1, timeBucket: T0 - 86_400_000 },
        ]);
        assert.equal(await s.deleteExpired(0, T0), 1);
        assert.equal(await admin!.indices.exists({ index: n.metricsDay(utcDay(T0 - 86_400_000)) }), false);
      } finally {
        await s.close();
        await dropNamespace(admin!, namespace);
      }
    });

    it('two oap-lite nodes adding to the same minutes at once lose nothing', async () => {
      const namespace = freshNamespace('mr');
      const a = makeStorage(namespace);
      const b = makeStorage(namespace);
      try {
        await Promise.all([a.init(), b.init()]);
        const value = (summation: number, uri?: string): MetricValueRecord => ({
          metric: uri ? 'm_labeled' : 'm_single',
          entityId: 'proc-1',
          serviceId: 's.1',
          timeBucket: T0,
          labels: uri ? { uri } : {},
          summation,
          count: 1,
        });
        const writes: Array<Promise<void>> = [];
        for (let i = 0; i < 20; i++) {
          const node = i % 2 === 0 ? a : b;
          writes.push(
            node.meters.addMetricValues([value(i), value(1, `/u${i % 2}`), { ...value(1), timeBucket: T0 + 60_000 }]),
          );
        }
        await Promise.all(writes);
        const range = { start: T0, end: T0 + 60_000 };
        const single = await a.meters.queryMetricValues('m_single', 'proc-1', range);
        assert.deepEqual(
          single.map((r) => [r.timeBucket, r.summation, r.count]),
          [
            [T0, 190, 20],
            [T0 + 60_000, 20, 20],
          ],
        );
        const labeled = await b.meters.queryMetricValues('m_labeled', 'proc-1', range);
        assert.deepEqual(labeled.map((r) => [r.labels.uri, r.summation, r.count]).sort(), [
          ['/u0', 10, 10],
          ['/u1', 10, 10],
        ]);
      } finally {
        await Promise.all([a.close(), b.close()]);
        await dropNamespace(admin!, namespace);
      }
    });

    for (const [path, limit] of [
      ['fast', undefined],
      ['exact', 10],
    ] as const) {
      it(`dedupes like the upstream analyzer on the ${path} path`, async () => {
        const namespace = freshNamespace('dd');
        const s = makeStorage(namespace, { dedupeGroupLimit: limit });
        try {
          await s.init();
          const records: ProfilingDataRecord[] = [];
          for (let i = 0; i < 300; i++) {
            // the same (uploadTime, value, frames) in two schedules: counts once
            records.push(rec({ scheduleId: 's1', stackIdList: `${i}`, uploadTime: T0 + i, count: 1 + (i % 3) }));
            records.push(rec({ scheduleId: 's2', stackIdList: `${i}`, uploadTime: T0 + i, count: 1 + (i % 3) }));
            // same frames and time, another value: counts
            records.push(rec({ scheduleId: 's2', stackIdList: `y${i}`, uploadTime: T0 + i, count: 7 }));
            records.push(
              rec({
                scheduleId: 's2',
                stackIdList: `x${i}`,
                frames: [U('main'), U(`f${i % 4}`)],
                uploadTime: T0 + i,
                count: 5,
              }),
            );
            records.push({
              ...rec({ scheduleId: 's1', stackIdList: `o${i}`, frames: [U('off')], uploadTime: T0 + i }),
              targetType: 'OFF_CPU',
              count: 2,
              duration: 1000 * (i % 2),
            });
            records.push({
              ...rec({ scheduleId: 's2', stackIdList: `o${i}`, frames: [U('off')], uploadTime: T0 + i }),
              targetType: 'OFF_CPU',
              count: 3,
              duration: 1000 * (i % 2),
            });
          }
          await s.profilingData.writeProfilingData(records);
          // ties in first appearance (here all at T0) may come in any order
          const canon = (a: Array<{ frames: StackFrame[]; value: number }>) => a.map((x) => JSON.stringify(x)).sort();
          for (const agg of ['COUNT', 'DURATION'] as const) {
            for (const ids of [['s1', 's2'], ['s2']]) {
              const got = await s.profilingData.queryProfilingStacks(ids, ALL, agg);
              assert.deepEqual(canon(got), canon(aggregateProfilingStacks(records, ids, ALL, agg)), `${agg} ${ids}`);
            }
          }
        } finally {
          await s.close();
          await dropNamespace(admin!, namespace);
        }
      });
    }
  });

  describe('Elasticsearch storage: faults', () => {
    it('refuses an existing index with an incompatible mapping, naming the index and the field', async () => {
      const namespace = freshNamespace('mc');
      try {
        await admin!.indices.create({
          index: `${namespace}_process_traffic`,
          settings: { number_of_replicas: 0 },
          mappings: { properties: { labels: { type: 'text' } } },
        });
        const s = makeStorage(namespace);
        await assert.rejects(
          s.init(),
          /index mc\d+x\d+_process_traffic .*field "labels" is mapped as text, oap-lite needs keyword/,
        );
        await s.close();
        await dropNamespace(admin!, namespace);

        await admin!.indices.create({
          index: `${namespace}_records-all-20260101`,
          settings: { number_of_replicas: 0 },
          mappings: { properties: { upload_time: { type: 'keyword' } } },
        });
        const s2 = makeStorage(namespace);
        await assert.rejects(
          s2.init(),
          /index mc\d+x\d+_records-all-20260101 .*field "upload_time" is mapped as keyword, oap-lite needs long/,
        );
        await s2.close();
      } finally {
        await dropNamespace(admin!, namespace);
      }
    });

    it('waits, saying so, for a metadata index whose primary shard has not started, and gives up at its bound', async () => {
      // As when another node created the index a moment ago; here its primary cannot be allocated
      // until the test lifts an allocation filter.
      const namespace = freshNamespace('ps');
      const index = `${namespace}_management`;
      const def = METADATA_INDICES.find((d) => d.model === 'management')!;
      try {
        await admin!.indices.create({
          index,
          settings: { number_of_replicas: 0, 'index.routing.allocation.require._name': 'no-such-node' },
          mappings: { dynamic: 'strict', properties: def.properties },
        });
        const bounded = makeStorage(namespace, { startupWaitMs: 2_000 });
        await assert.rejects(
          bounded.init(),
          /the primary shards of Elasticsearch indices ps\d+x\d+_management \(0\/1 started, status \w+\) at http:\/\/127\.0\.0\.1:\d+ did not start within 2 s: see GET _cluster\/allocation\/explain/,
        );
        await bounded.close();

        const logs = captureLog();
        const s = makeStorage(namespace, { log: logs.log });
        try {
          const init = pending(s.init());
          await until('a "waiting for the primary shards" log line', () =>
            logs.lines.some((l) => l.msg.startsWith(`waiting for the primary shards of ${index} (0/1 started`)),
          );
          assert.equal(init.settled(), false, 'init() waits for the primary shard');
          await admin!.indices.putSettings({ index, settings: { 'index.routing.allocation.require._name': null } });
          await init.promise;
          assert.ok(
            logs.lines.some((l) => /^the primary shards of every oap-lite index .* started after \d+ ms/.test(l.msg)),
          );
          assert.equal(await s.uiTemplates.getUiTemplate('none'), null, 'the index reads');
        } finally {
          await s.close();
        }
      } finally {
        await dropNamespace(admin!, namespace);
      }
    });

    it(
      'waits for a node that is down at start, and buffers ingest through an outage (bounded)',
      { timeout: 300_000 },
      async (t) => {
        if (es!.reused) return t.skip('needs a node this test can stop and restart (SWLITE_ES_URL is set)');
        const namespace = freshNamespace('ft');
        const lateNamespace = freshNamespace('lt');
        const logs = captureLog();
        let buffered = 0;
        let dropped = 0;
        const metrics = {
          storageBuffered: { set: (n: number) => void (buffered = n) },
          storageDropped: { inc: (n = 1) => void (dropped += n) },
        };
        const s = makeStorage(namespace, { log: logs.log, metrics, bufferLimit: 60, flushIntervalMs: 50 });
        const late = makeStorage(lateNamespace, { log: logs.log });
        try {
          await s.init();
          await s.profilingData.writeProfilingData([rec({ stackIdList: 'before', count: 1 })]);
          await es!.pause();

          // A storage started while the node is down waits, saying so.
          const lateInit = pending(late.init());
          // Ingest while down: held in the buffer, the promises wait for durability.
          const schedule = pending(
            s.tasks.upsertSchedule({
              scheduleId: 'sched-1',
              taskId: 'task-1',
              processId: 'p',
              startTime: T0,
              endTime: T0 + 50,
            }),
          );
          const batch1 = Array.from({ length: 40 }, (_, i) =>
            rec({ stackIdList: `a${i}`, uploadTime: T0 + 1 + i, count: 2 }),
          );
          const write1 = pending(s.profilingData.writeProfilingData(batch1));
          const batch2 = Array.from({ length: 15 }, (_, i) =>
            rec({ stackIdList: `b${i}`, uploadTime: T0 + 100 + i, frames: [U('other')], count: 3 }),
          );
          const write2 = pending(s.profilingData.writeProfilingData(batch2));
          await until('the buffer to hold 56 records', () => buffered === 56);
          // Past bufferLimit (60): refused at once, counted, logged; what is buffered stays.
          await assert.rejects(
            s.profilingData.writeProfilingData(
              Array.from({ length: 10 }, (_, i) =>
                rec({ stackIdList: `c${i}`, uploadTime: T0 + 200 + i, count: 1000 }),
              ),
            ),
            /buffer full: 56 records are waiting for http:\/\/127\.0\.0\.1:\d+ \(bufferLimit 60\); a batch of 10 records was refused/,
          );
          assert.equal(dropped, 10);
          assert.ok(logs.lines.some((l) => l.level === 'error' && /buffer full/.test(l.msg)));
          await until('an "unavailable" log line', () => logs.lines.some((l) => /unavailable/.test(l.msg)));
          await until('a "waiting for Elasticsearch at" log line', () =>
            logs.lines.some((l) => /^waiting for Elasticsearch at http:\/\/127\.0\.0\.1:\d+/.test(l.msg)),
          );
          await new Promise((r) => setTimeout(r, 1000));
          assert.equal(lateInit.settled(), false, 'init() must wait for Elasticsearch');
          assert.equal(write1.settled(), false, 'a write must not resolve before it is durable');
          assert.equal(schedule.settled(), false);

          await es!.resume();
          await Promise.all([write1.promise, write2.promise, schedule.promise, lateInit.promise]);
          assert.equal(buffered, 0);
          assert.ok(logs.lines.some((l) => /answers/.test(l.msg)));
          const got = await s.profilingData.queryProfilingStacks(['sched-1'], ALL, 'COUNT');
          assert.deepEqual(
            got.map((g) => g.value),
            [1 + 40 * 2, 15 * 3],
          );
          assert.deepEqual(await s.tasks.querySchedules('task-1'), [
            { scheduleId: 'sched-1', taskId: 'task-1', processId: 'p', startTime: T0, endTime: T0 + 50 },
          ]);
          // the storage that waited at start works
          await late.tasks.upsertSchedule({
            scheduleId: 'x',
            taskId: 'tx',
            processId: 'p',
            startTime: T0,
            endTime: T0,
          });
          assert.equal((await late.tasks.querySchedules('tx')).length, 1);
        } finally {
          await s.close();
          await late.close();
          await dropNamespace(admin!, namespace);
          await dropNamespace(admin!, lateNamespace);
        }
      },
    );
  });
}
