/**
 * EBPFProfilingService: rovers poll for tasks and stream profiling data. An upload stream is staged
 * with bounded memory (upload-staging.ts) and stored only once it completed: a stream that the
 * client cancels, that breaks half-way, or that carries a malformed message stores nothing. A
 * stored record is keyed by (schedule, stack ids, upload time) as in the OAP, so an agent that
 * resends a batch it got no answer for (rover's upload queue) replaces it, never counts it twice.
 * A message for a task this server does not know (deleted, or never
 * created here) is skipped and counted, as the OAP does: rover sends every task of a flush in
 * one stream, and one stale task must not cost the others their data. The stream is bounded so
 * a runaway agent cannot exhaust memory, and every value is checked against its budget.
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
import { StagedRecords, StagingMemory } from './upload-staging';
import { quote, type InputLimits } from './input-limits';

export const MAX_RECORDS_PER_STREAM = 1_000_000;

interface Current {
  taskId: string;
  scheduleId: string;
  uploadTime: number;
}

/** What one stream carries for one task (its records are staged with the stream's). */
interface TaskUpload {
  schedules: Map<string, ScheduleRecord>;
  records: number;
}

export const profilingHandlers = (
  profiling: ProfilingService,
  metrics: Metrics,
  log: Logger,
  limits: InputLimits,
  staging: UploadStaging,
  memory = new StagingMemory(staging.memoryBytes),
): EBPFProfilingServiceHandlers => ({
  queryTasks: (call, callback) => {
    let agentId;
    try {
      agentId = limits.string(call.request.roverInstanceId, 'roverInstanceId');
    } catch (err) {
      callback(toServiceError(err));
      return;
    }
    profiling
      .commandsForAgent(agentId, call.request.latestUpdateTime)
      .then((commands) => callback(null, { commands }))
      .catch((err) => callback(toServiceError(err)));
  },

  collectProfilingData: (call, callback) => {
    const uploads = new Map<string, TaskUpload>();
    const staged = new StagedRecords<ProfilingDataRecord>(staging, call, memory, recordBytes);
    let current: Current | null = null;
    const life = uploadLife(call, callback, log, 'eBPF profiling upload', {
      rejected: () => metrics.profilingStreamsRejected.inc(),
      discard: () => void staged.discard(),
    });

    call.on('data', (message: EBPFProfilingData__Output) => {
      if (!life.receiving) return;
      try {
        if (message.task || !current) current = startTask(message, uploads, limits);
        staged.push(toRecord(message, current, limits));
        uploads.get(current.taskId)!.records++;
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
        const schedules: ScheduleRecord[] = [];
        const skipped = new Set<string>();
        for (const [taskId, upload] of uploads) {
          if (await profiling.knownTask(taskId)) {
            schedules.push(...upload.schedules.values());
            continue;
          }
          skipped.add(taskId);
          metrics.profilingMessagesSkipped.inc({ reason: 'unknown_task' }, upload.records);
          log.warn(
            { taskId: quote(taskId), messages: upload.records },
            'skipped profiling data for an unknown eBPF profiling task; the rest of the stream is kept',
          );
        }
        // Past the first write a cancellation no longer stops the commit: what is written is
        // keyed by (schedule, stack ids, upload time), so the agent's retry replaces it, and
        // finishing beats leaving a part for an agent that does not retry.
        let pendingSchedules: ScheduleRecord[] | null = schedules;
        let stored = 0;
        for await (const chunk of staged.chunks(staging.commitRecords)) {
          const records = skipped.size === 0 ? chunk : chunk.filter((r) => !skipped.has(r.taskId));
          if (records.length === 0) continue;
          if (pendingSchedules && !stillWanted()) return false;
          await profiling.ingest(pendingSchedules ?? [], records);
          pendingSchedules = null;
          stored += records.length;
        }
        if (pendingSchedules) {
          if (!stillWanted()) return false;
          await profiling.ingest(pendingSchedules, []);
        }
        metrics.stacksIngested.inc(stored);
        return true;
      } finally {
        await staged.discard();
      }
    });
  },
});

/**
 * About what a staged record holds in memory: the record, and per frame an array slot, an object
 * and its symbol string (headers included).
 */
const recordBytes = (r: ProfilingDataRecord): number => {
  let bytes = 160 + r.stackIdList.length;
  for (const f of r.frames) bytes += 64 + f.symbol.length;
  return bytes;
};

/** Reads a message's task metadata: the stream's current task and schedule from here on. */
const startTask = (
  message: EBPFProfilingData__Output,
  uploads: Map<string, TaskUpload>,
  limits: InputLimits,
): Current => {
  const task = message.task;
  if (!task || !task.taskId || !task.processId) {
    throw new GrpcStatusError(
      grpc.status.INVALID_ARGUMENT,
      'the first message of a stream must carry task metadata with taskId and processId',
    );
  }
  const taskId = limits.string(task.taskId, 'task.taskId');
  const processId = limits.string(task.processId, 'task.processId');
  const startTime = limits.timestamp(task.profilingStartTime, 'task.profilingStartTime');
  const currentTime = limits.timestamp(task.currentTime, 'task.currentTime');
  const schedule = newSchedule(taskId, processId, startTime, currentTime);
  let upload = uploads.get(taskId);
  if (!upload) {
    upload = { schedules: new Map(), records: 0 };
    uploads.set(taskId, upload);
  }
  const known = upload.schedules.get(schedule.scheduleId);
  if (known) known.endTime = Math.max(known.endTime, schedule.endTime);
  else upload.schedules.set(schedule.scheduleId, schedule);
  return { taskId, scheduleId: schedule.scheduleId, uploadTime: currentTime };
};

/**
 * The OAP orders a stack's parts kernel first, then user, and reverses each part's symbols
 * into one list: the outermost user frame becomes the root, the innermost kernel frame the leaf.
 * (Built back to front in one array: this runs for every record of every upload.)
 */
const toFrames = (
  stacks: EBPFProfilingStackMetadata__Output[],
  limits: InputLimits,
): { frames: StackFrame[]; stackIdList: string } => {
  let kernel: EBPFProfilingStackMetadata__Output | undefined;
  let user: EBPFProfilingStackMetadata__Output | undefined;
  for (const stack of stacks) {
    if (stack.stackType === 'PROCESS_KERNEL_SPACE') kernel = stack;
    else if (stack.stackType === 'PROCESS_USER_SPACE') user = stack;
    else throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `unknown stack type ${quote(stack.stackType)}`);
  }
  const userSymbols = user?.stackSymbols ?? [];
  const kernelSymbols = kernel?.stackSymbols ?? [];
  limits.stackSymbols(userSymbols.length, 'the user stack');
  limits.stackSymbols(kernelSymbols.length, 'the kernel stack');
  const frames: StackFrame[] = new Array(userSymbols.length + kernelSymbols.length);
  let at = 0;
  for (let i = userSymbols.length - 1; i >= 0; i--)
    frames[at++] = { symbol: limits.symbol(userSymbols[i]!), stackType: 'USER_SPACE' };
  for (let i = kernelSymbols.length - 1; i >= 0; i--)
    frames[at++] = { symbol: limits.symbol(kernelSymbols[i]!), stackType: 'KERNEL_SPACE' };
  const stackIdList = kernel && user ? `${kernel.stackId}_${user.stackId}` : String((kernel ?? user)?.stackId ?? '');
  return { frames, stackIdList };
};

const toRecord = (message: EBPFProfilingData__Output, current: Current, limits: InputLimits): ProfilingDataRecord => {
  const target = targetOfUpload(message.profiling);
  const uploaded = target?.upload?.read(message);
  if (!target || !uploaded) throw new GrpcStatusError(grpc.status.INVALID_ARGUMENT, 'the profiling data not set');
  const { frames, stackIdList } = toFrames(uploaded.stacks, limits);
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
