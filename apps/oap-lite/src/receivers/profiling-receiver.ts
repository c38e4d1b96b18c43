/**
 * EBPFProfilingService: rovers poll for tasks and stream profiling data. One upload stream is
 * stored atomically when it completes: a stream that breaks half-way, or carries a bad message,
 * stores nothing. The stream is bounded so a runaway agent cannot exhaust memory.
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

export const MAX_RECORDS_PER_STREAM = 1_000_000;

export const profilingHandlers = (
  profiling: ProfilingService,
  metrics: Metrics,
  log: Logger,
): EBPFProfilingServiceHandlers => ({
  queryTasks: (call, callback) => {
    profiling
      .commandsForAgent(call.request.roverInstanceId, call.request.latestUpdateTime)
      .then((commands) => callback(null, { commands }))
      .catch((err) => callback(toServiceError(err)));
  },

  collectProfilingData: (call, callback) => {
    const schedules = new Map<string, ScheduleRecord>();
    const records: ProfilingDataRecord[] = [];
    const checkedTasks = new Map<string, Promise<boolean>>();
    let current: { taskId: string; scheduleId: string; uploadTime: number } | null = null;
    let failed: grpc.ServiceError | null = null;

    const fail = (err: unknown) => {
      if (failed) return;
      failed = toServiceError(err);
      metrics.profilingStreamsRejected.inc();
      log.warn({ err: failed.message }, 'rejected an eBPF profiling upload stream');
      callback(failed);
    };

    call.on('data', (message: EBPFProfilingData__Output) => {
      if (failed) return;
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
        records.push(toRecord(message, current));
        if (records.length > MAX_RECORDS_PER_STREAM) {
          throw new GrpcStatusError(
            grpc.status.RESOURCE_EXHAUSTED,
            `more than ${MAX_RECORDS_PER_STREAM} stacks in one upload stream; split the upload`,
          );
        }
      } catch (err) {
        fail(err);
        call.destroy();
      }
    });

    call.on('error', (err) => {
      // The client cancelled or the connection broke: nothing of this stream is kept.
      if (!failed) log.debug({ err: err.message }, 'eBPF profiling upload stream broke; discarded');
      failed ??= toServiceError(err);
    });

    call.on('end', () => {
      if (failed) return;
      void (async () => {
        for (const [taskId, check] of checkedTasks) {
          if (!(await check))
            throw new GrpcStatusError(grpc.status.NOT_FOUND, `unknown eBPF profiling task "${taskId}"`);
        }
        await profiling.ingest([...schedules.values()], records);
        metrics.stacksIngested.inc(records.length);
        callback(null, { commands: [] });
      })().catch(fail);
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
