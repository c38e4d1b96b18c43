// EBPFProfilingTaskQuery commands: target and trigger types are the protocol's, others refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command__Output } from '@swlite/protocol';
import { BadCommandError, parseTaskCommand, TASK_COMMAND } from './task-command';

const command = (args: Record<string, string>): Command__Output => ({
  command: TASK_COMMAND,
  args: Object.entries({
    TaskId: 't1',
    ProcessId: 'p1,p2',
    TaskUpdateTime: '1700000000000',
    TriggerType: 'FIXED_TIME',
    TargetType: 'ON_CPU',
    TaskStartTime: '1700000001000',
    FixedTriggerDuration: '60',
    ...args,
  }).map(([key, value]) => ({ key, value })),
});

describe('parseTaskCommand', () => {
  it('reads a task as the OAP sends it', () => {
    assert.deepEqual(parseTaskCommand(command({})), {
      taskId: 't1',
      processIds: ['p1', 'p2'],
      updateTime: 1_700_000_000_000,
      triggerType: 'FIXED_TIME',
      targetType: 'ON_CPU',
      startTime: 1_700_000_001_000,
      durationSeconds: 60,
    });
  });

  it('accepts every protocol target type, NETWORK included (the runner decides what runs)', () => {
    for (const t of ['OFF_CPU', 'NETWORK']) assert.equal(parseTaskCommand(command({ TargetType: t })).targetType, t);
    assert.equal(parseTaskCommand(command({ TriggerType: 'CONTINUOUS_PROFILING' })).triggerType, 'CONTINUOUS_PROFILING');
  });

  it('refuses target and trigger types the protocol does not have', () => {
    assert.throws(() => parseTaskCommand(command({ TargetType: 'MEMORY' })), (e) => e instanceof BadCommandError && /unknown TargetType "MEMORY"/.test(e.message));
    assert.throws(() => parseTaskCommand(command({ TargetType: 'on_cpu' })), BadCommandError);
    assert.throws(() => parseTaskCommand(command({ TriggerType: 'SOMETIMES' })), /unknown TriggerType "SOMETIMES"/);
  });
});
