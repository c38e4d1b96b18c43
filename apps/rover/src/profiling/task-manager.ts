/**
 * Polls the backend for profiling tasks every check interval (upstream: 10 s), as upstream
 * rover does with `latestUpdateTime`, and runs each task once for its processes on this host: the
 * OAP sends one command per process of a task, and they all join the task's one runner.
 * Malformed commands are logged and ignored; a backend that is down is polled again later.
 */
import type { Logger } from 'pino';
import type { BackendConnection } from '../backend/connection';
import type { ProcessReporter } from '../process/reporter';
import type { TargetRegistry } from './targets/registry';
import { BadCommandError, parseTaskCommand, TASK_COMMAND, type ProfilingTask } from './task-command';
import { TaskRunner, type RunnerTarget } from './task-runner';
import { UploadQueue } from './upload-queue';

export interface TaskManagerOptions {
  agentId: string;
  checkIntervalMs: number;
  flushIntervalMs: number;
  /** Where each task finds its target. */
  targets: Pick<TargetRegistry, 'get'>;
  log: Logger;
}

export class TaskManager {
  /** By task ID: the commands of one task (one per process) share its runner. */
  private readonly runners = new Map<string, TaskRunner>();
  /** Commands naming processes this rover has not matched to a pid yet (the report may be in flight). */
  private readonly pending = new Map<string, ProfilingTask>();
  private latestUpdateTime = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  readonly uploads: UploadQueue;

  constructor(
    private readonly backend: BackendConnection,
    private readonly reporter: ProcessReporter,
    private readonly options: TaskManagerOptions,
  ) {
    this.uploads = new UploadQueue((batch) => backend.upload(batch), options.log);
    backend.onReady(() => this.uploads.retryNow());
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.options.checkIntervalMs);
    void this.poll();
  }

  /** One poll; concurrent callers share it. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    let commands;
    try {
      const answer = await this.backend.queryTasks({
        roverInstanceId: this.options.agentId,
        latestUpdateTime: this.latestUpdateTime,
      });
      commands = answer.commands;
    } catch (err) {
      this.options.log.debug({ err: (err as Error).message }, 'cannot query profiling tasks; will retry');
      return;
    }
    for (const command of commands) {
      if (command.command !== TASK_COMMAND) continue;
      let task: ProfilingTask;
      try {
        task = parseTaskCommand(command);
      } catch (err) {
        if (err instanceof BadCommandError) {
          this.options.log.warn({ err: err.message }, 'ignored a malformed profiling command');
          continue;
        }
        throw err;
      }
      this.latestUpdateTime = Math.max(this.latestUpdateTime, task.updateTime);
      this.accept(task);
    }
    for (const task of [...this.pending.values()]) this.accept(task);
  }

  private accept(task: ProfilingTask): void {
    const now = Date.now();
    const key = `${task.taskId}/${task.processIds.join(',')}`;
    if (task.startTime + task.durationSeconds * 1000 <= now) {
      if (!this.pending.delete(key))
        this.options.log.info({ task: task.taskId }, 'profiling task already over; ignored');
      return;
    }
    const targets: RunnerTarget[] = [];
    for (const processId of task.processIds) {
      const reported = this.reporter.byId(processId);
      if (reported) targets.push({ processId, pid: reported.process.pid });
    }
    if (targets.length === 0) {
      // The backend may know the process before this rover has its ID back: look again later.
      if (!this.pending.has(key)) {
        this.options.log.info(
          { task: task.taskId, processIds: task.processIds },
          'task for processes not matched yet; will retry',
        );
      }
      this.pending.set(key, task);
      return;
    }
    this.pending.delete(key);
    const existing = this.runners.get(task.taskId);
    if (existing && !existing.done) {
      existing.extend(task);
      for (const t of targets) existing.addProcess(t);
      return;
    }
    this.newRunner(task, targets, task.taskId);
  }

  private newRunner(task: ProfilingTask, targets: RunnerTarget[], key: string): TaskRunner {
    const runner = new TaskRunner(task, targets, {
      target: this.options.targets.get(task.targetType),
      uploads: this.uploads,
      flushIntervalMs: this.options.flushIntervalMs,
      log: this.options.log,
      onFinish: (r) => {
        if (this.runners.get(key) === r) this.runners.delete(key);
        void this.uploads.drain();
      },
    });
    this.runners.set(key, runner);
    runner.schedule();
    return runner;
  }

  /**
   * Runs a task this rover decided on itself (continuous profiling reported it and got its ID
   * back): same runner, targets and uploads as a task from the backend.
   */
  runLocalTask(task: ProfilingTask, targets: RunnerTarget[]): TaskRunner {
    return this.newRunner(task, targets, `${task.taskId}/local`);
  }

  /** A discovered process went away: its runners stop sampling it. */
  processExited(pid: number): void {
    for (const runner of this.runners.values()) runner.removeProcess(pid);
  }

  active(): TaskRunner[] {
    return [...this.runners.values()];
  }

  /** Stops every task (final flush) and tries to upload what is left, within `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const runner of [...this.runners.values()]) runner.stop();
    await Promise.race([this.uploads.drain(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.uploads.close();
    // The delivery totals of this rover's life: what reached the backend, what never will.
    this.options.log.info({ ...this.uploads.stats }, 'profiling uploads at stop');
  }
}
