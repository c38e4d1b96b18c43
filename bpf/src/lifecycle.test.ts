// Profiler lifecycle and decoders: start/add/remove/stop/restart leave no native resources.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { liveResources } from '@swlite/libbpf-ts';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import {
  HttpObserver,
  OffCpuProfiler,
  OffCpuSnapshotProfiler,
  OnCpuProfiler,
  StackSnapshotProfiler,
  decodeOffCpuValue,
  decodeStackKey,
  encodeStackKey,
  bpfObjectPath,
} from './index.js';
import { ensureBpfBuilt } from './testing/workloads.js';

describe('decoders', () => {
  it('stack_key round trip, offcpu_value', () => {
    const k = { tgid: 4242, userStackId: -1, kernelStackId: (1 << 30) | 17 };
    assert.deepEqual(decodeStackKey(encodeStackKey(k)), k);
    const v = Buffer.alloc(16);
    v.writeBigUInt64LE(3n, 0);
    v.writeBigUInt64LE(1_500_000_000n, 8);
    assert.deepEqual(decodeOffCpuValue(v), { count: 3, durationNs: 1_500_000_000 });
  });
  it('object paths honour SWLITE_BPF_DIR', () => {
    const prev = process.env.SWLITE_BPF_DIR;
    process.env.SWLITE_BPF_DIR = '/opt/x';
    try {
      assert.equal(bpfObjectPath('oncpu'), '/opt/x/oncpu.bpf.o');
    } finally {
      if (prev === undefined) delete process.env.SWLITE_BPF_DIR;
      else process.env.SWLITE_BPF_DIR = prev;
    }
  });
});

describe('profiler lifecycle', { skip: bpfTestSkip() }, () => {
  it('start/addTarget/removeTarget/stop/restart free everything', () => {
    ensureBpfBuilt();
    const base = liveResources();
    for (const scope of ['cpu', 'thread'] as const) {
      const p = new OnCpuProfiler();
      p.start([], { scope, frequency: 99 });
      p.addTarget(process.pid);
      assert.deepEqual(p.targetTgids, [process.pid]);
      p.removeTarget(process.pid);
      p.addTarget(process.pid);
      assert.equal(p.drain().stacks.length >= 0, true);
      p.stop();
      p.stop();
      assert.equal(p.running, false);
      p.start([process.pid], { scope });
      p.stop();
    }
    const off = new OffCpuProfiler();
    off.start([process.pid]);
    off.drain();
    off.stop();
    const snap = new StackSnapshotProfiler();
    snap.start([process.pid], { frequency: 99 });
    snap.stop();
    const offSnap = new OffCpuSnapshotProfiler({ onSnapshot: () => {} });
    offSnap.start([process.pid]);
    assert.equal(offSnap.mode, 'tp_btf');
    assert.equal(offSnap.fallbackReason, undefined);
    offSnap.poll();
    offSnap.stop();
    const http = new HttpObserver({ onExchange: () => {} });
    http.start([process.pid]);
    http.removeTarget(process.pid);
    http.stop();
    assert.deepEqual(liveResources(), base);
  });

  it('a start that fails leaves nothing open and says why', () => {
    ensureBpfBuilt();
    const base = liveResources();
    // A missing object file is not worth a second attempt with the tracepoint: its error is thrown.
    const off = new OffCpuProfiler({ objectDir: '/nonexistent' });
    assert.throws(() => off.start([process.pid]), /nonexistent\/offcpu\.bpf\.o/);
    assert.throws(() => off.start([process.pid], { mode: 'tracepoint' }), /nonexistent/);
    assert.equal(off.running, false);
    const snap = new StackSnapshotProfiler({ objectDir: '/nonexistent' });
    assert.throws(() => snap.start([process.pid]), /nonexistent/);
    assert.deepEqual(liveResources(), base);
  });
});
