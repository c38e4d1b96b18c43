/**
 * eBPF profiling tasks, schedules and analysis, with the Java OAP's rules
 * (EBPFProfilingMutationService, EBPFProfilingQueryService, EBPFProfilingServiceHandler):
 * a task targets a service (optionally only processes carrying all of some labels); every rover
 * that reported a matching process in the last 5 minutes receives one command per process;
 * each (task, process, start time) becomes a schedule whose end grows with every upload.
 */
import { randomUUID } from 'node:crypto';
import type { ProfilingTargetType, ProfilingTriggerType } from '@swlite/protocol';
import { unlimitedBudget, type AnalysisBudget } from '../analysis/analysis-budget';
import { toFlameTrees, type Analyzation } from '../analysis/flame-forest';
import { labelsJson, parseInstanceId, parseServiceId, scheduleId, taskLogicalId } from '../core/ids';
import { commandExtensionJson } from '../core/network-extension';
import { targetOf } from '../core/targets';
import type {
  AggregateType,
  ProcessRecord,
  ProfilingDataRecord,
  ScheduleRecord,
  Storage,
  TaskRecord,
} from '../storage/types';

/** How far back the processes of a polling agent are looked for (OAP: 5 minutes). */
export const AGENT_PROCESS_WINDOW_MS = 5 * 60_000;
/** Upper bound of stored process_labels_json (OAP: 1000 characters). */
const PROCESS_LABELS_JSON_MAX_LENGTH = 1000;

export interface CreateFixedTimeTaskRequest {
  serviceId: string;
  processLabels: string[];
  startTime: number;
  /** Seconds. */
  duration: number;
  targetType: ProfilingTargetType;
}

export interface TaskCreationResult {
  status: boolean;
  errorReason: string | null;
  id: string | null;
}

export interface AgentCommand {
  command: string;
  args: Array<{ key: string; value: string }>;
}

export interface TaskQuery {
  serviceId?: string | null;
  serviceInstanceId?: string | null;
  targets?: ProfilingTargetType[] | null;
  triggerType?: ProfilingTriggerType | null;
  range?: { start: number; end: number } | null;
}

export interface TaskView {
  taskId: string;
  serviceId: string;
  serviceName: string;
  serviceInstanceId: string | null;
  serviceInstanceName: string | null;
  processLabels: string[];
  processId: string | null;
  processName: string | null;
  taskStartTime: number;
  triggerType: ProfilingTriggerType;
  fixedTriggerDuration: number;
  continuousProfilingCauses: unknown[] | null;
  targetType: ProfilingTargetType;
  createTime: number;
  lastUpdateTime: number;
}

export interface ScheduleView extends ScheduleRecord {
  process: ProcessRecord | null;
}

export interface ProfilingServiceOptions {
  /** Shortest FIXED_TIME task in seconds (OAP: 60). Lowered only by tests and demos. */
  minTaskDurationSeconds: number;
  now?: () => number;
}

/** Task IDs remembered by knownTask (cleared when full; re-read from storage after). */
const KNOWN_TASKS_LIMIT = 10_000;

export class ProfilingService {
  private readonly now: () => number;
  private readonly knownTasks = new Set<string>();

  constructor(
    private readonly storage: Storage,
    private readonly options: ProfilingServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async createFixedTimeTask(request: CreateFixedTimeTaskRequest): Promise<TaskCreationResult> {
    const current = this.now();
    const startTime = request.startTime > 0 ? request.startTime : current;
    const error = await this.checkCreateRequest(request);
    if (error) return { status: false, errorReason: error, id: null };
    const processLabelsJson = labelsJson(request.processLabels);
    const task: TaskRecord = {
      taskId: taskLogicalId(request.serviceId, processLabelsJson, startTime),
      serviceId: request.serviceId,
      instanceId: '',
      processLabels: [...request.processLabels],
      startTime,
      triggerType: 'FIXED_TIME',
      targetType: request.targetType,
      fixedTriggerDuration: request.duration,
      createTime: current,
      lastUpdateTime: current,
      extensionConfigJson: '',
      continuousProfilingJson: '',
    };
    await this.storage.tasks.saveTask(task);
    return { status: true, errorReason: null, id: task.taskId };
  }

  private async checkCreateRequest(request: CreateFixedTimeTaskRequest): Promise<string | null> {
    if (!request.serviceId) return 'service could not be empty';
    try {
      parseServiceId(request.serviceId);
    } catch {
      return `service id "${request.serviceId}" is not a valid service ID`;
    }
    if (request.processLabels.length > 0) {
      const existing = await this.storage.metadata.listServiceLabels(request.serviceId);
      const missing = request.processLabels.filter((l) => !existing.includes(l));
      if (missing.length > 0) return `The service doesn't have processes with label(s) ${missing.join(', ')}.`;
      if (labelsJson(request.processLabels).length > PROCESS_LABELS_JSON_MAX_LENGTH) {
        return `The labels length is bigger than ${PROCESS_LABELS_JSON_MAX_LENGTH}, please reduce the labels count`;
      }
    }
    if (!request.targetType) return 'the profiling target could not be null';
    const refusal = targetOf(request.targetType)?.fixedTimeRefusal;
    if (refusal) return refusal;
    const min = this.options.minTaskDurationSeconds;
    if (!Number.isFinite(request.duration) || request.duration < min) {
      return `the fixed time duration must be greater than or equals ${min}s`;
    }
    return null;
  }

  async prepareTaskCreation(svcId: string): Promise<{ couldProfiling: boolean; processLabels: string[] }> {
    const now = this.now();
    const count = await this.storage.metadata.countProcesses({
      serviceId: svcId,
      seenSince: now - 10 * 60_000,
      profilingSupported: true,
    });
    if (count <= 0) return { couldProfiling: false, processLabels: [] };
    return { couldProfiling: true, processLabels: [...new Set(await this.storage.metadata.listServiceLabels(svcId))] };
  }

  async queryTasks(query: TaskQuery): Promise<TaskView[]> {
    const records = await this.storage.tasks.queryTasks({
      serviceId: query.serviceId ?? undefined,
      instanceId: query.serviceInstanceId ?? undefined,
      targetTypes: query.targets && query.targets.length > 0 ? query.targets : undefined,
      triggerType: query.triggerType ?? 'FIXED_TIME',
      startTimeFrom: query.range?.start,
      startTimeTo: query.range?.end,
    });
    return combineByTaskId(records)
      .map(toTaskView)
      .sort((a, b) => b.createTime - a.createTime);
  }

  async querySchedules(taskId: string): Promise<ScheduleView[]> {
    const schedules = await this.storage.tasks.querySchedules(taskId);
    const processes = await this.storage.metadata.getProcesses([...new Set(schedules.map((s) => s.processId))]);
    const byId = new Map(processes.map((p) => [p.id, p]));
    return schedules.map((s) => ({ ...s, process: byId.get(s.processId) ?? null }));
  }

  async analyze(
    scheduleIds: string[],
    timeRanges: Array<{ start: number; end: number }>,
    aggregateType: AggregateType,
    budget: AnalysisBudget = unlimitedBudget(),
  ): Promise<Analyzation> {
    // As the OAP: a range whose start is not before its end selects nothing.
    const ranges = timeRanges.filter((r) => r.start < r.end);
    if (scheduleIds.length === 0 || ranges.length === 0) return { tip: null, trees: [] };
    budget.checkAborted();
    // The trees are built where the stacks are read (an analysis thread), and only they come back.
    const forest = await this.storage.profilingData.analyzeProfilingStacks(scheduleIds, ranges, aggregateType, budget);
    return { tip: null, trees: toFlameTrees(forest) };
  }

  /** The EBPFProfilingTaskQuery commands for a polling rover. */
  async commandsForAgent(agentId: string, latestUpdateTime: number): Promise<AgentCommand[]> {
    const processes = await this.storage.metadata.listProcesses({
      agentId,
      seenSince: this.now() - AGENT_PROCESS_WINDOW_MS,
    });
    if (processes.length === 0) return [];
    const serviceIds = [...new Set(processes.map((p) => p.serviceId))];
    const tasks = combineByTaskId(
      await this.storage.tasks.queryTasks({ serviceIds, triggerType: 'FIXED_TIME', updatedAfter: latestUpdateTime }),
    );
    const commands: AgentCommand[] = [];
    for (const task of tasks) {
      switch (targetOf(task.targetType).processSelection) {
        case 'task-instance': {
          const ids = processes.filter((p) => p.instanceId === task.instanceId).map((p) => p.id);
          if (ids.length > 0) commands.push(taskCommand(task, ids));
          break;
        }
        case 'service-processes-with-labels':
          for (const process of processes) {
            if (process.serviceId !== task.serviceId || !process.profilingSupported) continue;
            if (task.processLabels.every((l) => process.labels.includes(l))) {
              commands.push(taskCommand(task, [process.id]));
            }
          }
          break;
      }
    }
    return commands;
  }

  /**
   * Whether uploads for this task may be stored. Tasks never disappear while agents upload for
   * them, so a task seen once is remembered: uploads keep flowing into the storage's own buffer
   * while the storage is briefly unreachable.
   */
  async knownTask(taskId: string): Promise<boolean> {
    if (this.knownTasks.has(taskId)) return true;
    const known = (await this.storage.tasks.getTaskRecords(taskId)).length > 0;
    if (known) {
      if (this.knownTasks.size >= KNOWN_TASKS_LIMIT) this.knownTasks.clear();
      this.knownTasks.add(taskId);
    }
    return known;
  }

  /** Stores one finished upload stream: schedules first, then the stacks, both atomically per call. */
  async ingest(schedules: ScheduleRecord[], records: ProfilingDataRecord[]): Promise<void> {
    for (const schedule of schedules) await this.storage.tasks.upsertSchedule(schedule);
    if (records.length > 0) await this.storage.profilingData.writeProfilingData(records);
  }
}

export const newSchedule = (
  taskId: string,
  procId: string,
  startTime: number,
  currentTime: number,
): ScheduleRecord => ({
  scheduleId: scheduleId(taskId, procId, startTime),
  taskId,
  processId: procId,
  startTime,
  endTime: currentTime,
});

/** Records sharing a logical ID are one task: longest duration, newest update win (OAP combine). */
const combineByTaskId = (records: TaskRecord[]): TaskRecord[] => {
  const byId = new Map<string, TaskRecord>();
  for (const record of records) {
    const known = byId.get(record.taskId);
    if (!known) {
      byId.set(record.taskId, { ...record });
      continue;
    }
    known.fixedTriggerDuration = Math.max(known.fixedTriggerDuration, record.fixedTriggerDuration);
    known.lastUpdateTime = Math.max(known.lastUpdateTime, record.lastUpdateTime);
  }
  return [...byId.values()];
};

const taskCommand = (task: TaskRecord, processIds: string[]): AgentCommand => {
  const args = [
    { key: 'SerialNumber', value: randomUUID() },
    { key: 'TaskId', value: task.taskId },
    { key: 'ProcessId', value: processIds.join(',') },
    { key: 'TaskUpdateTime', value: String(task.lastUpdateTime) },
    { key: 'TriggerType', value: task.triggerType },
    { key: 'TargetType', value: targetOf(task.targetType).commandArg },
    { key: 'TaskStartTime', value: String(task.startTime) },
    { key: 'ExtensionConfigJSON', value: commandExtensionJson(task.extensionConfigJson) },
  ];
  if (task.triggerType === 'FIXED_TIME')
    args.push({ key: 'FixedTriggerDuration', value: String(task.fixedTriggerDuration) });
  return { command: 'EBPFProfilingTaskQuery', args };
};

const toTaskView = (record: TaskRecord): TaskView => {
  let continuous: { processId?: string; processName?: string; causes?: unknown[] } = {};
  if (record.continuousProfilingJson) {
    try {
      continuous = JSON.parse(record.continuousProfilingJson) as typeof continuous;
    } catch {
      continuous = {};
    }
  }
  return {
    taskId: record.taskId,
    serviceId: record.serviceId,
    serviceName: safe(() => parseServiceId(record.serviceId).name, ''),
    serviceInstanceId: record.instanceId || null,
    serviceInstanceName: record.instanceId ? safe(() => parseInstanceId(record.instanceId).name, '') : null,
    processLabels: record.processLabels,
    processId: continuous.processId ?? null,
    processName: continuous.processName ?? null,
    taskStartTime: record.startTime,
    triggerType: record.triggerType,
    fixedTriggerDuration: record.fixedTriggerDuration,
    continuousProfilingCauses: continuous.causes ?? null,
    targetType: record.targetType,
    createTime: record.createTime,
    lastUpdateTime: record.lastUpdateTime,
  };
};

const safe = <T>(fn: () => T, fallback: T): T => {
  try {
    return fn();
  } catch {
    return fallback;
  }
};
