/** Continuous profiling module of rover: created and started by the composition root (agent.ts). */
import { HttpObserver } from '@swlite/bpf';
import type { Logger } from 'pino';
import type { BackendConnection } from '../backend/connection';
import type { RoverConfig } from '../config';
import type { ProcessReporter } from '../process/reporter';
import type { TaskManager } from '../profiling/task-manager';
import { ContinuousProfiling } from './continuous';

export { ContinuousProfiling } from './continuous';
export type { ContinuousOptions, HttpObservation, Meter, ObservedExchange, TriggeredTask } from './continuous';
export { parsePolicies } from './policy';

export const createContinuousProfiling = (
  config: RoverConfig,
  backend: BackendConnection,
  reporter: ProcessReporter,
  tasks: TaskManager,
  log: Logger,
): ContinuousProfiling => {
  const c = config.profiling.continuous;
  return new ContinuousProfiling(backend, reporter, tasks, {
    meterPrefix: c.meterPrefix,
    fetchIntervalMs: c.fetchIntervalMs,
    checkIntervalMs: c.checkIntervalMs,
    policyIntervalMs: config.profiling.checkIntervalMs,
    executeDurationMs: c.trigger.executeDurationMs,
    silenceDurationMs: c.trigger.silenceDurationMs,
    log,
    httpObserver: (onExchange) =>
      // 8 MiB of ring buffer polled every 50 ms holds ~0.5 M records/s (two per exchange).
      new HttpObserver({ onExchange, logger: null, pollIntervalMs: 50, ringBytes: 8 << 20 }),
  });
};
