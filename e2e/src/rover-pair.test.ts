/**
 * oap-lite and rover as real processes, a C workload with known functions, tasks created through
 * GraphQL and the analysis read back through GraphQL, as a person would with the stock UI.
 * BPF runs for real; without BPF these tests skip with the reason (under CI=true they must run).
 */
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
  cpuWithin,
  runWorkload,
} from '@swlite/testkit';

const skip = bpfTestSkip();

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
    waitFor(`${service} (${pid}) reported`, async () => (await processNames(oap.graphqlUrl, service)).includes(`${service}-${pid}`), 15_000);

  it('ON_CPU names hot_a and hot_b in the ratio of the CPU time they took, with kernel frames under the syscalls', async () => {
    const wl = runWorkload(cpuBinary, 'cpu', 16);
    try {
      await waitReported('swlite-cpu-wl', wl.pid);
      const task = await createTask(oap.graphqlUrl, 'swlite-cpu-wl', 'ON_CPU', 8);
      await sleep(8_000 + 4_000);
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
      const truth = (cpu.get('hot_a') ?? 0) / (cpu.get('hot_b') ?? 1);
      // Sampling error of a ratio of two counts: relative σ ≈ √(1/a + 1/b); allow 3σ, at least 10 %.
      const tolerance = Math.max(0.1, 3 * Math.sqrt(1 / a + 1 / b));
      console.log(
        `on-CPU: hot_a=${a} hot_b=${b} ratio=${(a / b).toFixed(2)} all=${all}; CPU time ratio ${truth.toFixed(2)} ` +
          `(${((cpu.get('hot_a') ?? 0) / 1e6).toFixed(0)} / ${((cpu.get('hot_b') ?? 0) / 1e6).toFixed(0)} ms); tolerance ±${(tolerance * 100).toFixed(0)}%`,
      );
      // 8 s at 9 ms is ~890 samples for a busy core; a loaded machine gives the workload less.
      assert.ok(all > 150, `enough samples (${all})`);
      assert.ok(truth > 2 && truth < 4.5, `the workload's own CPU ratio is near its 3:1 iterations (${truth.toFixed(2)})`);
      assert.ok(
        Math.abs(a / b / truth - 1) <= tolerance,
        `hot_a:hot_b = ${(a / b).toFixed(2)}, CPU time says ${truth.toFixed(2)} ± ${(tolerance * 100).toFixed(0)}%`,
      );
      // And each count is what rover's sampling period (9 ms of CPU) makes of that CPU time:
      // Poisson noise (3σ) plus 5 % for the calls cut by the window's edges.
      for (const [fn, n] of [['hot_a', a], ['hot_b', b]] as const) {
        const expected = (cpu.get(fn) ?? 0) / 9e6;
        assert.ok(Math.abs(n - expected) <= 3 * Math.sqrt(expected) + 0.05 * expected, `${fn}: ${n} samples, ${expected.toFixed(0)} expected`);
      }
      assert.deepEqual(pathTo(trees, 'hot_a').slice(-3), ['main', 'cpu_loop', 'hot_a']);
      const kernel = trees.flat().filter((e) => e.stackType === 'KERNEL_SPACE').map((e) => e.symbol);
      assert.ok(kernel.some((k) => /vfs_write|ksys_write/.test(k)), `kernel write path present: ${[...new Set(kernel)].slice(0, 12).join(', ')}`);
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
      console.log(`off-CPU ${fn}: profiled ${(measured / 1e6).toFixed(1)} ms, wall ${(expected / 1e6).toFixed(1)} ms, switches ${total(counts, (x) => x === fn)}`);
      assert.ok(expected > 1e9, `${fn} blocked long enough inside the window`);
      assert.ok(Math.abs(measured - expected) / expected <= 0.1, `${fn}: ${measured} ns vs ${expected} ns`);
      assert.ok(total(counts, (x) => x === fn) > 20, `${fn} switch count`);
    }
    const kernel = durations.flat().filter((e) => e.stackType === 'KERNEL_SPACE').map((e) => e.symbol);
    assert.ok(kernel.some((k) => /nanosleep/.test(k)), 'kernel nanosleep path present');
    assert.ok(kernel.some((k) => /pipe_read|anon_pipe_read/.test(k)), 'kernel pipe read path present');
  });

  it('a workload killed mid-task ends its part cleanly and rover keeps running', async () => {
    const binary = buildWorkload('swlite-fault-wl');
    const wl = runWorkload(binary, 'cpu', 30);
    await waitReported('swlite-fault-wl', wl.pid);
    const task = await createTask(oap.graphqlUrl, 'swlite-fault-wl', 'ON_CPU', 8);
    await sleep(3_500);
    wl.child.kill('SIGKILL');
    await wl.done;
    await sleep(8_000);
    assert.equal(rover.child.exitCode, null, `rover still running; its last output:\n${rover.output().slice(-3000)}`);
    const s = await schedules(oap.graphqlUrl, task.taskId);
    const trees = await analyze(oap.graphqlUrl, s);
    assert.ok(total(trees, (x) => x === 'hot_a') > 50, 'samples before the kill were delivered');
    assert.doesNotMatch(rover.output(), /"level":50/, 'no error logged');
  });

  it('survives oap-lite being killed and restarted mid-task: buffered data arrives after the restart', async () => {
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
        rover
          .output()
          .split('\n')
          .filter((l) => l.includes(task.taskId) && l.includes('profiling task finished'))
          .reduce((sum, l) => sum + (JSON.parse(l) as { samples: number }).samples, 0);
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
      console.log(`across an oap-lite restart: ${all} samples delivered of ${sampled} taken`);
      assert.match(rover.output(), /cannot upload profiling data; will retry/, 'the outage was seen');
      assert.ok(sampled > 300, `rover sampled the task (${sampled})`);
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
