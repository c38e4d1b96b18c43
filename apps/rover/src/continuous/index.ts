/** Continuous profiling module of rover: created and started by the composition root (agent.ts). */
import { HttpObserver } from '@swlite/bpf';
import type { Logger } from 'pino';
import type { BackendConnection } from '../backend/connection';
import type { RoverConfig } from '../config';
import type { ProcessReporter } from '../process/reporter';
import type { TargetRegistry } from '../profiling/targets/registry';
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
  targets: TargetRegistry,
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
    targets,
    log,
    httpObserver: (onExchange) =>
      // 16 MiB of ring buffer holds ~47k exchanges (a 296-byte request record and a 56-byte status
      // record, ring headers included): about a second of 50k req/s while rover's loop is busy.
      new HttpObserver({ onExchange, logger: null, pollIntervalMs: 50, ringBytes: 16 << 20 }),
  });
};
