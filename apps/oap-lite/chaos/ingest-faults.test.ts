/**
 * Fault suite (npm run chaos -w @swlite/oap-lite): oap-lite as a real process, real gRPC. Each
 * case says what it proves and checks, by the stored sums, that nothing is lost and nothing is
 * counted twice.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
import { AgentClient, createTask, hostProcess, sleep, startOap, type OapProcess } from '@swlite/testkit';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flush, storedSum, sumOf } from './uploads';

const SERVICE = 'chaos-service';

describe('oap-lite under ingest faults', () => {
  let oap: OapProcess;
  let taskId: string;
  let processId: string;

  before(async () => {
    oap = await startOap();
    const agent = new AgentClient(oap.grpcAddress, 'chaos-rover');
    processId = (await agent.reportProcesses([hostProcess('worker', { service: SERVICE, pid: 77 })])).processes[0]!
      .processId;
    agent.close();
    taskId = (await createTask(oap.graphqlUrl, SERVICE, 'ON_CPU', 600)).taskId;
  });
  after(async () => {
    await oap?.cleanup();
  });

  it('kill -9 during an upload, restart, the agent resends: every acked and resent batch counted exactly once', async (t) => {
    const start = Date.now();
    const acked = flush(taskId, processId, start, start + 1_000, 2_000, 'acked');
    let agent = new AgentClient(oap.grpcAddress, 'chaos-rover');
    await agent.collect(acked);
    // Batch B: killed mid-way (during the stream or its commit, whichever the timing hits).
    const batchB = flush(taskId, processId, start, start + 2_000, 20_000, 'b');
    const sending = agent.collect(batchB).then(
      () => 'acked',
      () => 'failed',
    );
    await sleep(150);
    await oap.kill();
    const outcome = await sending;
    t.diagnostic(`batch B was ${outcome} when oap-lite was killed`);
    agent.close();
    oap = await startOap({}, { grpcPort: oap.grpcPort, httpPort: oap.httpPort, dataDir: oap.dataDir });
    agent = new AgentClient(oap.grpcAddress, 'chaos-rover');
    // rover resends a batch it has no answer for; an acked one it never sends again.
    if (outcome === 'failed') await agent.collect(batchB);
    agent.close();
    assert.equal(await storedSum(oap, taskId), sumOf(acked) + sumOf(batchB), `batch B was ${outcome} at the kill`);
  });

  it('mutated protobuf (300 random byte flips, cuts and splices) never stops the server nor stores a refused stream', async () => {
    const before = await storedSum(oap, taskId);
    const client = new grpc.Client(oap.grpcAddress, grpc.credentials.createInsecure());
    const method = loadSkyWalkingGrpc().skywalking.v3.EBPFProfilingService.service.collectProfilingData;
    const valid = flush(taskId, processId, Date.now(), Date.now() + 500, 5, 'mutant').map((m) =>
      method.requestSerialize(m),
    );
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let refused = 0;
    for (let round = 0; round < 300; round++) {
      const messages: Buffer[] = valid.map((b) => Buffer.from(b));
      const victim = messages[rand(messages.length)]!;
      const kind = rand(3);
      let mutated: Buffer;
      if (kind === 0) {
        mutated = Buffer.from(victim);
        for (let k = 0; k < 1 + rand(4); k++) mutated[rand(mutated.length)] = rand(256);
      } else if (kind === 1) mutated = victim.subarray(0, rand(victim.length));
      else
        mutated = Buffer.concat([
          victim.subarray(0, rand(victim.length)),
          Buffer.from([rand(256), rand(256), rand(256)]),
        ]);
      messages[messages.indexOf(victim)] = mutated;
      const ok = await new Promise<boolean>((resolve) => {
        const call = client.makeClientStreamRequest(
          '/skywalking.v3.EBPFProfilingService/collectProfilingData',
          (b: Buffer) => b,
          (b: Buffer) => b,
          (err) => resolve(!err),
        );
        for (const m of messages) call.write(m);
        call.end();
      });
      if (!ok) refused++;
    }
    client.close();
    assert.ok(refused > 0, 'some mutations must be refused');
    // Still serving, and an accepted mutant can only have stored well-formed stacks of this task.
    const agent = new AgentClient(oap.grpcAddress, 'chaos-rover');
    const clean = flush(taskId, processId, Date.now(), Date.now() + 900, 50, 'after');
    await agent.collect(clean);
    agent.close();
    assert.ok((await storedSum(oap, taskId)) >= before + sumOf(clean));
  });
});
