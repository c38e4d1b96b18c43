/**
 * The event loop does not wait on profiling writes: a real oap-lite process stores one large
 * upload (40,000 distinct stacks) while a client polls listProcesses, and no poll waits much
 * longer than the slowest idle one. Before the writer thread the commits ran on the event loop
 * and held every request for their whole length.
 *
 * The polling runs in a thread of its own, so the test's own work (encoding the upload) never
 * delays a poll; latencies are judged against the idle latency measured in the same run.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { EBPFProfilingData } from '@swlite/protocol';
import { AgentClient, createTask, graphqlOk, hostProcess, minuteDuration, onCpuData, startOap } from '@swlite/testkit';

const SERVICE = 'writer-service';
const INSTANCE = 'host-1';
const STACKS = 40_000;
const DEPTH = 24;

/** Polls listProcesses until told to stop, then posts the latencies (ms), or the error that stopped it. */
const POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
let stop = false;
parentPort.on('message', () => (stop = true));
const latencies = [];
(async () => {
  while (!stop) {
    const t = performance.now();
    const r = await fetch(workerData.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(workerData.body),
    });
    const json = await r.json();
    if (!json.data || !json.data.listProcesses) throw new Error('listProcesses failed: ' + JSON.stringify(json));
    latencies.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  parentPort.postMessage({ latencies });
})().catch((err) => parentPort.postMessage({ latencies, error: String(err.cause || err) }));
`;

const poll = (url: string, body: object) => {
  const worker = new Worker(POLLER, { eval: true, workerData: { url, body } });
  const result = new Promise<{ latencies: number[]; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    stop: async (): Promise<{ latencies: number[]; error?: string }> => {
      worker.postMessage('stop');
      const outcome = await result;
      await worker.terminate();
      return outcome;
    },
  };
};

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const figures = (xs: number[]) =>
  `${xs.length} polls, p50 ${percentile(xs, 50).toFixed(1)} ms, p90 ${percentile(xs, 90).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

test('listProcesses stays fast while a large upload is written', async (t) => {
  const oap = await startOap({ SW_LOG_LEVEL: 'warn' });
  const agent = new AgentClient(oap.grpcAddress, 'rover-writer');
  try {
    const processId = (
      await agent.reportProcesses([hostProcess('big', { service: SERVICE, instance: INSTANCE, pid: 1 })])
    ).processes[0]!.processId;
    const start = Date.now() - 60_000;
    const { taskId } = await createTask(oap.graphqlUrl, SERVICE, 'ON_CPU', 600, start);
    const messages: EBPFProfilingData[] = [];
    for (let i = 0; i < STACKS; i++) {
      const user = ['main'];
      for (let d = 1; d < DEPTH; d++) user.push(`fn_${i % (d * 97)}_${d}`);
      const m = onCpuData(i === 0 ? { taskId, processId, start, now: start + 1_000 } : null, user.reverse(), [], 1);
      m.onCPU!.stacks![0]!.stackId = i + 1;
      messages.push(m);
    }

    const instanceId = `${Buffer.from(SERVICE).toString('base64')}.1_${Buffer.from(INSTANCE).toString('base64')}`;
    const list = {
      query: `query ($d: Duration!, $i: ID!) { listProcesses(duration: $d, instanceId: $i) { id name } }`,
      variables: { d: minuteDuration(Date.now() - 600_000, Date.now() + 600_000), i: instanceId },
    };
    // Warmed up first: the first queries compile their plans.
    for (let i = 0; i < 5; i++) await graphqlOk(oap.graphqlUrl, list.query, list.variables);
    const idlePoller = poll(oap.graphqlUrl, list);
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = await idlePoller.stop();
    assert.equal(idle.error, undefined, 'a poll failed while idle');

    const busyPoller = poll(oap.graphqlUrl, list);
    const began = performance.now();
    await agent.collect(messages);
    const uploadMs = performance.now() - began;
    const busy = await busyPoller.stop();
    // A stall of several seconds shows as a reset (the server's keep-alive timer fires late).
    assert.equal(busy.error, undefined, `a poll failed while the upload was written (${busy.latencies.length} before)`);

    // Everything was stored: the upload was acknowledged only after its commits.
    const db = new Database(join(oap.dataDir, 'oap-lite.db'), { readonly: true, fileMustExist: true });
    try {
      assert.equal(db.prepare('SELECT COUNT(*) FROM profiling_data').pluck().get(), STACKS);
    } finally {
      db.close();
    }

    const report = `idle: ${figures(idle.latencies)}; during the ${uploadMs.toFixed(0)} ms upload: ${figures(busy.latencies)}`;
    t.diagnostic(report);
    assert.ok(
      idle.latencies.length >= 10 && busy.latencies.length >= 10,
      `too few polls to judge (machine too busy?): ${report}`,
    );
    // The upload's receiving, staging and encoding share the event loop with the polls, in small
    // pieces; a commit on the event loop would hold a poll for its whole length (1.3 s here before
    // the writer thread, against an idle maximum of 150 ms).
    const allowed = 3 * Math.max(...idle.latencies) + 400;
    assert.ok(
      Math.max(...busy.latencies) < allowed,
      `a poll waited on the upload (allowed ${allowed.toFixed(0)} ms): ${report}`,
    );
  } finally {
    agent.close();
    await oap.cleanup();
  }
});
