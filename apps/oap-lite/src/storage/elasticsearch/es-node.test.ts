// Smoke test of the test Elasticsearch node (tools/elasticsearch): start it, write 1,000 documents
// with the v9 client, read them back with aggregations, stop it. Skips when Java/Maven are missing,
// except under CI=true where that is a failure.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import { compatibleWith8, startTestElasticsearchOrSkip, type TestElasticsearch } from './test-node';

describe('test Elasticsearch node', () => {
  let es: TestElasticsearch | undefined;
  let client: Client | undefined;
  let skipReason = '';

  before(
    async () => {
      ({ es, skipReason } = await startTestElasticsearchOrSkip());
      if (!es) return;
      client = new Client({ node: es.url, ...compatibleWith8() });
      console.log(
        `elasticsearch test node at ${es.url}: started in ${(es.startedInMs / 1000).toFixed(1)} s${es.reused ? ' (reused)' : ''}`,
      );
    },
    { timeout: 600_000 },
  );

  after(async () => {
    await client?.close();
    await es?.stop();
  });

  it('answers GET / as Elasticsearch 8.x', async (t) => {
    if (!client) return t.skip(skipReason);
    const info = await client.info();
    assert.match(info.version.number, /^8\./);
    if (!es?.reused) assert.equal(info.cluster_name, 'swlite-test');
    assert.equal(await client.ping(), true);
    const health = await client.cluster.health({
      wait_for_status: 'yellow',
      timeout: '30s',
    });
    assert.notEqual(health.status, 'red');
  });

  it('bulk-writes 1,000 documents and aggregates them', async (t) => {
    if (!client) return t.skip(skipReason);
    const index = `swlite-smoke-${process.pid}-${Date.now()}`;
    await client.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        properties: {
          service: { type: 'keyword' },
          endpoint: { type: 'keyword' },
          latency: { type: 'long' },
          ts: { type: 'date', format: 'epoch_millis' },
        },
      },
    });
    try {
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      const operations: object[] = [];
      for (let i = 0; i < 1000; i++) {
        operations.push({ index: { _index: index, _id: String(i) } });
        operations.push({
          service: `svc-${i % 4}`,
          endpoint: `/e/${i % 10}`,
          latency: i,
          ts: t0 + i * 60_000,
        });
      }
      const bulk = await client.bulk({ operations, refresh: 'wait_for' });
      assert.equal(bulk.errors, false);
      assert.equal(bulk.items.length, 1000);

      const count = await client.count({ index });
      assert.equal(count.count, 1000);

      const res = await client.search({
        index,
        size: 0,
        track_total_hits: true,
        query: { range: { latency: { gte: 100 } } },
        aggs: {
          by_service: {
            terms: { field: 'service', size: 10, order: { _key: 'asc' } },
            aggs: {
              avg_latency: { avg: { field: 'latency' } },
              max_latency: { max: { field: 'latency' } },
            },
          },
          per_hour: { date_histogram: { field: 'ts', fixed_interval: '1h' } },
          p99: { percentiles: { field: 'latency', percents: [99] } },
        },
      });
      const total = res.hits.total;
      assert.equal(typeof total === 'number' ? total : total?.value, 900);

      const aggs = res.aggregations as {
        by_service: {
          buckets: {
            key: string;
            doc_count: number;
            avg_latency: { value: number };
            max_latency: { value: number };
          }[];
        };
        per_hour: { buckets: { doc_count: number }[] };
        p99: { values: Record<string, number> };
      };
      const buckets = aggs.by_service.buckets;
      assert.deepEqual(
        buckets.map((b) => [b.key, b.doc_count]),
        [
          ['svc-0', 225],
          ['svc-1', 225],
          ['svc-2', 225],
          ['svc-3', 225],
        ],
      );
      // svc-0 has latencies 100, 104, ..., 996: mean 548.
      assert.equal(buckets[0]?.avg_latency.value, 548);
      assert.equal(buckets[3]?.max_latency.value, 999);
      // Minutes 100..999 span hours 1..16 of the day.
      assert.equal(
        aggs.per_hour.buckets.reduce((n, b) => n + b.doc_count, 0),
        900,
      );
      assert.equal(aggs.per_hour.buckets.length, 16);
      const p99 = aggs.p99.values['99.0'];
      assert.ok(p99 !== undefined && p99 > 980 && p99 <= 999, `p99=${p99}`);

      const top = await client.search<{ latency: number }>({
        index,
        size: 3,
        sort: [{ latency: 'desc' }],
        query: { term: { endpoint: '/e/9' } },
      });
      assert.deepEqual(
        top.hits.hits.map((h) => h._source?.latency),
        [999, 989, 979],
      );
    } finally {
      await client.indices.delete({ index });
    }
  });
});
