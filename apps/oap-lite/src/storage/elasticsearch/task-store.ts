/** TaskStore on Elasticsearch: the OAP's ebpf_profiling_task and ebpf_profiling_schedule indices. */
import type { ProfilingTargetType, ProfilingTriggerType } from '@swlite/protocol';
import type { estypes } from '@elastic/elasticsearch';
import type { ScheduleRecord, TaskFilter, TaskRecord, TaskStore } from '../types';
import { docId, sha256Hex, type Doc, type EsConnection } from './connection';

export class EsTaskStore implements TaskStore {
  constructor(private readonly c: EsConnection) {}

  async saveTask(task: TaskRecord): Promise<void> {
    await this.c.es.index({
      index: this.c.names.metadata('ebpf_profiling_task'),
      id: sha256Hex(task.taskId, task.createTime),
      refresh: true,
      document: {
        logical_id: task.taskId,
        service_id: task.serviceId,
        instance_id: task.instanceId ?? '',
        process_labels: task.processLabels ?? [],
        start_time: task.startTime,
        trigger_type: task.triggerType,
        target_type: task.targetType,
        fixed_trigger_duration: task.fixedTriggerDuration,
        create_time: task.createTime,
        last_update_time: task.lastUpdateTime,
        extension_config_json: task.extensionConfigJson ?? '',
        continuous_profiling_json: task.continuousProfilingJson ?? '',
      },
    });
  }

  private toTask = (d: Doc): TaskRecord => ({
    taskId: String(d.logical_id),
    serviceId: String(d.service_id),
    instanceId: String(d.instance_id ?? ''),
    processLabels: (d.process_labels as string[]) ?? [],
    startTime: Number(d.start_time),
    triggerType: String(d.trigger_type) as ProfilingTriggerType,
    targetType: String(d.target_type) as ProfilingTargetType,
    fixedTriggerDuration: Number(d.fixed_trigger_duration),
    createTime: Number(d.create_time),
    lastUpdateTime: Number(d.last_update_time),
    extensionConfigJson: String(d.extension_config_json ?? ''),
    continuousProfilingJson: String(d.continuous_profiling_json ?? ''),
  });

  private taskSort: estypes.SortCombinations[] = [{ create_time: 'desc' }, { logical_id: 'asc' }];

  async queryTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    const f: estypes.QueryDslQueryContainer[] = [];
    if (filter.serviceId !== undefined) f.push({ term: { service_id: filter.serviceId } });
    if (filter.serviceIds && filter.serviceIds.length > 0) f.push({ terms: { service_id: filter.serviceIds } });
    if (filter.instanceId !== undefined) f.push({ term: { instance_id: filter.instanceId } });
    if (filter.targetTypes && filter.targetTypes.length > 0) f.push({ terms: { target_type: filter.targetTypes } });
    if (filter.triggerType !== undefined) f.push({ term: { trigger_type: filter.triggerType } });
    if (filter.startTimeFrom) f.push({ range: { start_time: { gte: filter.startTimeFrom } } });
    if (filter.startTimeTo) f.push({ range: { start_time: { lte: filter.startTimeTo } } });
    if (filter.updatedAfter !== undefined) f.push({ range: { last_update_time: { gt: filter.updatedAfter } } });
    return (
      await this.c.searchAll(this.c.names.metadata('ebpf_profiling_task'), { bool: { filter: f } }, this.taskSort)
    ).map(this.toTask);
  }

  async getTaskRecords(taskId: string): Promise<TaskRecord[]> {
    return (
      await this.c.searchAll(
        this.c.names.metadata('ebpf_profiling_task'),
        { term: { logical_id: taskId } },
        this.taskSort,
      )
    ).map(this.toTask);
  }

  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    const index = this.c.names.metadata('ebpf_profiling_schedule');
    await this.c.untilDurable(`schedule ${schedule.scheduleId}`, () =>
      this.c.mergeUpsert(index, docId(`${schedule.taskId}_${schedule.scheduleId}`), (old) => ({
        ebpf_profiling_schedule_id: schedule.scheduleId,
        task_id: schedule.taskId,
        process_id: schedule.processId,
        start_time: old ? Number(old.start_time) : schedule.startTime,
        end_time: Math.max(Number(old?.end_time ?? -Infinity), schedule.endTime),
      })),
    );
  }

  async querySchedules(taskId: string): Promise<ScheduleRecord[]> {
    const docs = await this.c.searchAll(
      this.c.names.metadata('ebpf_profiling_schedule'),
      { term: { task_id: taskId } },
      [{ start_time: 'asc' }, { ebpf_profiling_schedule_id: 'asc' }],
    );
    return docs.map((d) => ({
      scheduleId: String(d.ebpf_profiling_schedule_id),
      taskId: String(d.task_id),
      processId: String(d.process_id),
      startTime: Number(d.start_time),
      endTime: Number(d.end_time),
    }));
  }

  async deleteExpired(before: number): Promise<number> {
    const n = this.c.names;
    let total = await this.c.deleteMatching(n.metadata('ebpf_profiling_schedule'), {
      range: { end_time: { lt: before } },
    });
    total += await this.c.deleteMatching(n.metadata('ebpf_profiling_task'), { range: { create_time: { lt: before } } });
    return total;
  }
}
