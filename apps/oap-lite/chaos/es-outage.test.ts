/**
 * Elasticsearch stopped mid-ingest under two oap-lite nodes sharing it (npm run chaos -w
 * @swlite/oap-lite; needs Java for tools/elasticsearch, skips without it unless CI=true). The two
 * nodes start at the same moment on a fresh namespace. Two agents, one per node, stream numbered
 * batches and retry a batch until it is acknowledged, as rover does (a 10 s deadline, then the
 * same batch again). Elasticsearch is stopped for CHAOS_ES_OUTAGE_SECONDS (20) and started again
 * on the same data. Proves: both nodes start; both report DOWN on /healthcheck while it is away
 * and UP after; the agents see failures (their codes are printed) and get through after; every
 * acknowledged batch is stored exactly once, seen the same from both nodes.
 */
import * as grpc from '@grpc/grpc-js';
import { AgentClient, createTask, hostProcess, sleep, startOap, type OapProcess } from '@swlite/testkit';
import { Client } from '@elastic/elasticsearch';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropNamespace } from '../src/storage/elasticsearch/elasticsearch-storage';
import {
  compatibleWith8,
  startTestElasticsearchOrSkip,
  type TestElasticsearch,
} from '../src/storage/elasticsearch/test-node';
import { flush, storedSum, sumOf } from './uploads';

const OUTAGE_MS = Number(process.env.CHAOS_ES_OUTAGE_SECONDS ?? 20) * 1000;
const SERVICE = 'es-chaos-service';
const DEADLINE_MS = 10_000;

const health = async (oap: OapProcess): Promise<string> => {
  try {
    const res = await fetch(`http://127.0.0.1:${oap.httpPort}/healthcheck`, { signal: AbortSignal.timeout(10_000) });
    return ((await res.json()) as { status: string }).status;
  } catch (err) {
    return `no answer (${(err as Error).message})`;
  }
};

describe('Elasticsearch stopped mid-ingest under two oap-lite nodes', () => {
  let es: TestElasticsearch | undefined;
  let skipReason = '';
  let a: OapProcess | undefined;
  let b: OapProcess | undefined;
  const namespace = `chaos${process.pid}t${Date.now() % 100000}`;

  before(
    async () => {
      ({ es, skipReason } = await startTestElasticsearchOrSkip());
      if (!es) return;
      if (es.reused) {
        skipReason = 'a reused Elasticsearch node (SWLITE_ES_URL) cannot be stopped';
        return;
      }
      const env = {
        SW_STORAGE: 'elasticsearch',
        SW_STORAGE_ES_CLUSTER_NODES: es.url.replace(/^https?:\/\//, ''),
        SW_NAMESPACE: namespace,
        SW_LOG_LEVEL: 'warn',
      };
      // Together, as an orchestrator starts a cluster's nodes: both race to create the same indices.
      const started = await Promise.allSettled([startOap(env, undefined, 180_000), startOap(env, undefined, 180_000)]);
      [a, b] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
      const failed = started.filter((s) => s.status === 'rejected');
      if (failed.length > 0)
        throw new Error(
          `${failed.length} of 2 nodes started together failed: ${failed.map((f) => (f.reason as Error).message).join('; ')}`,
        );
    },
    { timeout: 600_000 },
  );
  after(async () => {
    await a?.cleanup();
    await b?.cleanup();
    if (es && !es.reused) {
      const admin = new Client({ node: es.url, ...compatibleWith8() });
      await dropNamespace(admin, namespace).catch(() => {});
      await admin.close();
    }
    await es?.stop();
  });

  it(`${OUTAGE_MS / 1000} s without Elasticsearch: DOWN while away, agents retry, every acked batch stored once`, async (t) => {
    if (!a || !b || !es) {
      if (process.env.CI === 'true') assert.fail(skipReason);
      return t.skip(skipReason);
    }
    const reporter = new AgentClient(a.grpcAddress, 'es-chaos-rover');
    const processId = (await reporter.reportProcesses([hostProcess('worker', { service: SERVICE, pid: 99 })]))
      .processes[0]!.processId;
    reporter.close();
    const { taskId } = await createTask(b.graphqlUrl, SERVICE, 'ON_CPU', 600);
    const start = Date.now();

    let stopAgents = false;
    const codes = new Map<string, number>();
    /** One agent on one node: batch i goes until acked (distinct upload times per agent and batch). */
    const agent = async (node: OapProcess, slot: number) => {
      const client = new AgentClient(node.grpcAddress, `es-chaos-${slot}`);
      let acked = 0;
      for (let i = 0; !stopAgents; i++) {
        const batch = flush(taskId, processId, start, start + (2 * i + slot + 1) * 1000, 40, `n${slot}b${i}`);
        for (;;) {
          try {
            await client.collect(batch, { deadlineMs: DEADLINE_MS });
            acked += sumOf(batch);
            break;
          } catch (err) {
            const code = grpc.status[(err as grpc.ServiceError).code] ?? String(err);
            codes.set(code, (codes.get(code) ?? 0) + 1);
            await sleep(1_000);
          }
        }
        await sleep(300);
      }
      client.close();
      return acked;
    };
    const agents = [agent(a, 0), agent(b, 1)];

    await sleep(6_000);
    await es.pause();
    const stoppedAt = Date.now();
    const seen = { a: new Set<string>(), b: new Set<string>() };
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      seen.a.add(await health(a));
      seen.b.add(await health(b));
      await sleep(1_000);
    }
    const resumeStarted = Date.now();
    await es.resume();
    const resumedInMs = Date.now() - resumeStarted;
    await sleep(8_000);
    stopAgents = true;
    const [ackedA, ackedB] = (await Promise.all(agents)) as [number, number];
    const [storedOnA, storedOnB] = [await storedSum(a, taskId), await storedSum(b, taskId)];
    const after = [await health(a), await health(b)];
    const figures =
      `Elasticsearch away ${OUTAGE_MS / 1000} s (+${(resumedInMs / 1000).toFixed(1)} s to start again); health seen on A: ` +
      `${[...seen.a].join('/')}, on B: ${[...seen.b].join('/')}; agent failures: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}; ` +
      `acked ${ackedA} + ${ackedB} samples, stored ${storedOnA} (read on A), ${storedOnB} (read on B)`;
    t.diagnostic(figures);
    console.log(figures);
    assert.ok(seen.a.has('DOWN') && seen.b.has('DOWN'), 'both nodes reported DOWN while Elasticsearch was away');
    assert.ok(codes.size > 0, 'the agents felt the outage');
    assert.deepEqual(after, ['UP', 'UP'], 'both nodes UP again');
    assert.equal(storedOnA, ackedA + ackedB, 'stored = acked, read on A');
    assert.equal(storedOnB, ackedA + ackedB, 'stored = acked, read on B');
  });
});
