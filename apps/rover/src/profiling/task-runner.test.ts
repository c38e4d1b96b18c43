// The task runner over the real target registry: a target this rover cannot run ends the task with
// its reason logged (no crash, nothing uploaded); an ON_CPU task in the kernel uploads onCPU
// messages, each stamped with its task, and counts what it took.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { compileWorkload, ensureBpfBuilt, startWorkload } from '@swlite/bpf/testing/workloads';
import type { EBPFProfilingData, ProfilingTargetType } from '@swlite/protocol';
import { Symbolizer } from '@swlite/symbolizer';
import { loadConfig } from '../config';
import { createTargetRegistry } from './targets/registry';
import type { ProfilingTask } from './task-command';
import { TaskRunner, type RunnerTarget } from './task-runner';
import { UploadQueue } from './upload-queue';

interface LogLine {
  level: number;
  msg: string;
  task?: string;
  reason?: string;
  samples?: number;
  messages?: number;
}

/** A runner for a task starting now, over the real registry; resolves when the task finished. */
const runTask = (targetType: ProfilingTargetType, targets: RunnerTarget[], durationSeconds: number) => {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as LogLine) });
  const sent: EBPFProfilingData[][] = [];
  const uploads = new UploadQueue(async (batch) => void sent.push(batch), log);
  const registry = createTargetRegistry({
    config: loadConfig({ env: {} }).profiling,
    symbolizer: new Symbolizer(),
    log,
  });
  const task: ProfilingTask = {
    taskId: `task-${targetType}`,
    processIds: targets.map((t) => t.processId),
    updateTime: Date.now(),
    triggerType: 'FIXED_TIME',
    targetType,
    startTime: Date.now(),
    durationSeconds,
  };
  let runner!: TaskRunner;
  const finished = new Promise<void>((resolve) => {
    runner = new TaskRunner(task, targets, {
      target: registry.get(targetType),
      uploads,
      flushIntervalMs: 300,
      log,
      onFinish: () => resolve(),
    });
  });
  runner.schedule();
  return { runner, lines, sent, uploads, finished };
};

describe('TaskRunner', () => {
  it('a newer command with a longer duration (a NETWORK keep-alive) moves the end; a shorter one does not', async () => {
    const log = pino({ level: 'silent' });
    const uploads = new UploadQueue(async () => undefined, log);
    let stopped = 0;
    // the target's own behaviour is not under test here, only when the runner stops it
    const target = {
      type: 'NETWORK' as const,
      unavailable: () => null,
      continuousReport: { targetTask: 'network' as const, network: { samplingURIRegexes: [] } },
      start: () => {
        const drain = () => ({ payloads: new Map(), samples: 0, lost: 0, lostDetail: {} });
        return { addProcess: () => undefined, removeProcess: () => undefined, drain, stop: () => (stopped++, drain()) };
      },
    };
    const task: ProfilingTask = {
      taskId: 'kept',
      processIds: ['p1'],
      updateTime: 1,
      triggerType: 'FIXED_TIME',
      targetType: 'NETWORK',
      startTime: Date.now(),
      durationSeconds: 1,
    };
    const finished = new Promise<number>((resolve) => {
      const runner = new TaskRunner(task, [{ processId: 'p1', pid: process.pid }], {
        target,
        uploads,
        flushIntervalMs: 100,
        log,
        onFinish: () => resolve(Date.now()),
      });
      runner.schedule();
      setTimeout(() => {
        runner.extend({ ...task, updateTime: 2, durationSeconds: 2 });
        runner.extend({ ...task, updateTime: 3, durationSeconds: 1 });
        assert.equal(runner.endTime, task.startTime + 2_000);
      }, 300);
    });
    const end = await finished;
    assert.ok(end >= task.startTime + 2_000, `ran until the extended end (${end - task.startTime} ms)`);
    assert.equal(stopped, 1);
    uploads.close();
  });

  it('a NETWORK task without a reporter ends at its start with the one reason logged: nothing started, nothing uploaded', async () => {
    const t = runTask('NETWORK', [{ processId: 'p1', pid: process.pid }], 5);
    await t.finished;
    assert.equal(t.runner.done, true);
    assert.deepEqual(
      t.lines.map((l) => [l.level, l.msg, l.task, l.reason]),
      [
        [
          40,
          'profiling task not run: network profiling has no reporter in this rover',
          'task-NETWORK',
          'network profiling has no reporter in this rover',
        ],
      ],
    );
    assert.deepEqual(t.runner.stats, { flushes: 0, messages: 0, samples: 0, lost: 0 });
    assert.equal(t.sent.length, 0);
    t.uploads.close();
  });

  it(
    'an ON_CPU task uploads onCPU messages stamped with the task and its process',
    { skip: bpfTestSkip() },
    async () => {
      ensureBpfBuilt();
      const wl = startWorkload(compileWorkload('oncpu_workload'), ['4', '20000000', '1000', '1']);
      wl.go();
      // 2 s: loading the programs (the verifier) takes part of the task's time on a busy machine.
      const t = runTask('ON_CPU', [{ processId: 'proc-wl', pid: wl.pid }], 2);
      try {
        await t.finished;
        await t.uploads.drain();
      } finally {
        wl.child.kill();
        await wl.done.catch(() => undefined);
        t.uploads.close();
      }
      const messages = t.sent.flat();
      const started = t.lines.find((l) => l.msg === 'profiling task started');
      const finished = t.lines.find((l) => l.msg === 'profiling task finished');
      assert.ok(started && finished, 'started and finished are logged');
      assert.equal(finished.messages, messages.length);
      assert.ok(t.runner.stats.flushes >= 2, `${t.runner.stats.flushes} flushes: periodic ones and the final one`);
      const startTimes = new Set(messages.map((m) => m.task!.profilingStartTime));
      assert.equal(startTimes.size, 1, 'one profiling start time for the task');
      for (const m of messages) {
        assert.equal(m.task!.taskId, 'task-ON_CPU');
        assert.equal(m.task!.processId, 'proc-wl');
        assert.ok(m.task!.currentTime! >= m.task!.profilingStartTime!);
        assert.ok(m.onCPU && !m.offCPU, 'an on-CPU message');
      }
      const dumped = messages.reduce((n, m) => n + m.onCPU!.dumpCount!, 0);
      assert.ok(dumped > 20, `${dumped} samples uploaded`);
      assert.ok(
        dumped <= t.runner.stats.samples,
        `no more uploaded (${dumped}) than taken (${t.runner.stats.samples})`,
      );
    },
  );

  it(
    'a process killed mid-task: what it produced until then is uploaded, and the task ends with its last process',
    { skip: bpfTestSkip() },
    async () => {
      ensureBpfBuilt();
      const wl = startWorkload(compileWorkload('oncpu_workload'), ['30', '20000000', '1000', '1']);
      wl.go();
      const t = runTask('ON_CPU', [{ processId: 'proc-wl', pid: wl.pid }], 30);
      try {
        await new Promise((r) => setTimeout(r, 1500));
        wl.child.kill('SIGKILL');
        await wl.done.catch(() => undefined);
        // What the task manager does when discovery reports the process gone.
        t.runner.removeProcess(wl.pid);
        await t.finished;
        await t.uploads.drain();
      } finally {
        wl.child.kill();
        t.uploads.close();
      }
      assert.equal(t.runner.done, true, 'no process left: the task ended');
      const messages = t.sent.flat();
      const hot = messages
        .filter((m) =>
          m.onCPU!.stacks!.some(
            (s) => s.stackType === 'PROCESS_USER_SPACE' && s.stackSymbols!.some((f) => f === 'hot_a' || f === 'hot_b'),
          ),
        )
        .reduce((n, m) => n + m.onCPU!.dumpCount!, 0);
      assert.ok(hot > 10, `${hot} samples in hot_a/hot_b before the kill were uploaded`);
      assert.equal(t.lines.filter((l) => l.level >= 50).length, 0, 'no error logged');
    },
  );
});
