/**
 * NETWORK profiling tasks, as the OAP's EBPFProfilingMutationService creates and keeps them:
 * a task names one service instance, lasts 600 s, and a keep-alive in its last minute adds a
 * row with 600 s more. Texts of refusals are the OAP's.
 *
 * Deliberate difference: the OAP writes the keep-alive row with an empty extension, so a rover
 * polling after it (or restarting) receives ExtensionConfigJSON null and loses the sampling
 * rules; oap-lite copies the task's extension into the new row.
 */
import { parseInstanceId, taskLogicalId } from '../core/ids';
import { checkSamplingRules, storedNetworkExtension, type NetworkSamplingRule } from '../core/network-extension';
import type { Storage, TaskRecord } from '../storage/types';
import type { TaskCreationResult } from './profiling-service';

/** Seconds a NETWORK task runs, and each keep-alive adds (OAP: NETWORK_PROFILING_DURATION). */
export const NETWORK_PROFILING_DURATION = 600;
/** A keep-alive within this many seconds of the end extends the task (OAP: NETWORK_KEEP_ALIVE_THRESHOLD). */
export const NETWORK_KEEP_ALIVE_THRESHOLD = 60;

export interface NetworkTaskRequest {
  instanceId: string;
  samplings?: NetworkSamplingRule[] | null;
}

/** The OAP's fixed durations; tests and demos shorten them (SW_EBPF_NETWORK_TASK_DURATION, ..._KEEP_ALIVE_THRESHOLD). */
export interface NetworkTaskTiming {
  durationSeconds: number;
  keepAliveThresholdSeconds: number;
}

export const NETWORK_TASK_TIMING: NetworkTaskTiming = {
  durationSeconds: NETWORK_PROFILING_DURATION,
  keepAliveThresholdSeconds: NETWORK_KEEP_ALIVE_THRESHOLD,
};

export interface KeepResult {
  status: boolean;
  errorReason: string | null;
}

export class NetworkTaskService {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
    private readonly timing: NetworkTaskTiming = NETWORK_TASK_TIMING,
  ) {}

  async create(request: NetworkTaskRequest): Promise<TaskCreationResult> {
    const error = await this.checkCreateRequest(request);
    if (error) return { status: false, errorReason: error, id: null };
    const now = this.now();
    const svcId = parseInstanceId(request.instanceId).serviceId;
    const task: TaskRecord = {
      taskId: taskLogicalId(svcId, '', now),
      serviceId: svcId,
      instanceId: request.instanceId,
      processLabels: [],
      startTime: now,
      triggerType: 'FIXED_TIME',
      targetType: 'NETWORK',
      fixedTriggerDuration: this.timing.durationSeconds,
      createTime: now,
      lastUpdateTime: now,
      extensionConfigJson: storedNetworkExtension(request.samplings),
      continuousProfilingJson: '',
    };
    await this.storage.tasks.saveTask(task);
    return { status: true, errorReason: null, id: task.taskId };
  }

  private async checkCreateRequest(request: NetworkTaskRequest): Promise<string | null> {
    if (!request.instanceId) return 'instance could not be empty';
    try {
      parseInstanceId(request.instanceId);
    } catch {
      // The OAP fails inside its ID parser here; its processes count would be 0 anyway.
      return "The instance doesn't have processes.";
    }
    if ((await this.storage.metadata.countProcesses({ instanceId: request.instanceId })) <= 0) {
      return "The instance doesn't have processes.";
    }
    return request.samplings ? checkSamplingRules(request.samplings) : null;
  }

  async keepAlive(taskId: string): Promise<KeepResult> {
    const rows = await this.storage.tasks.getTaskRecords(taskId);
    if (rows.length === 0) return { status: false, errorReason: 'profiling task not exists' };
    const first = rows[0]!;
    if (first.targetType !== 'NETWORK') return { status: false, errorReason: 'current task is not a "NETWORK" task' };
    const duration = Math.max(...rows.map((r) => r.fixedTriggerDuration));
    const now = this.now();
    const remainingMs = first.startTime + duration * 1000 - now;
    if (remainingMs < 0) return { status: false, errorReason: 'profiling task has been finished' };
    if (remainingMs > this.timing.keepAliveThresholdSeconds * 1000) return { status: true, errorReason: null };
    await this.storage.tasks.saveTask({
      ...first,
      fixedTriggerDuration: duration + this.timing.durationSeconds,
      createTime: now,
      lastUpdateTime: now,
      extensionConfigJson: rows.find((r) => r.extensionConfigJson !== '')?.extensionConfigJson ?? '',
    });
    return { status: true, errorReason: null };
  }
}
