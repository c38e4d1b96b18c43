/**
 * EBPFProfilingService: rovers poll for tasks and stream profiling data. An upload stream is staged
 * with bounded memory (upload-staging.ts) and stored only once it completed: a stream that the
 * client cancels, that breaks half-way, or that carries a bad message stores nothing. A stored
 * record is keyed by (schedule, stack ids, upload time) as in the OAP, so an agent that resends a
 * batch it got no answer for (rover's upload queue) replaces it rather than counting it twice.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  EBPFProfilingData__Output,
  EBPFProfilingServiceHandlers,
  EBPFProfilingStackMetadata__Output,
} from '@swlite/protocol';
import type { Logger } from 'pino';
import { targetOfUpload } from '../core/targets';
import type { Metrics } from '../metrics';
import { newSchedule, type ProfilingService } from '../services/profiling-service';
import type { ProfilingDataRecord, ScheduleRecord, StackFrame } from '../storage/types';
import { GrpcStatusError, toServiceError } from './grpc-errors';
import { uploadLife, type UploadStaging } from './upload-life';
import { StagedRecords } from './upload-staging';

export const MAX_RECORDS_PER_STREAM = 1_000_000;

export const profilingHandlers = (
  profiling: ProfilingService,
  metrics: Metrics,
  log: Logger,
  staging: UploadStaging,
): EBPFProfilingServiceHandlers => ({
  queryTasks: (call, callback) => {
    profiling
      .commandsForAgent(call.request.roverInstanceId, call.request.latestUpdateTime)
      .then((commands) => callback(null, { commands }))
      .catch((err) => callback(toServiceError(err)));
  },

  collectProfilingData: (call, callback) => {
    const schedules = new Map<string, ScheduleRecord>();
    const staged = new StagedRecords<ProfilingDataRecord>(staging, call);
    const checkedTasks = new Map<string, Promise<boolean>>();
    let current: { taskId: string; scheduleId: string; uploadTime: number } | null = null;
    const life = uploadLife(call, callback, log, 'eBPF profiling upload', {
      rejected: () => metrics.profilingStreamsRejected.inc(),
      discard: () => void staged.discard(),
    });

    call.on('data', (message: EBPFProfilingData__Output) => {
      if (!life.receiving) return;
      try {
        if (message.task || !current) {
          const task = message.task;
          if (!task || !task.taskId || !task.processId) {
            throw new GrpcStatusError(
              grpc.status.INVALID_ARGUMENT,
              'the first message of a stream must carry task metadata with taskId and processId',
            );
          }
          const schedule = newSchedule(task.taskId, task.processId, task.profilingStartTime, task.currentTime);
          const known = schedules.get(schedule.scheduleId);
          if (known) known.endTime = Math.max(known.endTime, schedule.endTime);
          else schedules.set(schedule.scheduleId, schedule);
          if (!checkedTasks.has(task.taskId)) checkedTasks.set(task.taskId, profiling.knownTask(task.taskId));
          current = { taskId: task.taskId, scheduleId: schedule.scheduleId, uploadTime: task.currentTime };
        }
        staged.push(toRecord(message, current));
        if (staged.count > MAX_RECORDS_PER_STREAM) {
          throw new GrpcStatusError(
            grpc.status.RESOURCE_EXHAUSTED,
            `more than ${MAX_RECORDS_PER_STREAM} stacks in one upload stream; split the upload`,
          );
        }
      } catch (err) {
        life.fail(err);
      }
    });

    life.onComplete(async (stillWanted) => {
      try {
        for (const [taskId, check] of checkedTasks) {
          if (!(await check))
            throw new GrpcStatusError(grpc.status.NOT_FOUND, `unknown eBPF profiling task "${taskId}"`);
        }
        // Past the first write a cancellation no longer stops the commit: what is written is
        // keyed by (schedule, stack ids, upload time), so the agent's retry replaces it, and
        // finishing beats leaving a part for an agent that does not retry.
        let pendingSchedules: ScheduleRecord[] | null = [...schedules.values()];
        for await (const chunk of staged.chunks(staging.commitRecords)) {
          if (pendingSchedules && !stillWanted()) return false;
          await profiling.ingest(pendingSchedules ?? [], chunk);
          pendingSchedules = null;
        }
        if (pendingSchedules) {
          if (!stillWanted()) return false;
          await profiling.ingest(pendingSchedules, []);
        }
        metrics.stacksIngested.inc(staged.count);
        return true;
      } finally {
        await staged.discard();
      }
    });
  },
});

/**
 * The OAP orders a stack's parts kernel first, then user, and reverses each part's symbols
 * into one list: the outermost user frame becomes the root, the innermost kernel frame the leaf.
 * (Built back to front in one array: this runs for every record of every upload.)
 */
const toFrames = (stacks: EBPFProfilingStackMetadata__Output[]): { frames: StackFrame[]; stackIdList: string } => {
  let kernel: EBPFProfilingStackMetadata__Output | undefined;
  let user: EBPFProfilingStackMetadata__Output | undefined;
  for (const stack of stacks) {
    if (stack.stackType === 'PROCESS_KERNEL_SPACE') kernel = stack;
    else if (stack.stackType === 'PROCESS_USER_SPACE') user = stack;
    else throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `unknown stack type "${String(stack.stackType)}"`);
  }
  const userSymbols = user?.stackSymbols ?? [];
  const kernelSymbols = kernel?.stackSymbols ?? [];
  const frames: StackFrame[] = new Array(userSymbols.length + kernelSymbols.length);
  let at = 0;
  for (let i = userSymbols.length - 1; i >= 0; i--) frames[at++] = { symbol: userSymbols[i]!, stackType: 'USER_SPACE' };
  for (let i = kernelSymbols.length - 1; i >= 0; i--)
    frames[at++] = { symbol: kernelSymbols[i]!, stackType: 'KERNEL_SPACE' };
  const stackIdList = kernel && user ? `${kernel.stackId}_${user.stackId}` : String((kernel ?? user)?.stackId ?? '');
  return { frames, stackIdList };
};

const toRecord = (
  message: EBPFProfilingData__Output,
  current: { taskId: string; scheduleId: string; uploadTime: number },
): ProfilingDataRecord => {
  const target = targetOfUpload(message.profiling);
  const uploaded = target?.upload?.read(message);
  if (!target || !uploaded) throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, 'the profiling data not set');
  const { frames, stackIdList } = toFrames(uploaded.stacks);
  return {
    scheduleId: current.scheduleId,
    taskId: current.taskId,
    stackIdList,
    targetType: target.type,
    uploadTime: current.uploadTime,
    frames,
    count: uploaded.count,
    duration: uploaded.duration,
  };
};
