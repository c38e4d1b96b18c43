/**
 * Network profiling tasks as the Java OAP's EBPFProfilingMutationService creates and extends them:
 * one instance, ten minutes from now, the sampling rules as the task's extension JSON (rovers
 * read them from the task command); a keep-alive within the last minute extends the task by
 * another ten minutes. Rovers pick the tasks up like any other (ProfilingService.commandsForAgent).
 */
import { labelsJson, parseInstanceId, taskLogicalId } from '../core/ids';
import type { Storage, TaskRecord } from '../storage/types';
import { gsonJson } from '../core/gson';
import { network } from '../core/targets/network';

/** NETWORK_PROFILING_DURATION and NETWORK_KEEP_ALIVE_THRESHOLD of the OAP, in seconds. */
export const NETWORK_PROFILING_SECONDS = 600;
const KEEP_ALIVE_THRESHOLD_SECONDS = 60;

export interface NetworkSamplingRule {
  uriRegex?: string | null;
  minDuration?: number | null;
  when4xx: boolean;
  when5xx: boolean;
  settings: {
    requireCompleteRequest: boolean;
    maxRequestSize?: number | null;
    requireCompleteResponse: boolean;
    maxResponseSize?: number | null;
  } | null;
}

export interface NetworkTaskRequest {
  instanceId: string;
  samplings?: NetworkSamplingRule[] | null;
}

const checkRule = (rule: NetworkSamplingRule): string | null => {
  if (rule.minDuration != null && rule.minDuration < 0) return 'the min duration must bigger or equals zero';
  const settings = rule.settings;
  if (!settings) return 'the rule sampling setting cannot be null';
  if (!settings.requireCompleteRequest && !settings.requireCompleteResponse) {
    return 'please collect at least one of request or response';
  }
  if (settings.maxRequestSize != null && settings.maxRequestSize <= 0)
    return 'the max request size must bigger than zero';
  if (settings.maxResponseSize != null && settings.maxResponseSize <= 0) {
    return 'the max response size must bigger than zero';
  }
  return null;
};

/** The OAP's validateSamplingRules: one default (no URI) rule at most, one rule per URI regex. */
const checkRules = (rules: NetworkSamplingRule[]): string | null => {
  let hasDefault = false;
  const regexes = new Set<string>();
  for (const rule of rules) {
    if (!rule.uriRegex) {
      if (hasDefault) return 'already contains the default sampling config';
      hasDefault = true;
    } else {
      if (regexes.has(rule.uriRegex)) return `already contains the "${rule.uriRegex}" sampling config`;
      regexes.add(rule.uriRegex);
    }
    const error = checkRule(rule);
    if (error) return error;
  }
  return null;
};

/** Gson leaves out null fields; the rule's fields in the OAP class's declaration order. */
const extensionJson = (rules: NetworkSamplingRule[]): string =>
  gsonJson({
    networkSamplings: rules.map((r) => ({
      uriRegex: r.uriRegex ?? undefined,
      minDuration: r.minDuration ?? undefined,
      when4xx: r.when4xx,
      when5xx: r.when5xx,
      settings: r.settings && {
        requireCompleteRequest: r.settings.requireCompleteRequest,
        maxRequestSize: r.settings.maxRequestSize ?? undefined,
        requireCompleteResponse: r.settings.requireCompleteResponse,
        maxResponseSize: r.settings.maxResponseSize ?? undefined,
      },
    })),
  });

export class NetworkTaskService {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
  ) {}

  async create(
    request: NetworkTaskRequest,
  ): Promise<{ status: boolean; errorReason: string | null; id: string | null }> {
    const fail = (errorReason: string) => ({ status: false, errorReason, id: null });
    if (!request.instanceId) return fail('instance could not be empty');
    let serviceId: string;
    try {
      serviceId = parseInstanceId(request.instanceId).serviceId;
    } catch (err) {
      return fail((err as Error).message);
    }
    if ((await this.storage.metadata.countProcesses({ instanceId: request.instanceId })) <= 0) {
      return fail("The instance doesn't have processes.");
    }
    const rules = request.samplings ?? [];
    const error = checkRules(rules);
    if (error) return fail(error);
    const current = this.now();
    const task: TaskRecord = {
      taskId: taskLogicalId(serviceId, labelsJson([]), current),
      serviceId,
      instanceId: request.instanceId,
      processLabels: [],
      startTime: current,
      triggerType: 'FIXED_TIME',
      targetType: network.type,
      fixedTriggerDuration: NETWORK_PROFILING_SECONDS,
      createTime: current,
      lastUpdateTime: current,
      extensionConfigJson: extensionJson(rules),
      continuousProfilingJson: '',
    };
    await this.storage.tasks.saveTask(task);
    return { status: true, errorReason: null, id: task.taskId };
  }

  /**
   * Extends a running network task by ten minutes once it has less than a minute left (earlier
   * keep-alives succeed without a change), as the UI calls it while its network view is open.
   */
  async keepAlive(taskId: string): Promise<{ status: boolean; errorReason: string | null }> {
    const records = await this.storage.tasks.getTaskRecords(taskId);
    if (records.length === 0) return { status: false, errorReason: 'profiling task not exists' };
    const task = records.reduce((a, b) => (b.fixedTriggerDuration > a.fixedTriggerDuration ? b : a));
    if (task.targetType !== network.type) return { status: false, errorReason: 'current task is not a "NETWORK" task' };
    const current = this.now();
    const left = Math.trunc((task.startTime + task.fixedTriggerDuration * 1000 - current) / 1000);
    if (left < 0) return { status: false, errorReason: 'profiling task has been finished' };
    if (left > KEEP_ALIVE_THRESHOLD_SECONDS) return { status: true, errorReason: null };
    await this.storage.tasks.saveTask({
      ...task,
      fixedTriggerDuration: task.fixedTriggerDuration + NETWORK_PROFILING_SECONDS,
      createTime: current,
      lastUpdateTime: current,
      // The OAP leaves the copy's extension empty and relies on reading the first record; the
      // copy keeps it here so whichever record is read first, the rover gets the sampling rules.
      extensionConfigJson: task.extensionConfigJson,
    });
    return { status: true, errorReason: null };
  }
}
