/**
 * oap-lite and rover as real processes, a C workload with known functions, tasks created through
 * GraphQL and the analysis read back through GraphQL, as a person would with the stock UI.
 * BPF runs for real; without BPF these tests skip with the reason (under CI=true they must run).
 */
import { assertJudgeable, checkCount, countBound, ratioTolerance, samplesToJudge } from '@swlite/bpf/testing/sampling';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  analyze,
  createTask,
  pathTo,
  processNames,
  rootTotal,
  schedules,
  sleep,
  total,
  startOap,
  startRover,
  waitFor,
  type OapProcess,
  type RoverProcess,
  blockedWithin,
  buildWorkload,
  callCpuMs,
  cpuWithin,
  runWorkload,
  sumMs,
  stealSince,
} from '@swlite/testkit';

const skip = bpfTestSkip();
/** rover's log lines saying a task (or its part for one process) ended. */
const taskFinishedLines = (rover: RoverProcess, taskId: string) =>
  rover
    .output()
    .split('\n')
    .filter((l) => l.includes(taskId) && l.includes('profiling task finished'));
/** rover's default on-CPU period. */
const PERIOD_MS = 9;
/** Samples a window must be expected to hold (noise within half of it) before counts are judged. */
const NEED_SAMPLES = samplesToJudge(0.5);

describe('rover + oap-lite on this host', { skip }, () => {
  let oap: OapProcess;
  let rover: RoverProcess;
  const cpuBinary = buildWorkload('swlite-cpu-wl');
  const blockBinary = buildWorkload('swlite-block-wl');

  before(async () => {
    oap = await startOap();
    rover = await startRover({ backend: oap.grpcAddress, matchCmd: 'swlite-(cpu|block|fault)-wl' });
  });
  after(async () => {
    await rover?.stop();
    await oap?.cleanup();
  });

  /** Waits until rover reported this very process (its name carries the pid). */
  const waitReported = (service: string, pid: number) =>
    waitFor(
      `${service} (${pid}) reported`,
      async () => (await processNames(oap.graphqlUrl, service)).includes(`${service}-${pid}`),
      15_000,
    );

  it('ON_CPU names hot_a and hot_b in the ratio of the CPU time they took, with kernel frames under the syscalls', async () => {
    const stolen = stealSince();
    const wl = runWorkload(cpuBinary, 'cpu', 60);
    try {
      await waitReported('swlite-cpu-wl', wl.pid);
      const task = await createTask(oap.graphqlUrl, 'swlite-cpu-wl', 'ON_CPU', 45);
      // The task's part for the workload ends when it exits: it is stopped once it had enough CPU
      // inside the task for the counts to be judged tightly (8 s on an idle machine; a busy one
      // makes this longer, up to 40 s, and the assertions below say if it never got enough).
      await waitFor(
        'the workload to get enough CPU inside the task',
        () =>
          Date.now() - task.startTime >= 8_000 &&
          sumMs(cpuWithin(wl.output(), task.startTime, Date.now())) >= 3 * NEED_SAMPLES * PERIOD_MS,
        40_000,
      ).catch(() => undefined);
      wl.child.kill();
      await wl.done;
      await waitFor('the task to finish', () => taskFinishedLines(rover, task.taskId).length > 0, 25_000).catch(
        () => undefined,
      );
      await sleep(1_000); // its last upload
      const s = await schedules(oap.graphqlUrl, task.taskId);
      assert.equal(s.length, 1, 'one schedule for the one workload process');
      assert.equal(s[0]!.process.name, `swlite-cpu-wl-${wl.pid}`);
      const trees = await analyze(oap.graphqlUrl, s, 'COUNT');
      const a = total(trees, (x) => x === 'hot_a');
      const b = total(trees, (x) => x === 'hot_b');
      const all = rootTotal(trees);
      // The ground truth: the thread CPU time each function took inside the schedule's window, as
      // the workload measured it (3:1 in iterations, but the CPU a call gets varies with load).
      const cpu = cpuWithin(wl.output(), s[0]!.startTime, s[0]!.endTime);
      const cpuMs = sumMs(cpu);
      const truth = (cpu.get('hot_a') ?? 0) / (cpu.get('hot_b') ?? 1);
      const tolerance = ratioTolerance(a, b, 0.1);
      console.log(
        `on-CPU: hot_a=${a} hot_b=${b} ratio=${(a / b).toFixed(2)} all=${all}; workload CPU in the window ${cpuMs.toFixed(0)} ms ` +
          `(${(cpuMs / PERIOD_MS).toFixed(0)} samples expected), CPU time ratio ${truth.toFixed(2)} ` +
          `(${((cpu.get('hot_a') ?? 0) / 1e6).toFixed(0)} / ${((cpu.get('hot_b') ?? 0) / 1e6).toFixed(0)} ms); tolerance ±${(tolerance * 100).toFixed(0)}%`,
      );
      assertJudgeable('ON_CPU', {
        cpuMs,
        wallMs: s[0]!.endTime - s[0]!.startTime,
        periodMs: PERIOD_MS,
        needSamples: NEED_SAMPLES,
      });
      assert.ok(
        truth > 2 && truth < 4.5,
        `the workload's own CPU ratio is near its 3:1 iterations (${truth.toFixed(2)})`,
      );
      assert.ok(
        Math.abs(a / b / truth - 1) <= tolerance,
        `hot_a:hot_b = ${(a / b).toFixed(2)}, CPU time says ${truth.toFixed(2)} ± ${(tolerance * 100).toFixed(0)}%`,
      );
      // And each count is what rover's sampling period (9 ms of CPU) makes of that CPU time:
      // sampling noise plus 5 % for the calls cut by the window's edges and for the samples in
      // code outside the timed calls (the loop, printf), plus the call the stop cut short (sampled,
      // never printed).
      const cutMs = Math.max(0, ...['hot_a', 'hot_b', 'sys_write'].flatMap((fn) => callCpuMs(wl.output(), fn)));
      for (const [fn, n, ns] of [
        ['hot_a', a, cpu.get('hot_a') ?? 0],
        ['hot_b', b, cpu.get('hot_b') ?? 0],
        ['the whole process', all, cpuMs * 1e6],
      ] as const) {
        const bad = checkCount(
          fn,
          n,
          countBound(ns / 1e6 / PERIOD_MS, { relative: 0.05, absolute: cutMs / PERIOD_MS, stealShare: stolen() }),
        );
        assert.equal(bad, null, bad ?? '');
      }
      assert.deepEqual(pathTo(trees, 'hot_a').slice(-3), ['main', 'cpu_loop', 'hot_a']);
      const kernel = trees
        .flat()
        .filter((e) => e.stackType === 'KERNEL_SPACE')
        .map((e) => e.symbol);
      assert.ok(
        kernel.some((k) => /vfs_write|ksys_write/.test(k)),
        `kernel write path present: ${[...new Set(kernel)].slice(0, 12).join(', ')}`,
      );
      const sysPath = pathTo(trees, 'ksys_write');
      assert.ok(sysPath.includes('sys_write'), `ksys_write sits under sys_write: ${sysPath.join(' > ')}`);
    } finally {
      wl.child.kill();
      await wl.done;
    }
  });

  it('OFF_CPU names sleep_fn and pipe_fn with blocked time within 10% of the wall time spent there', async () => {
    const wl = runWorkload(blockBinary, 'block', 16);
    await waitReported('swlite-block-wl', wl.pid);
    const task = await createTask(oap.graphqlUrl, 'swlite-block-wl', 'OFF_CPU', 6);
    const output = await wl.done;
    await sleep(2_500);
    const s = await schedules(oap.graphqlUrl, task.taskId);
    assert.equal(s.length, 1);
    const durations = await analyze(oap.graphqlUrl, s, 'DURATION');
    const counts = await analyze(oap.graphqlUrl, s, 'COUNT');
    const windowStart = s[0]!.startTime;
    const windowEnd = task.startTime + 6_000;
    const wall = blockedWithin(output, windowStart, windowEnd);
    for (const fn of ['sleep_fn', 'pipe_fn']) {
      const measured = total(durations, (x) => x === fn);
      const expected = wall.get(fn) ?? 0;
      console.log(
        `off-CPU ${fn}: profiled ${(measured / 1e6).toFixed(1)} ms, wall ${(expected / 1e6).toFixed(1)} ms, switches ${total(counts, (x) => x === fn)}`,
      );
      assert.ok(expected > 1e9, `${fn} blocked long enough inside the window`);
      assert.ok(Math.abs(measured - expected) / expected <= 0.1, `${fn}: ${measured} ns vs ${expected} ns`);
      assert.ok(total(counts, (x) => x === fn) > 20, `${fn} switch count`);
    }
    const kernel = durations
      .flat()
      .filter((e) => e.stackType === 'KERNEL_SPACE')
      .map((e) => e.symbol);
    assert.ok(
      kernel.some((k) => /nanosleep/.test(k)),
      'kernel nanosleep path present',
    );
    assert.ok(
      kernel.some((k) => /pipe_read|anon_pipe_read/.test(k)),
      'kernel pipe read path present',
    );
  });

  it('a workload killed mid-task ends its part cleanly and rover keeps running', async () => {
    const stolen = stealSince();
    const binary = buildWorkload('swlite-fault-wl');
    const wl = runWorkload(binary, 'cpu', 30);
    await waitReported('swlite-fault-wl', wl.pid);
    const task = await createTask(oap.graphqlUrl, 'swlite-fault-wl', 'ON_CPU', 20);
    // Killed mid-task once it had enough CPU inside the task for its samples to be judged (a busy
    // machine makes this wait longer; the assertion below says so if it never got enough).
    const cpuInTaskMs = () => sumMs(cpuWithin(wl.output(), task.startTime, Date.now()));
    await waitFor(
      'the workload to get enough CPU inside the task',
      () => Date.now() - task.startTime >= 3_500 && cpuInTaskMs() >= 2 * NEED_SAMPLES * PERIOD_MS,
      14_000,
    ).catch(() => undefined);
    wl.child.kill('SIGKILL');
    const killedAt = Date.now();
    await wl.done;
    // rover sees the exit on its next scan and ends the task's part for that process.
    await waitFor('the task to finish', () => taskFinishedLines(rover, task.taskId).length > 0, 25_000).catch(
      () => undefined,
    );
    await sleep(1_000); // its last upload
    assert.equal(rover.child.exitCode, null, `rover still running; its last output:\n${rover.output().slice(-3000)}`);
    const s = await schedules(oap.graphqlUrl, task.taskId);
    assert.equal(s.length, 1, 'one schedule for the one workload process');
    const trees = await analyze(oap.graphqlUrl, s);
    // Samples before the kill were delivered: as many as hot_a's CPU time in the window makes,
    // give or take the call the kill cut short (it was sampled but never printed its CPU time).
    const hotA = total(trees, (x) => x === 'hot_a');
    const output = wl.output();
    const cpu = cpuWithin(output, s[0]!.startTime, s[0]!.endTime);
    const longestCallMs = Math.max(0, ...callCpuMs(output, 'hot_a'));
    console.log(
      `killed mid-task: hot_a=${hotA} samples; hot_a CPU in the window ${((cpu.get('hot_a') ?? 0) / 1e6).toFixed(0)} ms`,
    );
    const wallMs = killedAt - s[0]!.startTime;
    assertJudgeable('ON_CPU before the kill', {
      cpuMs: sumMs(cpu),
      wallMs,
      periodMs: PERIOD_MS,
      needSamples: NEED_SAMPLES,
    });
    const expected = (cpu.get('hot_a') ?? 0) / 1e6 / PERIOD_MS;
    const bad = checkCount(
      'hot_a before the kill',
      hotA,
      countBound(expected, { relative: 0.05, absolute: longestCallMs / PERIOD_MS, stealShare: stolen() }),
    );
    assert.equal(bad, null, bad ?? '');
    assert.doesNotMatch(rover.output(), /"level":50/, 'no error logged');
  });

  it('survives oap-lite being killed and restarted mid-task: buffered data arrives after the restart', async () => {
    const stolen = stealSince();
    const wl = runWorkload(cpuBinary, 'cpu', 25);
    try {
      await waitReported('swlite-cpu-wl', wl.pid);
      const task = await createTask(oap.graphqlUrl, 'swlite-cpu-wl', 'ON_CPU', 10);
      await sleep(3_000);
      await oap.kill();
      await sleep(5_000); // rover flushes into its buffer meanwhile
      oap = await oap.restart();
      // Wait for the task to end (rover logs how many samples it took) and for its upload
      // buffer to reach the restarted backend.
      const sampledSoFar = () =>
        taskFinishedLines(rover, task.taskId).reduce(
          (sum, l) => sum + (JSON.parse(l) as { samples: number }).samples,
          0,
        );
      let all = 0;
      let sampled = 0;
      await waitFor(
        'every sample taken to be delivered',
        async () => {
          sampled = sampledSoFar();
          all = rootTotal(await analyze(oap.graphqlUrl, await schedules(oap.graphqlUrl, task.taskId)));
          return sampled > 0 && all >= sampled * 0.99;
        },
        40_000,
      ).catch(() => undefined); // the assertions below say what was missing
      assert.equal(rover.child.exitCode, null, `rover still running; its last output:\n${rover.output().slice(-3000)}`);
      // Every sample rover took arrives: what was flushed during the outage waited in rover's
      // buffer and was resent. (How many it took depends on the CPU the workload got.)
      const s = await schedules(oap.graphqlUrl, task.taskId);
      assert.equal(s.length, 1, 'one schedule for the one workload process');
      const cpuMs = sumMs(cpuWithin(wl.output(), s[0]!.startTime, s[0]!.endTime));
      console.log(
        `across an oap-lite restart: ${all} samples delivered of ${sampled} taken; workload CPU in the task ` +
          `${cpuMs.toFixed(0)} ms (${(cpuMs / PERIOD_MS).toFixed(0)} samples expected)`,
      );
      assert.match(rover.output(), /cannot upload profiling data; will retry/, 'the outage was seen');
      assertJudgeable('ON_CPU across a restart', {
        cpuMs,
        wallMs: s[0]!.endTime - s[0]!.startTime,
        periodMs: PERIOD_MS,
        needSamples: NEED_SAMPLES,
      });
      const bad = checkCount(
        'rover sampled the task',
        sampled,
        countBound(cpuMs / PERIOD_MS, { relative: 0.05, stealShare: stolen() }),
      );
      assert.equal(bad, null, bad ?? '');
      assert.ok(all >= sampled * 0.99, `delivered ${all} of ${sampled} samples`);
    } finally {
      wl.child.kill();
      await wl.done;
    }
  });

  it('detaches every BPF program and exits 0 on SIGTERM', async () => {
    const code = await rover.stop();
    assert.equal(code, 0);
    assert.match(rover.output(), /detaching every BPF program/);
  });
});
