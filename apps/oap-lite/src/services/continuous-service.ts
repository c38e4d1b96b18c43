/**
 * Continuous profiling, with the Java OAP's rules (ContinuousProfilingMutationService,
 * ContinuousProfilingQueryService, ContinuousProfilingServiceHandler, CommandService):
 *
 * - a person sets a per-service policy (target types, each with threshold check items);
 *   the policy's uuid is the SHA-512 of its configuration JSON, so it changes exactly when the
 *   policy changes and agents holding an older uuid re-fetch it;
 * - rover polls `queryPolicies` with the uuid it holds per service and receives one
 *   `ContinuousProfilingPolicyQuery` command listing only the services whose policy differs;
 * - when a threshold is crossed rover reports it, and a CONTINUOUS_PROFILING task is recorded
 *   (one per report, started now) whose id goes back in a `ContinuousProfilingReportTask` command.
 *
 * JSON stored or sent keeps the Java OAP's (Gson's) field names, order and escaping, so stored
 * rows and wire values are interchangeable with the OAP's.
 */
import { createHash, randomUUID } from 'node:crypto';
import type {
  ContinuousProfilingCause__Output,
  ContinuousProfilingReport__Output,
  ProfilingTargetType,
} from '@swlite/protocol';
import { gsonJson } from '../core/gson';
import { instanceId, parseServiceId, processId, serviceId, taskLogicalId } from '../core/ids';
import { CONTINUOUS_POLICY_TARGETS, targetOfContinuousReport, type TargetDescription } from '../core/targets';
import type { InstanceRecord, ProcessRecord, Storage, TaskRecord } from '../storage/types';
import { InvalidReportError } from './metadata-service';
import type { AgentCommand } from './profiling-service';

export type ContinuousMonitorType =
  'PROCESS_CPU' | 'PROCESS_THREAD_COUNT' | 'SYSTEM_LOAD' | 'HTTP_ERROR_RATE' | 'HTTP_AVG_RESPONSE_TIME';

/** Declaration order of the OAP enum; stored and listed policies follow it (and the targets' order). */
export const CONTINUOUS_MONITOR_TYPES: readonly ContinuousMonitorType[] = [
  'PROCESS_CPU',
  'PROCESS_THREAD_COUNT',
  'SYSTEM_LOAD',
  'HTTP_ERROR_RATE',
  'HTTP_AVG_RESPONSE_TIME',
];
const HTTP_MONITOR_TYPES: readonly ContinuousMonitorType[] = ['HTTP_ERROR_RATE', 'HTTP_AVG_RESPONSE_TIME'];

/** The gRPC cause enum (ContinuousProfilingTriggeredMonitorType) to the OAP's monitor type. */
const CAUSE_TYPES: Record<string, ContinuousMonitorType> = {
  ProcessCPU: 'PROCESS_CPU',
  ProcessThreadCount: 'PROCESS_THREAD_COUNT',
  SystemLoad: 'SYSTEM_LOAD',
  HTTPErrorRate: 'HTTP_ERROR_RATE',
  HTTPAvgResponseTime: 'HTTP_AVG_RESPONSE_TIME',
};

/** Triggered counts look back this far (OAP: RECENT_TRIGGERED_HOURS = 48). */
export const RECENT_TRIGGERED_MS = 48 * 3_600_000;
/** Names are normalised as MetadataService does, so IDs match the reported processes. */
const MAX_NAME = 70;

export interface PolicyItemCreation {
  type: ContinuousMonitorType;
  threshold: string;
  period: number;
  count: number;
  uriList?: string[] | null;
  uriRegex?: string | null;
}

export interface PolicyTargetCreation {
  targetType: ProfilingTargetType;
  checkItems: PolicyItemCreation[];
}

export interface PolicyCreation {
  serviceId: string;
  targets: PolicyTargetCreation[];
}

export interface SetPolicyResult {
  status: boolean;
  errorReason: string | null;
}

export interface ContinuousProfilingPolicyItem {
  type: ContinuousMonitorType;
  threshold: string;
  period: number;
  count: number;
  uriList: string[] | null;
  uriRegex: string | null;
}

export interface ContinuousProfilingPolicyTarget {
  type: ProfilingTargetType;
  checkItems: ContinuousProfilingPolicyItem[];
  triggeredCount: number;
  lastTriggerTimestamp: number | null;
}

export interface ContinuousProfilingMonitoringProcess {
  id: string;
  name: string;
  detectType: string;
  labels: string[];
  triggeredCount: number;
  lastTriggerTimestamp: number | null;
}

export interface ContinuousProfilingMonitoringInstance {
  id: string;
  name: string;
  attributes: Array<{ name: string; value: string }>;
  triggeredCount: number;
  lastTriggerTimestamp: number | null;
  processes: ContinuousProfilingMonitoringProcess[];
}

/** What the agent says it holds for one service. */
export interface ServicePolicyQuery {
  serviceName: string;
  uuid: string;
}

/** One cause as the OAP keeps it (ContinuousProfilingTriggeredCause); values are ×100. */
export interface TriggeredCause {
  type: ContinuousMonitorType;
  singleValue?: { threshold: number; current: number };
  uri?: {
    uriRegex?: string;
    uriPath?: string;
    threshold: number;
    current: number;
  };
  message: string;
}

/** ContinuousProfilingPolicyConfiguration.CheckItem, in Gson field order. */
interface StoredCheckItem {
  threshold?: string;
  period: number;
  count: number;
  uriList?: string[];
  uriRegex?: string;
}

type StoredConfiguration = Partial<
  Record<ProfilingTargetType, Partial<Record<ContinuousMonitorType, StoredCheckItem>>>
>;

export class ContinuousProfilingService {
  constructor(
    private readonly storage: Storage,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- policies (GraphQL) ----

  async setPolicy(request: PolicyCreation): Promise<SetPolicyResult> {
    const error = await this.checkPolicy(request);
    if (error) return { status: false, errorReason: error };
    const configurationJson = gsonJson({
      targetCheckers: buildConfiguration(request.targets),
    });
    await this.storage.policies.savePolicy({
      serviceId: request.serviceId,
      uuid: createHash('sha512').update(configurationJson, 'utf8').digest('hex'),
      configurationJson,
      updateTime: this.now(),
    });
    return { status: true, errorReason: null };
  }

  private async checkPolicy(request: PolicyCreation): Promise<string | null> {
    if (!request.serviceId) return 'the service id cannot be empty';
    try {
      parseServiceId(request.serviceId);
    } catch {
      return `service id "${request.serviceId}" is not a valid service ID`;
    }
    if (!(await this.storage.metadata.getService(request.serviceId))) {
      return `service "${request.serviceId}" is not found`;
    }
    // As the OAP, an empty target list is valid: it clears the service's policy (the UI sends
    // it when every policy was removed), and agents then receive an empty one.
    const targetTypes = new Set<string>();
    for (const target of request.targets ?? []) {
      const targetType = target.targetType;
      if (!CONTINUOUS_POLICY_TARGETS.includes(targetType)) return `unknown target type: ${String(targetType)}`;
      if (targetTypes.has(targetType)) return `contains multiple same target type: ${targetType}`;
      targetTypes.add(targetType);
      const monitorTypes = new Set<string>();
      for (const item of target.checkItems ?? []) {
        if (!CONTINUOUS_MONITOR_TYPES.includes(item.type)) {
          return `unknown monitor type ${String(item.type)} in ${targetType}`;
        }
        if (monitorTypes.has(item.type)) return `contains multiple same monitor type ${item.type} in ${targetType}`;
        monitorTypes.add(item.type);
        const itemError = checkPolicyItem(item);
        if (itemError) return `check ${item.type} in ${targetType} error: ${itemError}`;
      }
    }
    return null;
  }

  async queryServiceTargets(svcId: string): Promise<ContinuousProfilingPolicyTarget[]> {
    const [policy] = await this.storage.policies.getPolicies([svcId]);
    if (!policy) return [];
    const configuration = parseConfiguration(policy.configurationJson);
    const targetTypes = CONTINUOUS_POLICY_TARGETS.filter((t) => configuration[t]);
    const tasks = await this.recentTriggeredTasks(svcId, targetTypes);
    const summaries = summarize(tasks, (t) => t.targetType);
    return targetTypes.map((type) => {
      const summary = summaries.get(type);
      return {
        type,
        checkItems: listItems(configuration[type] ?? {}),
        triggeredCount: summary?.count ?? 0,
        lastTriggerTimestamp: summary?.last ?? null,
      };
    });
  }

  async queryMonitoringInstances(
    svcId: string,
    target: ProfilingTargetType,
  ): Promise<ContinuousProfilingMonitoringInstance[]> {
    const processes = await this.storage.metadata.listProcesses({
      serviceId: svcId,
      seenSince: this.now() - RECENT_TRIGGERED_MS,
    });
    if (processes.length === 0) return [];
    const tasks = await this.recentTriggeredTasks(svcId, [target]);

    const byInstance = new Map<string, ProcessRecord[]>();
    for (const p of processes) {
      const list = byInstance.get(p.instanceId);
      if (list) list.push(p);
      else byInstance.set(p.instanceId, [p]);
    }
    const instances = (
      await Promise.all([...byInstance.keys()].map((id) => this.storage.metadata.getInstance(id)))
    ).filter((i): i is InstanceRecord => i !== null);

    const instanceSummary = summarize(tasks, (t) => t.instanceId);
    const processSummary = summarize(tasks, (t) => continuousProcessId(t));
    return instances.map((instance) => {
      const summary = instanceSummary.get(instance.id);
      return {
        id: instance.id,
        name: instance.name,
        attributes: instance.attributes.map((a) => ({
          name: a.name,
          value: a.value,
        })),
        triggeredCount: summary?.count ?? 0,
        lastTriggerTimestamp: summary?.last ?? null,
        processes: (byInstance.get(instance.id) ?? []).map((p) => {
          const ps = processSummary.get(p.id);
          return {
            id: p.id,
            name: p.name,
            detectType: p.detectType,
            labels: [...p.labels],
            triggeredCount: ps?.count ?? 0,
            lastTriggerTimestamp: ps?.last ?? null,
          };
        }),
      };
    });
  }

  private async recentTriggeredTasks(svcId: string, targets: readonly ProfilingTargetType[]): Promise<TaskRecord[]> {
    if (targets.length === 0) return [];
    return this.storage.tasks.queryTasks({
      serviceId: svcId,
      targetTypes: [...targets],
      triggerType: 'CONTINUOUS_PROFILING',
      startTimeFrom: this.now() - RECENT_TRIGGERED_MS,
    });
  }

  // ---- agents (gRPC) ----

  /**
   * The answer to `queryPolicies`: nothing when every service's uuid matches; otherwise one
   * ContinuousProfilingPolicyQuery command with the changed services only. A service without a
   * policy is sent (as an empty policy with uuid "") only when the agent holds some uuid for it.
   */
  async policyCommands(query: ServicePolicyQuery[]): Promise<AgentCommand[]> {
    // serviceId -> what the agent holds; the first entry of a service wins (as the OAP's toMap).
    const held = new Map<string, { name: string; uuid: string }>();
    for (const q of query) {
      const name = normalizeName(q.serviceName ?? '');
      if (!name) continue;
      const id = serviceId(name);
      if (!held.has(id)) held.set(id, { name: q.serviceName ?? '', uuid: q.uuid ?? '' });
    }
    if (held.size === 0) return [];
    const stored = new Map((await this.storage.policies.getPolicies([...held.keys()])).map((p) => [p.serviceId, p]));

    const updates: WirePolicy[] = [];
    for (const [id, agent] of held) {
      const policy = stored.get(id);
      if (!policy) {
        if (agent.uuid !== '') updates.push({ ServiceName: agent.name, UUID: '' });
      } else if (policy.uuid !== agent.uuid) {
        const update: WirePolicy = {
          ServiceName: agent.name,
          UUID: policy.uuid,
        };
        if (policy.configurationJson) update.Profiling = toWireProfiling(parseConfiguration(policy.configurationJson));
        updates.push(update);
      }
    }
    if (updates.length === 0) return [];
    return [
      {
        command: 'ContinuousProfilingPolicyQuery',
        args: [
          { key: 'SerialNumber', value: randomUUID() },
          { key: 'ServiceWithPolicyJSON', value: gsonJson(updates) },
        ],
      },
    ];
  }

  /**
   * Records the CONTINUOUS_PROFILING task for a crossed threshold and returns its id.
   * Throws InvalidReportError for a report the OAP could not store sensibly.
   */
  async reportTask(report: ContinuousProfilingReport__Output): Promise<string> {
    const serviceName = requiredName(report.serviceName, 'service');
    const instanceName = requiredName(report.instanceName, 'instance');
    const processName = report.processName ?? '';
    if (!Number.isFinite(report.duration) || report.duration < 0) {
      throw new InvalidReportError('the continuous profiling duration cannot be negative');
    }
    const target = reportTarget(report);
    const causes = (report.causes ?? []).map(toTriggeredCause);

    const svcId = serviceId(serviceName);
    const instId = instanceId(svcId, instanceName);
    const current = this.now();
    // The logical id hashes (service, "", start time): two reports of one service in the same
    // millisecond would share it, so the later one starts a millisecond after.
    let startTime = current;
    while ((await this.storage.tasks.getTaskRecords(taskLogicalId(svcId, '', startTime))).length > 0) startTime += 1;

    const task: TaskRecord = {
      taskId: taskLogicalId(svcId, '', startTime),
      serviceId: svcId,
      instanceId: instId,
      processLabels: [],
      startTime,
      triggerType: 'CONTINUOUS_PROFILING',
      targetType: target.type,
      fixedTriggerDuration: report.duration,
      createTime: current,
      lastUpdateTime: current,
      extensionConfigJson: target.continuousExtension(report),
      continuousProfilingJson: gsonJson({
        processId: processId(instId, processName),
        processName,
        causes,
      }),
    };
    await this.storage.tasks.saveTask(task);
    return task.taskId;
  }
}

/** The answer to `reportProfilingTask`: the id of the recorded task. */
export const continuousReportCommand = (taskId: string): AgentCommand => ({
  command: 'ContinuousProfilingReportTask',
  args: [
    { key: 'SerialNumber', value: randomUUID() },
    { key: 'TaskId', value: taskId },
  ],
});

// ---- validation ----

const checkPolicyItem = (item: PolicyItemCreation): string | null => {
  // The Java OAP's checks and wordings, word for word (clients match on them): zero is a valid
  // count and threshold there.
  if (!Number.isInteger(item.period) || item.period <= 0) return 'period must bigger than zero';
  if (!Number.isInteger(item.count) || item.count < 0) return 'count must bigger than zero';
  if (item.count > item.period) return 'count must be small than period';
  const threshold = parseJavaInt(item.threshold);
  if (threshold === null) return 'parsing threshold error';
  switch (item.type) {
    case 'PROCESS_CPU':
      if (threshold < 0 || threshold > 100) return 'the process CPU percent should in [0-100]';
      break;
    case 'PROCESS_THREAD_COUNT':
      if (threshold < 0) return 'the process thread count must bigger than zero';
      break;
    case 'SYSTEM_LOAD':
      if (threshold < 0) return 'the system load must bigger than zero';
      break;
    case 'HTTP_ERROR_RATE':
      if (threshold < 0 || threshold > 100) return 'the HTTP error rate should in [0-100]';
      break;
    case 'HTTP_AVG_RESPONSE_TIME':
      if (threshold < 0) return 'the HTTP average response time must bigger than zero';
      break;
  }
  // Stricter than the OAP, which stores these unchecked; rover only applies URI filters to the
  // HTTP monitors, and the UI offers one of the two.
  const hasUriList = (item.uriList ?? []).length > 0;
  const hasUriRegex = (item.uriRegex ?? '') !== '';
  if ((hasUriList || hasUriRegex) && !HTTP_MONITOR_TYPES.includes(item.type)) {
    return 'the URI list and URI regex only apply to the HTTP monitor types';
  }
  if (hasUriList && hasUriRegex) return 'only one of the URI list and the URI regex can be set';
  if (hasUriList && item.uriList!.some((u) => u.trim() === '')) return 'the URI list cannot contain empty URIs';
  return null;
};

/** Integer.parseInt: optional sign, decimal digits only, within the int range. */
const parseJavaInt = (text: string | null | undefined): number | null => {
  if (typeof text !== 'string' || !/^[+-]?\d+$/.test(text)) return null;
  const value = Number(text);
  return value >= -2_147_483_648 && value <= 2_147_483_647 ? value : null;
};

// ---- policy configuration JSON ----

const buildConfiguration = (targets: PolicyTargetCreation[]): StoredConfiguration => {
  const configuration: StoredConfiguration = {};
  for (const type of CONTINUOUS_POLICY_TARGETS) {
    const target = (targets ?? []).find((t) => t.targetType === type);
    if (!target) continue;
    const items: Partial<Record<ContinuousMonitorType, StoredCheckItem>> = {};
    for (const monitor of CONTINUOUS_MONITOR_TYPES) {
      const item = (target.checkItems ?? []).find((i) => i.type === monitor);
      if (!item) continue;
      const stored: StoredCheckItem = {
        threshold: item.threshold,
        period: item.period,
        count: item.count,
      };
      if (item.uriList != null) stored.uriList = [...item.uriList];
      if (item.uriRegex != null) stored.uriRegex = item.uriRegex;
      items[monitor] = stored;
    }
    configuration[type] = items;
  }
  return configuration;
};

/** Reads a stored configuration; unknown target or monitor types are skipped. */
const parseConfiguration = (json: string): StoredConfiguration => {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  const checkers = (parsed as { targetCheckers?: unknown } | null)?.targetCheckers;
  if (!checkers || typeof checkers !== 'object') return {};
  const configuration: StoredConfiguration = {};
  for (const type of CONTINUOUS_POLICY_TARGETS) {
    const items = (checkers as Record<string, unknown>)[type];
    if (!items || typeof items !== 'object') continue;
    const target: Partial<Record<ContinuousMonitorType, StoredCheckItem>> = {};
    for (const monitor of CONTINUOUS_MONITOR_TYPES) {
      const raw = (items as Record<string, unknown>)[monitor] as Record<string, unknown> | undefined;
      if (!raw || typeof raw !== 'object') continue;
      const item: StoredCheckItem = {
        period: Number(raw.period ?? 0),
        count: Number(raw.count ?? 0),
      };
      if (typeof raw.threshold === 'string') item.threshold = raw.threshold;
      if (Array.isArray(raw.uriList)) item.uriList = raw.uriList.map(String);
      if (typeof raw.uriRegex === 'string') item.uriRegex = raw.uriRegex;
      // Keep Gson's field order: threshold, period, count, uriList, uriRegex.
      target[monitor] = {
        ...(item.threshold !== undefined ? { threshold: item.threshold } : {}),
        period: item.period,
        count: item.count,
        ...(item.uriList !== undefined ? { uriList: item.uriList } : {}),
        ...(item.uriRegex !== undefined ? { uriRegex: item.uriRegex } : {}),
      };
    }
    configuration[type] = target;
  }
  return configuration;
};

const listItems = (items: Partial<Record<ContinuousMonitorType, StoredCheckItem>>): ContinuousProfilingPolicyItem[] =>
  CONTINUOUS_MONITOR_TYPES.filter((m) => items[m]).map((type) => {
    const item = items[type]!;
    return {
      type,
      threshold: item.threshold ?? '',
      period: item.period,
      count: item.count,
      uriList: item.uriList ?? null,
      uriRegex: item.uriRegex ?? null,
    };
  });

/** command.ContinuousProfilingPolicy as Gson writes it (absent values left out). */
interface WirePolicy {
  ServiceName: string;
  UUID: string;
  Profiling?: Record<string, Record<string, WireItem>>;
}

interface WireItem {
  Threshold?: string;
  Period: number;
  Count: number;
  URIList?: string[];
  URIRegex?: string;
}

const toWireProfiling = (configuration: StoredConfiguration): Record<string, Record<string, WireItem>> => {
  const profiling: Record<string, Record<string, WireItem>> = {};
  for (const type of CONTINUOUS_POLICY_TARGETS) {
    const items = configuration[type];
    if (!items) continue;
    const wire: Record<string, WireItem> = {};
    for (const monitor of CONTINUOUS_MONITOR_TYPES) {
      const item = items[monitor];
      if (!item) continue;
      wire[monitor] = {
        ...(item.threshold !== undefined ? { Threshold: item.threshold } : {}),
        Period: item.period,
        Count: item.count,
        ...(item.uriList !== undefined ? { URIList: item.uriList } : {}),
        ...(item.uriRegex !== undefined ? { URIRegex: item.uriRegex } : {}),
      };
    }
    profiling[type] = wire;
  }
  return profiling;
};

// ---- reports ----

const normalizeName = (name: string): string => {
  const trimmed = name.trim();
  return trimmed.length > MAX_NAME ? trimmed.slice(0, MAX_NAME) : trimmed;
};

const requiredName = (name: string | undefined, what: string): string => {
  const normalized = normalizeName(name ?? '');
  if (!normalized) throw new InvalidReportError(`the continuous profiling report has no ${what} name`);
  return normalized;
};

const reportTarget = (report: ContinuousProfilingReport__Output): TargetDescription => {
  const target = targetOfContinuousReport(report.targetTask);
  if (!target) {
    throw new InvalidReportError('the continuous profiling task type cannot recognized (set onCPU, offCPU or network)');
  }
  return target;
};

/** Java's `(long) (value * 100)`: truncation toward zero, saturating; NaN becomes 0. */
const hundredths = (value: number): number => {
  const scaled = value * 100;
  if (Number.isNaN(scaled)) return 0;
  if (scaled >= 9.223372036854776e18) return Number.MAX_SAFE_INTEGER;
  if (scaled <= -9.223372036854776e18) return Number.MIN_SAFE_INTEGER;
  return Math.trunc(scaled) || 0;
};

const toTriggeredCause = (cause: ContinuousProfilingCause__Output): TriggeredCause => {
  const type = CAUSE_TYPES[String(cause.type)];
  if (!type) throw new InvalidReportError(`unknown continuous profiling cause type "${String(cause.type)}"`);
  // Gson field order of ContinuousProfilingTriggeredCause: type, singleValue, uri, message.
  const result: TriggeredCause = { type, singleValue: undefined, uri: undefined, message: '' };
  let text = '';
  if (cause.cause === 'singleValue' && cause.singleValue) {
    const { threshold, current } = cause.singleValue;
    result.singleValue = { threshold: hundredths(threshold), current: hundredths(current) };
    text = causeText(type, threshold, current);
  } else if (cause.cause === 'uri' && cause.uri) {
    const uri = cause.uri;
    let target: string;
    // Gson field order of ContinuousProfilingURICause: uriRegex, uriPath, threshold, current.
    if (uri.uri === 'path') {
      target = uri.path ?? '';
      result.uri = { uriPath: target, threshold: hundredths(uri.threshold), current: hundredths(uri.current) };
    } else if (uri.uri === 'regex') {
      target = uri.regex ?? '';
      result.uri = { uriRegex: target, threshold: hundredths(uri.threshold), current: hundredths(uri.current) };
    } else {
      throw new InvalidReportError('the uri case not set');
    }
    text = causeText(type, uri.threshold, uri.current);
    if (target) text += ` on ${target}`;
  }
  // As the OAP, a cause with neither value keeps an empty description.
  result.message = `${type}: ${text}`;
  // Absent values are left out of the JSON, as Gson does (JSON.stringify drops undefined).
  return result;
};

/** Java's NumberFormat.getPercentInstance() with two fraction digits (en locale, HALF_EVEN). */
const percentFormat = new Intl.NumberFormat('en-US', {
  style: 'percent',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
  roundingMode: 'halfEven',
} as Intl.NumberFormatOptions);
/** Java's String.format("%.2f"): HALF_UP on the shortest decimal, no grouping. */
const fixed2 = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
  useGrouping: false,
  roundingMode: 'halfExpand',
} as Intl.NumberFormatOptions);
/** Java's (int) cast. */
const javaInt = (value: number): number =>
  Number.isNaN(value) ? 0 : Math.trunc(Math.min(2_147_483_647, Math.max(-2_147_483_648, value))) || 0;

const causeText = (type: ContinuousMonitorType, threshold: number, current: number): string => {
  switch (type) {
    case 'HTTP_ERROR_RATE':
    case 'PROCESS_CPU':
      return `current ${percentFormat.format(current / 100)} >= threshold ${percentFormat.format(threshold / 100)}`;
    case 'PROCESS_THREAD_COUNT':
    case 'SYSTEM_LOAD':
      return `current ${javaInt(current)} >= threshold ${javaInt(threshold)}`;
    case 'HTTP_AVG_RESPONSE_TIME':
      return `current ${fixed2.format(current)}ms >= threshold ${fixed2.format(threshold)}ms`;
  }
};

// ---- summaries ----

interface TriggerSummary {
  count: number;
  last: number;
}

/** Counts tasks per key and keeps the newest start time (the OAP's EBPFProfilingTaskSummary). */
const summarize = (tasks: TaskRecord[], key: (task: TaskRecord) => string | null): Map<string, TriggerSummary> => {
  const summaries = new Map<string, TriggerSummary>();
  for (const task of tasks) {
    const k = key(task);
    if (k === null) continue;
    const summary = summaries.get(k);
    if (summary) {
      summary.count += 1;
      summary.last = Math.max(summary.last, task.startTime);
    } else {
      summaries.set(k, { count: 1, last: Math.max(0, task.startTime) });
    }
  }
  return summaries;
};

const continuousProcessId = (task: TaskRecord): string | null => {
  if (!task.continuousProfilingJson) return null;
  try {
    const parsed = JSON.parse(task.continuousProfilingJson) as {
      processId?: unknown;
    };
    return typeof parsed.processId === 'string' ? parsed.processId : null;
  } catch {
    return null;
  }
};
