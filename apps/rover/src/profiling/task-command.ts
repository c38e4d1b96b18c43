/** Parses the backend's EBPFProfilingTaskQuery commands (args as the OAP's EBPFProfilingTaskCommand). */
import {
  isProfilingTargetType,
  isProfilingTriggerType,
  type Command__Output,
  type ProfilingTargetType,
  type ProfilingTriggerType,
} from '@swlite/protocol';

export interface ProfilingTask {
  taskId: string;
  processIds: string[];
  updateTime: number;
  triggerType: ProfilingTriggerType;
  targetType: ProfilingTargetType;
  startTime: number;
  /** Seconds. */
  durationSeconds: number;
  /** The task's ExtensionConfigJSON ("null" or absent: none), given to targets that read it. */
  extensionConfigJson?: string;
}

export const TASK_COMMAND = 'EBPFProfilingTaskQuery';

export class BadCommandError extends Error {
  override name = 'BadCommandError';
}

export const parseTaskCommand = (command: Command__Output): ProfilingTask => {
  if (command.command !== TASK_COMMAND) throw new BadCommandError(`not a ${TASK_COMMAND} command: ${command.command}`);
  const args = new Map(command.args.map((a) => [a.key, a.value]));
  const need = (key: string): string => {
    const value = args.get(key);
    if (value === undefined || value === '') throw new BadCommandError(`${TASK_COMMAND} without ${key}`);
    return value;
  };
  const num = (key: string): number => {
    const value = Number(need(key));
    if (!Number.isFinite(value)) throw new BadCommandError(`${TASK_COMMAND} ${key}="${args.get(key)}" is not a number`);
    return value;
  };
  const targetType = need('TargetType');
  const triggerType = need('TriggerType');
  if (!isProfilingTargetType(targetType)) throw new BadCommandError(`unknown TargetType "${targetType}"`);
  if (!isProfilingTriggerType(triggerType)) throw new BadCommandError(`unknown TriggerType "${triggerType}"`);
  const durationSeconds = triggerType === 'FIXED_TIME' ? num('FixedTriggerDuration') : Number(args.get('FixedTriggerDuration') ?? 0);
  if (!(durationSeconds > 0)) throw new BadCommandError(`${TASK_COMMAND} needs a positive FixedTriggerDuration`);
  return {
    taskId: need('TaskId'),
    processIds: need('ProcessId').split(',').filter(Boolean),
    updateTime: num('TaskUpdateTime'),
    triggerType,
    targetType,
    startTime: num('TaskStartTime'),
    durationSeconds,
    ...(args.get('ExtensionConfigJSON') ? { extensionConfigJson: args.get('ExtensionConfigJSON')! } : {}),
  };
};
