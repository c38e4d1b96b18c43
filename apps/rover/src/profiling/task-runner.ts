/**
 * Runs one profiling task on this host: starts a sampler for the task's processes at the task
 * start, flushes every flush interval (drain → symbolize → upload queue) and stops at the end of
 * the duration. A process that exits mid-task just stops contributing; its last stacks are flushed.
 */
import type { Symbolizer } from '@swlite/symbolizer';
import type { Logger } from 'pino';
import type { LostCounters } from '@swlite/bpf';
import type { StackSampler } from './sampler';
import { toProfilingData } from './stack-converter';
import type { ProfilingTask } from './task-command';
import type { UploadQueue } from './upload-queue';

export interface RunnerTarget {
  processId: string;
  pid: number;
}

export interface RunnerStats {
  flushes: number;
  messages: number;
  samples: number;
  lost: number;
}

export class TaskRunner {
  private sampler: StackSampler | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private readonly targets = new Map<number, RunnerTarget>();
  private profilingStartTime = 0;
  private finished = false;
  readonly stats: RunnerStats = { flushes: 0, messages: 0, samples: 0, lost: 0 };

  constructor(
    readonly task: ProfilingTask,
    targets: RunnerTarget[],
    private readonly deps: {
      newSampler: (kind: 'ON_CPU' | 'OFF_CPU') => StackSampler;
      symbolizer: Symbolizer;
      uploads: UploadQueue;
      flushIntervalMs: number;
      log: Logger;
      now?: () => number;
      onFinish?: (runner: TaskRunner) => void;
    },
  ) {
    for (const t of targets) this.targets.set(t.pid, t);
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  get endTime(): number {
    return this.task.startTime + this.task.durationSeconds * 1000;
  }

  /** Arms the start and stop timers; starts at once when the start time has passed. */
  schedule(): void {
    const delay = Math.max(0, this.task.startTime - this.now());
    this.startTimer = setTimeout(() => this.begin(), delay);
  }

  private begin(): void {
    if (this.finished) return;
    if (this.task.targetType === 'NETWORK') {
      this.deps.log.warn({ task: this.task.taskId }, 'NETWORK profiling is not supported by this rover; task ignored');
      this.finish();
      return;
    }
    try {
      this.sampler = this.deps.newSampler(this.task.targetType);
      this.sampler.start([...this.targets.keys()]);
    } catch (err) {
      this.deps.log.error({ task: this.task.taskId, err: (err as Error).message }, 'cannot start the profiler for the task');
      this.finish();
      return;
    }
    this.profilingStartTime = this.now();
    this.deps.log.info(
      { task: this.task.taskId, target: this.task.targetType, pids: [...this.targets.keys()], endsAt: new Date(this.endTime).toISOString() },
      'profiling task started',
    );
    this.flushTimer = setInterval(() => this.flush(false), this.deps.flushIntervalMs);
    this.stopTimer = setTimeout(() => this.stop(), Math.max(0, this.endTime - this.now()));
  }

  /** A target process exited: stop sampling it (what it produced is flushed normally). */
  removeProcess(pid: number): void {
    if (!this.targets.has(pid)) return;
    this.sampler?.removeTarget(pid);
    this.flush(false);
    this.targets.delete(pid);
    this.deps.symbolizer.forgetProcess(pid);
    if (this.targets.size === 0) this.stop();
  }

  addProcess(target: RunnerTarget): void {
    if (this.targets.has(target.pid)) return;
    this.targets.set(target.pid, target);
    this.sampler?.addTarget(target.pid);
  }

  flush(final: boolean): void {
    const sampler = this.sampler;
    if (!sampler) return;
    let result;
    try {
      result = final ? sampler.stop() : sampler.drain();
    } catch (err) {
      this.deps.log.warn({ task: this.task.taskId, err: (err as Error).message }, 'reading the profiler failed');
      return;
    }
    this.stats.flushes++;
    this.stats.lost += lostTotal(result.lost);
    this.stats.samples += result.lost.samples;
    const now = this.now();
    const byPid = new Map<number, typeof result.stacks>();
    for (const s of result.stacks) (byPid.get(s.tgid) ?? byPid.set(s.tgid, []).get(s.tgid)!).push(s);
    for (const [pid, stacks] of byPid) {
      const target = this.targets.get(pid);
      if (!target) continue;
      const messages = toProfilingData(
        this.deps.symbolizer,
        { taskId: this.task.taskId, processId: target.processId, profilingStartTime: this.profilingStartTime },
        pid,
        stacks,
        this.task.targetType === 'OFF_CPU' ? 'OFF_CPU' : 'ON_CPU',
        now,
      );
      this.stats.messages += messages.length;
      this.deps.uploads.push(messages);
    }
    if (lostTotal(result.lost) > 0) {
      this.deps.log.warn({ task: this.task.taskId, lost: result.lost }, 'profiler lost samples in this flush');
    }
  }

  /** Final flush and detach; idempotent. */
  stop(): void {
    if (this.finished) return;
    this.flush(true);
    this.deps.log.info({ task: this.task.taskId, ...this.stats }, 'profiling task finished');
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.sampler = undefined;
    for (const t of [this.startTimer, this.stopTimer]) if (t) clearTimeout(t);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.deps.onFinish?.(this);
  }

  get done(): boolean {
    return this.finished;
  }
}

const lostTotal = (lost: LostCounters): number =>
  lost.aggregationFull + lost.stackCollisions + lost.startMapFull + lost.missingStacks + lost.ringBufferFull;
