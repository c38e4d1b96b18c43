/**
 * The storage boundary of oap-lite. Every backend (embedded SQLite, Elasticsearch) implements
 * `Storage` and passes the same behaviour suite (storage/behaviour.ts). Records mirror the Java
 * OAP's storage models (process_traffic, ebpf_profiling_task, ebpf_profiling_schedule,
 * ebpf_profiling_data, the avg meter functions' metrics, ...) but stacks are stored already
 * decoded, so analysis never parses protobuf at query time.
 *
 * All times are epoch milliseconds unless a name says otherwise.
 */

export type StackType = 'KERNEL_SPACE' | 'USER_SPACE';
export type TargetType = 'ON_CPU' | 'OFF_CPU' | 'NETWORK';
export type TriggerType = 'FIXED_TIME' | 'CONTINUOUS_PROFILING';
export type DetectType = 'VM' | 'KUBERNETES' | 'UNDEFINED';

export interface ServiceRecord {
  /** base64(name) + ".1" (IDManager.ServiceID with a normal service). */
  id: string;
  name: string;
  /** The part after "::" when the name has a group, otherwise the name. */
  shortName: string;
  /** The part before "::", or "". */
  group: string;
  normal: boolean;
  /** Every layer this service was reported in (union over time). */
  layers: string[];
  lastSeen: number;
}

export interface InstanceRecord {
  /** serviceId + "_" + base64(name). */
  id: string;
  serviceId: string;
  name: string;
  layer: string;
  attributes: Array<{ name: string; value: string }>;
  lastSeen: number;
}

export interface ProcessRecord {
  /** sha256-hex of `${name}_${instanceId}` (IDManager.ProcessID). */
  id: string;
  name: string;
  serviceId: string;
  serviceName: string;
  instanceId: string;
  instanceName: string;
  layer: string;
  agentId: string;
  detectType: DetectType;
  labels: string[];
  /** Reported properties, e.g. host_ip, pid, command_line, support_ebpf_profiling. */
  properties: Record<string, string>;
  profilingSupported: boolean;
  firstSeen: number;
  lastSeen: number;
}

export interface ProcessFilter {
  serviceId?: string;
  instanceId?: string;
  agentId?: string;
  /** Only processes whose lastSeen is >= this. */
  seenSince?: number;
  /** Only processes whose lastSeen is <= this (with firstSeen <= it as well). */
  seenUntil?: number;
  profilingSupported?: boolean;
}

export interface TaskRecord {
  /** The logical id (sha256 of serviceId, labels JSON and start time), the ID users see. */
  taskId: string;
  serviceId: string;
  /** Set for NETWORK tasks, which target one instance. */
  instanceId: string;
  /** Labels a process must all carry to be profiled; empty means every process. */
  processLabels: string[];
  startTime: number;
  triggerType: TriggerType;
  targetType: TargetType;
  /** Seconds. */
  fixedTriggerDuration: number;
  createTime: number;
  lastUpdateTime: number;
  /** JSON of the task extension (network samplings), or "". */
  extensionConfigJson: string;
  /** JSON {processId, processName, causes} for CONTINUOUS_PROFILING tasks, or "". */
  continuousProfilingJson: string;
}

export interface TaskFilter {
  serviceId?: string;
  /** Tasks for any of these services. */
  serviceIds?: string[];
  instanceId?: string;
  targetTypes?: TargetType[];
  triggerType?: TriggerType;
  /** startTime >= this (0 or absent: no bound). */
  startTimeFrom?: number;
  /** startTime <= this (0 or absent: no bound). */
  startTimeTo?: number;
  /** lastUpdateTime > this (for agents polling with their latest update time). */
  updatedAfter?: number;
}

export interface ScheduleRecord {
  /** sha256-hex of `${taskId}_${processId}_${startTime}`. */
  scheduleId: string;
  taskId: string;
  processId: string;
  startTime: number;
  /** Extended to the newest upload time seen for the schedule (never shrinks). */
  endTime: number;
}

export interface StackFrame {
  symbol: string;
  stackType: StackType;
}

export interface ProfilingDataRecord {
  scheduleId: string;
  taskId: string;
  /** Kernel-side stack ids joined by "_" (KERNEL first, then USER), as the OAP keeps them. */
  stackIdList: string;
  targetType: TargetType;
  uploadTime: number;
  /** Root first (outermost user frame) to leaf (innermost kernel frame). */
  frames: StackFrame[];
  /** ON_CPU: dump count; OFF_CPU: switch count. */
  count: number;
  /** OFF_CPU: blocked nanoseconds; ON_CPU: 0. */
  duration: number;
}

export interface TimeRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

export interface AggregatedStack {
  frames: StackFrame[];
  value: number;
}

export interface ContinuousPolicyRecord {
  serviceId: string;
  /** Changes whenever the policy changes; agents re-fetch on a new uuid. */
  uuid: string;
  /** JSON of the policy targets (see continuous profiling). */
  configurationJson: string;
  updateTime: number;
}

export interface UiTemplateRecord {
  id: string;
  configuration: string;
  activated: boolean;
  disabled: boolean;
  updateTime: number;
}

/**
 * One minute of one metric for one entity (and, for a labeled metric, one label set), as the
 * OAP's avg meter functions keep it (AvgFunction, AvgLabeledFunction): the sum and the number of
 * the values accepted in that minute. The metric's value is derived when read:
 * summation / count, in integers, and at least 1 when summation > 0 (see storage/metrics.ts).
 */
export interface MetricValueRecord {
  /** The metric name, e.g. "continuous_profiling_process_cpu". */
  metric: string;
  /** The entity the metric is about; for process-scope metrics the process ID. */
  entityId: string;
  /** The entity's service ID (kept as the OAP does, for service-wide reads). */
  serviceId: string;
  /** Epoch ms of the first millisecond of the minute (a multiple of 60 000). */
  timeBucket: number;
  /** The series' labels for a labeled metric, e.g. {uri: "/a"}; {} for a single-value metric. */
  labels: Record<string, string>;
  /** Non-negative safe integers; count >= 1. */
  summation: number;
  count: number;
}

export interface Storage {
  /** Creates tables/indices; waits for the backend. Must be called before anything else. */
  init(): Promise<void>;
  close(): Promise<void>;

  // metadata
  upsertService(service: ServiceRecord): Promise<void>;
  listServices(layer?: string): Promise<ServiceRecord[]>;
  getService(id: string): Promise<ServiceRecord | null>;
  upsertInstance(instance: InstanceRecord): Promise<void>;
  listInstances(serviceId: string, seenSince?: number): Promise<InstanceRecord[]>;
  getInstance(id: string): Promise<InstanceRecord | null>;
  /** Insert or merge: firstSeen keeps the oldest value, every other field takes the new one. */
  upsertProcesses(processes: ProcessRecord[]): Promise<void>;
  listProcesses(filter: ProcessFilter): Promise<ProcessRecord[]>;
  getProcess(id: string): Promise<ProcessRecord | null>;
  getProcesses(ids: string[]): Promise<ProcessRecord[]>;
  countProcesses(filter: ProcessFilter): Promise<number>;
  addServiceLabels(serviceId: string, labels: string[]): Promise<void>;
  listServiceLabels(serviceId: string): Promise<string[]>;

  // eBPF profiling
  /** Insert; a record with the same (taskId, createTime) replaces the old one. */
  saveTask(task: TaskRecord): Promise<void>;
  /** Every record of the filter, newest createTime first (several records may share a taskId). */
  queryTasks(filter: TaskFilter): Promise<TaskRecord[]>;
  getTaskRecords(taskId: string): Promise<TaskRecord[]>;
  /** Insert, or extend endTime to max(old, new) when the scheduleId exists. */
  upsertSchedule(schedule: ScheduleRecord): Promise<void>;
  querySchedules(taskId: string): Promise<ScheduleRecord[]>;
  /**
   * Writes a batch atomically (all or nothing). A record with the same
   * (scheduleId, stackIdList, uploadTime) as a stored one replaces it, as in the OAP.
   */
  writeProfilingData(records: ProfilingDataRecord[]): Promise<void>;
  /**
   * Stacks of the schedules inside any of the ranges (uploadTime within [start, end]),
   * with the upstream analyzer's semantics: records identical in (uploadTime, value, frames)
   * count once even when ranges overlap; then values are summed per distinct frame list.
   * `value` is `count` for COUNT and `duration` for DURATION (ON_CPU records use count for both).
   * Order: by first appearance (uploadTime ascending).
   */
  queryProfilingStacks(
    scheduleIds: string[],
    ranges: TimeRange[],
    aggregate: 'COUNT' | 'DURATION',
  ): Promise<AggregatedStack[]>;

  // continuous profiling
  savePolicy(policy: ContinuousPolicyRecord): Promise<void>;
  getPolicies(serviceIds: string[]): Promise<ContinuousPolicyRecord[]>;

  // metrics
  /**
   * Adds every record's summation and count to the stored record with the same
   * (metric, entityId, timeBucket, labels), or stores it when there is none (records of one batch
   * with the same key add up too; serviceId takes the new value). Each addition is atomic, so
   * concurrent writers (several oap-lite nodes sharing one Elasticsearch) never lose one. A batch
   * with an invalid record is refused before anything is written.
   */
  addMetricValues(records: MetricValueRecord[]): Promise<void>;
  /**
   * The stored records of one metric and entity whose timeBucket is within the range (inclusive),
   * ordered by timeBucket; records of one minute (several label sets) in no particular order.
   */
  queryMetricValues(metric: string, entityId: string, range: TimeRange): Promise<MetricValueRecord[]>;

  // UI templates (dashboards)
  saveUiTemplate(template: UiTemplateRecord): Promise<void>;
  getUiTemplate(id: string): Promise<UiTemplateRecord | null>;
  listUiTemplates(includeDisabled: boolean): Promise<UiTemplateRecord[]>;

  /**
   * TTL: deletes profiling data and schedules older than `recordsBefore`, tasks created
   * before it, processes/instances/services not seen since `metricsBefore`, and metric values
   * whose timeBucket is before `metricsBefore` (the OAP's metrics TTL covers metadata and metrics).
   * Returns how many rows/documents went.
   */
  deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number>;
}
