// The target registry: one target per protocol target type, how each is named in continuous
// reports, NETWORK without a reporter, and the stack targets for real in the kernel (a set of
// processes, processes added and removed, per-process payloads of the target's shape).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { compileWorkload, ensureBpfBuilt, startWorkload } from '@swlite/bpf/testing/workloads';
import { PROFILING_TARGET_TYPES, type EBPFProfilingStackMetadata } from '@swlite/protocol';
import { Symbolizer } from '@swlite/symbolizer';
import { loadConfig } from '../../config';
import { createTargetRegistry } from './registry';
import type { ProfilingPayload, TargetDrain } from './target';

const log = pino({ level: 'silent' });
const newRegistry = () =>
  createTargetRegistry({ config: loadConfig({ env: {} }).profiling, symbolizer: new Symbolizer(), log });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const userFrames = (stacks: EBPFProfilingStackMetadata[] | undefined) =>
  (stacks ?? []).filter((s) => s.stackType === 'PROCESS_USER_SPACE').flatMap((s) => s.stackSymbols ?? []);

describe('profiling target registry', () => {
  it('has one target per protocol target type, registered under its type', () => {
    const registry = newRegistry();
    assert.deepEqual(
      registry.all().map((t) => t.type),
      [...PROFILING_TARGET_TYPES],
    );
    for (const type of PROFILING_TARGET_TYPES) assert.equal(registry.get(type).type, type);
  });

  it('names each target in continuous reports as upstream ContinuousProfilingReport does', () => {
    const registry = newRegistry();
    assert.deepEqual(Object.fromEntries(PROFILING_TARGET_TYPES.map((t) => [t, registry.get(t).continuousReport])), {
      ON_CPU: { targetTask: 'onCPU', onCPU: {} },
      OFF_CPU: { targetTask: 'offCPU', offCPU: {} },
      NETWORK: { targetTask: 'network', network: { samplingURIRegexes: [] } },
    });
  });

  it('NETWORK without a reporter in the context: unavailable, and starting it fails with that reason', () => {
    const network = newRegistry().get('NETWORK');
    assert.equal(network.unavailable(), 'network profiling has no reporter in this rover');
    assert.throws(() => network.start([process.pid]), /network profiling has no reporter in this rover/);
  });
});

describe('stack targets in the kernel', { skip: bpfTestSkip() }, () => {
  before(() => ensureBpfBuilt());

  it('ON_CPU for a set of processes: onCPU payloads per pid; a removed process comes with one more drain, then no more', async () => {
    const exe = compileWorkload('oncpu_workload');
    const target = newRegistry().get('ON_CPU');
    assert.equal(target.unavailable(), null);
    const a = startWorkload(exe, ['3', '20000000', '1000', '1']);
    const b = startWorkload(exe, ['3', '20000000', '1000', '1']);
    await Promise.all([a.ready(), b.ready()]);
    const run = target.start([a.pid]);
    const drains: TargetDrain[] = [];
    try {
      run.addProcess(b.pid);
      a.go();
      b.go();
      await sleep(800);
      run.removeProcess(a.pid);
      drains.push(run.drain());
      await sleep(500);
      drains.push(run.drain());
    } finally {
      drains.push(run.stop());
      a.child.kill();
      b.child.kill();
      await Promise.allSettled([a.done, b.done]);
    }
    const [first, second, last] = drains as [TargetDrain, TargetDrain, TargetDrain];
    assert.deepEqual(
      new Set(first.payloads.keys()),
      new Set([a.pid, b.pid]),
      'both processes, the removed one included',
    );
    assert.deepEqual(
      [...second.payloads.keys(), ...last.payloads.keys()].filter((p) => p === a.pid),
      [],
      'nothing of the removed process after',
    );
    assert.ok(second.payloads.has(b.pid));
    const payloads: ProfilingPayload[] = [...first.payloads.values()].flat();
    for (const p of payloads) {
      assert.deepEqual(Object.keys(p), ['onCPU']);
      assert.ok(p.onCPU!.dumpCount! > 0);
    }
    const hot = payloads.filter((p) => userFrames(p.onCPU!.stacks!).some((f) => f === 'hot_a' || f === 'hot_b'));
    const counted = payloads.reduce((n, p) => n + p.onCPU!.dumpCount!, 0);
    const inHot = hot.reduce((n, p) => n + p.onCPU!.dumpCount!, 0);
    const elsewhere = payloads
      .filter((p) => !hot.includes(p))
      .map(
        (p) => `${p.onCPU!.dumpCount} × ${userFrames(p.onCPU!.stacks!).slice(-3).join(' > ') || '(no user frames)'}`,
      );
    assert.ok(
      inHot >= counted * 0.8,
      `the samples are in the hot functions: ${inHot} of ${counted}; elsewhere: ${elsewhere.slice(0, 8).join('; ')}`,
    );
    assert.ok(first.samples >= counted, `samples taken (${first.samples}) cover the samples reported (${counted})`);
  });

  it('OFF_CPU: offCPU payloads count the switches and the blocked time of sleep_fn (within 20% of its wall time)', async () => {
    const exe = compileWorkload('offcpu_workload');
    const target = newRegistry().get('OFF_CPU');
    assert.equal(target.unavailable(), null);
    const wl = startWorkload(exe, ['8', '50', '4', '100']);
    const run = target.start([wl.pid]);
    const payloads: ProfilingPayload[] = [];
    let out = '';
    try {
      wl.go();
      out = await wl.done;
      payloads.push(...(run.drain().payloads.get(wl.pid) ?? []));
    } finally {
      payloads.push(...(run.stop().payloads.get(wl.pid) ?? []));
    }
    const wallNs = Number(/sleep_fn_ns=(\d+)/.exec(out)?.[1]);
    let sleptNs = 0;
    let switches = 0;
    for (const p of payloads) {
      assert.deepEqual(Object.keys(p), ['offCPU']);
      if (!userFrames(p.offCPU!.stacks!).includes('sleep_fn')) continue;
      sleptNs += Number(p.offCPU!.duration);
      switches += p.offCPU!.switchCount!;
    }
    assert.ok(switches >= 8, `${switches} switches in sleep_fn`);
    assert.ok(Math.abs(sleptNs - wallNs) / wallNs <= 0.2, `sleep_fn blocked ${sleptNs} ns vs wall ${wallNs} ns`);
  });
});
