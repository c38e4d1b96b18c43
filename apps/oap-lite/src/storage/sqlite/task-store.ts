/** TaskStore on SQLite: tables tasks and schedules. */
import type { ProfilingTargetType, ProfilingTriggerType } from '@swlite/protocol';
import type { ScheduleRecord, TaskFilter, TaskRecord, TaskStore } from '../types';
import { num, parseJson, placeholders, str, type Row, type SqliteConnection } from './connection';
import type { SqliteWriteThread } from './write-thread';

function toTask(r: Row): TaskRecord {
  return {
    taskId: str(r.task_id),
    serviceId: str(r.service_id),
    instanceId: str(r.instance_id),
    processLabels: parseJson<string[]>(r.process_labels_json, []),
    startTime: num(r.start_time),
    triggerType: str(r.trigger_type) as ProfilingTriggerType,
    targetType: str(r.target_type) as ProfilingTargetType,
    fixedTriggerDuration: num(r.fixed_trigger_duration),
    createTime: num(r.create_time),
    lastUpdateTime: num(r.last_update_time),
    extensionConfigJson: str(r.extension_config_json),
    continuousProfilingJson: str(r.continuous_profiling_json),
  };
}
function toSchedule(r: Row): ScheduleRecord {
  return {
    scheduleId: str(r.schedule_id),
    taskId: str(r.task_id),
    processId: str(r.process_id),
    startTime: num(r.start_time),
    endTime: num(r.end_time),
  };
}

const UPSERT_SCHEDULE = `INSERT INTO schedules (schedule_id, task_id, process_id, start_time, end_time)
  VALUES (?, ?, ?, ?, ?)
  ON CONFLICT(schedule_id) DO UPDATE SET end_time = MAX(end_time, excluded.end_time)`;

export class SqliteTaskStore implements TaskStore {
  constructor(
    private readonly c: SqliteConnection,
    /** The writer thread (write-thread.ts); null writes on this thread. */
    private readonly writer: Pick<SqliteWriteThread, 'run'> | null = null,
  ) {}

  async saveTask(task: TaskRecord): Promise<void> {
    this.c
      .stmt(
        `INSERT OR REPLACE INTO tasks (task_id, create_time, service_id, instance_id, process_labels_json,
         start_time, trigger_type, target_type, fixed_trigger_duration, last_update_time,
         extension_config_json, continuous_profiling_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        task.taskId,
        task.createTime,
        task.serviceId,
        task.instanceId ?? '',
        JSON.stringify(task.processLabels ?? []),
        task.startTime,
        task.triggerType,
        task.targetType,
        task.fixedTriggerDuration,
        task.lastUpdateTime,
        task.extensionConfigJson ?? '',
        task.continuousProfilingJson ?? '',
      );
  }

  async queryTasks(filter: TaskFilter): Promise<TaskRecord[]> {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (filter.serviceId !== undefined) {
      conds.push('service_id = ?');
      params.push(filter.serviceId);
    }
    if (filter.serviceIds && filter.serviceIds.length > 0) {
      conds.push(`service_id IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(filter.serviceIds));
    }
    if (filter.instanceId !== undefined) {
      conds.push('instance_id = ?');
      params.push(filter.instanceId);
    }
    if (filter.targetTypes && filter.targetTypes.length > 0) {
      conds.push(`target_type IN (${placeholders(filter.targetTypes.length)})`);
      params.push(...filter.targetTypes);
    }
    if (filter.triggerType !== undefined) {
      conds.push('trigger_type = ?');
      params.push(filter.triggerType);
    }
    if (filter.startTimeFrom) {
      conds.push('start_time >= ?');
      params.push(filter.startTimeFrom);
    }
    if (filter.startTimeTo) {
      conds.push('start_time <= ?');
      params.push(filter.startTimeTo);
    }
    if (filter.updatedAfter !== undefined) {
      conds.push('last_update_time > ?');
      params.push(filter.updatedAfter);
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    return this.c
      .stmt(`SELECT * FROM tasks ${where} ORDER BY create_time DESC, task_id`)
      .all(...params)
      .map(toTask);
  }

  async getTaskRecords(taskId: string): Promise<TaskRecord[]> {
    return this.c.stmt('SELECT * FROM tasks WHERE task_id = ? ORDER BY create_time DESC').all(taskId).map(toTask);
  }

  async upsertSchedule(schedule: ScheduleRecord): Promise<void> {
    const params = [schedule.scheduleId, schedule.taskId, schedule.processId, schedule.startTime, schedule.endTime];
    // Every upload upserts its schedules: on the writer thread when there is one, so the event
    // loop never waits for the write lock the thread's transactions hold.
    if (this.writer) {
      this.c.checkOpen();
      await this.writer.run(UPSERT_SCHEDULE, params);
    } else this.c.stmt(UPSERT_SCHEDULE).run(...params);
  }

  async querySchedules(taskId: string): Promise<ScheduleRecord[]> {
    return this.c
      .stmt('SELECT * FROM schedules WHERE task_id = ? ORDER BY start_time, schedule_id')
      .all(taskId)
      .map(toSchedule);
  }

  async deleteExpired(before: number): Promise<number> {
    return this.c.conn
      .transaction(() => {
        let n = this.c.stmt('DELETE FROM schedules WHERE end_time < ?').run(before).changes;
        n += this.c.stmt('DELETE FROM tasks WHERE create_time < ?').run(before).changes;
        return n;
      })
      .immediate();
  }
}
