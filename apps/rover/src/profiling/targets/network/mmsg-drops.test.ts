// The NETWORK target on the syscalls and kernel events the HTTP tests do not reach, in the real
// kernel with a C workload (bpf/test-fixtures/net_mmsg.c) that counts what it did itself:
// - recvmmsg/sendmmsg on UDP: the layer-4 meters carry as many reads and writes as the workload's
//   calls and their bytes summed over every message of a call;
// - recvmmsg/sendmmsg on TCP carrying HTTP/1.1 (head and body in two messages of one call): every
//   exchange metered on both sides, with its status;
// - skb:kfree_skb: datagrams dropped because the receiver's buffer was full count on the
//   receiver's connection, as many as the kernel's own drop counter of that socket.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { compileWorkload, ensureBpfBuilt, startWorkload, workloadFigure } from '@swlite/bpf/testing/workloads';
import { NetworkRun } from './index';
import { NetworkRecorder } from '../../../testing/network-recorder';

const PREFIX = 'rover_net_p';

/** Runs the workload in `args` as the task's only process; its output and what the run reported. */
const profile = async (binary: string, args: string[]) => {
  const w = startWorkload(binary, args);
  const recorder = new NetworkRecorder();
  const proc = { pid: w.pid, id: 'proc-w', service: 'svc', instance: 'inst', name: 'net_mmsg', layer: 'GENERAL' };
  const run = new NetworkRun(
    [w.pid],
    { reporter: recorder, process: (pid) => (pid === w.pid ? proc : undefined) },
    pino({ level: 'silent' }),
    { reportIntervalMs: 60_000, meterPrefix: PREFIX },
  );
  try {
    w.go();
    const out = await w.done;
    await run.report();
    const drain = run.drain();
    assert.equal(drain.lost, 0, `records lost: ${JSON.stringify(drain.lostDetail)}`);
    return { out, recorder, figure: (key: string) => workloadFigure(out, key) };
  } finally {
    run.stop();
    if (w.child.exitCode === null) w.child.kill();
  }
};

describe('NETWORK target: recvmmsg/sendmmsg and dropped skbs', { skip: bpfTestSkip() }, () => {
  let binary: string;
  before(() => {
    ensureBpfBuilt();
    binary = compileWorkload('net_mmsg', ['-O1', '-g']);
  });

  for (const batch of [8, 16, 40]) {
    it(`UDP, ${batch} datagrams a call: calls and bytes of every message`, async () => {
      const { out, recorder, figure } = await profile(binary, ['udp', '6', String(batch)]);
      // both sockets are connected UDP sockets of the process: the client side
      const sum = (op: string, what: string) => recorder.sum(`${PREFIX}_client_${op}_${what}_counter`);
      assert.deepEqual(
        {
          writes: sum('write', 'counts'),
          writeBytes: sum('write', 'bytes'),
          reads: sum('read', 'counts'),
          readBytes: sum('read', 'bytes'),
        },
        {
          writes: figure('write_calls'),
          writeBytes: figure('write_bytes'),
          reads: figure('read_calls'),
          readBytes: figure('read_bytes'),
        },
        `workload: ${out}`,
      );
      assert.ok(figure('write_bytes') > 0);
      assert.equal(recorder.sum(`${PREFIX}_client_drop_counts_counter`), 0, 'no drops on an idle loopback');
    });
  }

  it('TCP carrying HTTP/1.1, head and body in two messages of one call: every exchange, both sides', async () => {
    const exchanges = 12;
    const { out, recorder, figure } = await profile(binary, ['tcp', String(exchanges)]);
    for (const side of ['client', 'server'] as const) {
      const sum = (op: string, what: string) => recorder.sum(`${PREFIX}_${side}_${op}_${what}_counter`);
      assert.deepEqual(
        {
          writes: sum('write', 'counts'),
          writeBytes: sum('write', 'bytes'),
          reads: sum('read', 'counts'),
          readBytes: sum('read', 'bytes'),
        },
        {
          writes: figure(`${side}_write_calls`),
          writeBytes: figure(`${side}_write_bytes`),
          reads: figure(`${side}_read_calls`),
          readBytes: figure(`${side}_read_bytes`),
        },
        `${side} layer 4; workload: ${out}`,
      );
      assert.equal(recorder.sum(`${PREFIX}_http1_request_counter`, { side }), exchanges, `${side} exchanges`);
      assert.equal(
        recorder.sum(`${PREFIX}_http1_response_status_counter`, { side, code: '200' }),
        exchanges,
        `${side} status 200`,
      );
    }
  });

  it("UDP receive buffer overflow: the receiver's drops, as the kernel counted them", async () => {
    const { out, recorder, figure } = await profile(binary, ['drop', '300']);
    const kernelDrops = figure('kernel_drops');
    assert.ok(kernelDrops > 100, `the workload made drops: ${out}`);
    assert.equal(figure('sent') - figure('received'), kernelDrops, out);
    assert.equal(recorder.sum(`${PREFIX}_client_drop_counts_counter`), kernelDrops, `workload: ${out}`);
  });
});
