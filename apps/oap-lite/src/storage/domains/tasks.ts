/**
 * eBPF profiling tasks and their schedules (the OAP's ebpf_profiling_task and
 * ebpf_profiling_schedule models).
 */
import type { ProfilingTargetType, ProfilingTriggerType } from '@swlite/protocol';

export interface TaskRecord {
  /** The logical id (sha256 of serviceId, labels JSON and start time), the ID users see. */
  taskId: string;
  serviceId: string;
  /** Set for tasks of targets sent to one instance's processes (see core/targets: processSelection). */
  instanceId: string;
  /** Labels a process must all carry to be profiled; empty means every process. */
  processLabels: string[];
  startTime: number;
  triggerType: ProfilingTriggerType;
  targetType: ProfilingTargetType;
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
  targetTypes?: ProfilingTargetType[];
  triggerType?: ProfilingTriggerType;
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

export interface TaskStore {
  /** Insert; a record with the same (taskId, createTime) replaces the old one. */
  saveTask(task: TaskRecord): Promise<void>;
  /** Every record of the filter, newest createTime first (several records may share a taskId). */
  queryTasks(filter: TaskFilter): Promise<TaskRecord[]>;
  getTaskRecords(taskId: string): Promise<TaskRecord[]>;
  /** Insert, or extend endTime to max(old, new) when the scheduleId exists. */
  upsertSchedule(schedule: ScheduleRecord): Promise<void>;
  querySchedules(taskId: string): Promise<ScheduleRecord[]>;
  /** TTL: deletes schedules that ended and tasks created before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
