/**
 * Runs one profiling task on this host: starts the task's target for its processes at the task
 * start, flushes every flush interval (drain → upload queue) and stops at the end of the duration.
 * A target this rover cannot run ends the task with its reason logged. A process that exits
 * mid-task just stops contributing; its last data goes with the next flush.
 */
import type { Logger } from 'pino';
import { memoryBreakdown } from '../self-memory';
import type { ProfilingTarget, TargetDrain, TargetRun } from './targets/target';
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

export interface TaskRunnerDeps {
  /** The task's target (from the registry, by the task's target type). */
  target: ProfilingTarget;
  uploads: UploadQueue;
  flushIntervalMs: number;
  log: Logger;
  now?: () => number;
  onFinish?: (runner: TaskRunner) => void;
}

export class TaskRunner {
  private run: TargetRun | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private readonly targets = new Map<number, RunnerTarget>();
  /** Processes removed since the last flush: their last payloads still need their process IDs. */
  private readonly leaving = new Map<number, RunnerTarget>();
  private profilingStartTime = 0;
  private finished = false;
  readonly stats: RunnerStats = { flushes: 0, messages: 0, samples: 0, lost: 0 };

  /** The task as last commanded (a keep-alive lengthens it). */
  #task: ProfilingTask;

  constructor(
    task: ProfilingTask,
    targets: RunnerTarget[],
    private readonly deps: TaskRunnerDeps,
  ) {
    this.#task = task;
    for (const t of targets) this.targets.set(t.pid, t);
  }

  get task(): ProfilingTask {
    return this.#task;
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
    const { target, log } = this.deps;
    const unavailable = target.unavailable();
    if (unavailable) {
      log.warn(
        { task: this.task.taskId, target: target.type, reason: unavailable },
        `profiling task not run: ${unavailable}`,
      );
      this.finish();
      return;
    }
    try {
      this.run = target.start([...this.targets.keys()]);
    } catch (err) {
      log.error({ task: this.task.taskId, err: (err as Error).message }, 'cannot start the profiler for the task');
      this.finish();
      return;
    }
    const extension = this.task.extensionConfigJson;
    if (extension && this.run.updateExtensionConfig) {
      try {
        this.run.updateExtensionConfig(extension);
      } catch (err) {
        log.warn({ task: this.task.taskId, err: (err as Error).message }, 'task extension config ignored');
      }
    }
    this.profilingStartTime = this.now();
    log.info(
      {
        task: this.task.taskId,
        target: target.type,
        pids: [...this.targets.keys()],
        endsAt: new Date(this.endTime).toISOString(),
      },
      'profiling task started',
    );
    this.flushTimer = setInterval(() => this.flush(false), this.deps.flushIntervalMs);
    this.stopTimer = setTimeout(() => this.stop(), Math.max(0, this.endTime - this.now()));
  }

  /**
   * A target process exited: stop profiling it. What it produced goes with the next flush (not a
   * flush of its own: a service restarting hundreds of processes would read the kernel as often).
   */
  removeProcess(pid: number): void {
    const target = this.targets.get(pid);
    if (!target) return;
    this.run?.removeProcess(pid);
    this.targets.delete(pid);
    this.leaving.set(pid, target);
    if (this.targets.size === 0) this.stop();
  }

  /**
   * A newer command of the same task (a NETWORK task kept alive gets a longer duration): the task
   * ends later. An earlier end is ignored, as the backend only ever lengthens a task.
   */
  extend(task: ProfilingTask): void {
    if (this.finished || task.taskId !== this.task.taskId) return;
    const end = task.startTime + task.durationSeconds * 1000;
    if (end <= this.endTime) return;
    this.#task = { ...this.#task, durationSeconds: task.durationSeconds, startTime: task.startTime };
    if (this.stopTimer) {
      clearTimeout(this.stopTimer);
      this.stopTimer = setTimeout(() => this.stop(), Math.max(0, this.endTime - this.now()));
    }
    this.deps.log.info({ task: task.taskId, endsAt: new Date(this.endTime).toISOString() }, 'profiling task extended');
  }

  addProcess(target: RunnerTarget): void {
    if (this.targets.has(target.pid)) return;
    this.targets.set(target.pid, target);
    this.leaving.delete(target.pid);
    this.run?.addProcess(target.pid);
  }

  flush(final: boolean): void {
    const run = this.run;
    if (!run) return;
    // The end of what this read covers: the final read detaches first, and reading, unwinding and
    // symbolizing may take seconds on a starved machine; a time taken after them would stretch
    // the schedule's window past the detach.
    const now = this.now();
    let result: TargetDrain;
    const began = performance.now();
    try {
      result = final ? run.stop() : run.drain();
    } catch (err) {
      this.deps.log.warn({ task: this.task.taskId, err: (err as Error).message }, 'reading the profiler failed');
      return;
    }
    const durationMs = Math.round(performance.now() - began);
    // The first flush symbolizes from cold (debug files, unwind tables): its cost is logged apart,
    // so the steady per-flush cost can be told from it (bench:cost reads this line).
    if (this.stats.flushes === 0) {
      this.deps.log.info({ task: this.task.taskId, durationMs, samples: result.samples }, 'first profiling flush done');
    } else this.deps.log.debug({ task: this.task.taskId, durationMs, samples: result.samples }, 'profiling flush done');
    this.stats.flushes++;
    this.stats.lost += result.lost;
    this.stats.samples += result.samples;
    for (const [pid, payloads] of result.payloads) {
      const target = this.targets.get(pid) ?? this.leaving.get(pid);
      if (!target || payloads.length === 0) continue;
      // Every message carries its task: the backend then needs no state across messages.
      const task = {
        taskId: this.task.taskId,
        processId: target.processId,
        profilingStartTime: this.profilingStartTime,
        currentTime: now,
      };
      this.stats.messages += payloads.length;
      this.deps.uploads.push(payloads.map((payload) => ({ ...payload, task })));
    }
    this.leaving.clear();
    if (result.lost > 0) {
      this.deps.log.warn({ task: this.task.taskId, lost: result.lostDetail }, 'profiler lost samples in this flush');
    }
  }

  /** Final flush and detach; idempotent. */
  stop(): void {
    if (this.finished) return;
    // Read before the final flush detaches the sampler, so its BPF maps are counted.
    const memory = memoryBreakdown();
    this.flush(true);
    this.deps.log.info({ task: this.task.taskId, ...this.stats, memory }, 'profiling task finished');
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.run = undefined;
    for (const t of [this.startTimer, this.stopTimer]) if (t) clearTimeout(t);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.deps.onFinish?.(this);
  }

  get done(): boolean {
    return this.finished;
  }
}
