import type { ProfilingTargetType } from '@swlite/protocol';
import type { Resolvers } from '@swlite/protocol/graphql';
import { GraphQLError } from 'graphql';
import { AnalysisAbortedError, AnalysisLimitError } from '../../analysis/analysis-budget';
import { durationToRange } from '../../core/duration';
import type { QueryContext } from '../context';
import { toProcess } from './metadata';

/** A task may start from 2000 on and up to a year ahead (the UI sends now, or -1 for now). */
const EARLIEST_TASK_START = 946_684_800_000;
const LATEST_TASK_START_AHEAD_MS = 366 * 86_400_000;

const taskStartProblem = (startTime: number): string | null => {
  if (startTime <= 0) return null;
  const latest = Date.now() + LATEST_TASK_START_AHEAD_MS;
  if (startTime >= EARLIEST_TASK_START && startTime <= latest) return null;
  return `startTime ${startTime} is not a time between 2000-01-01 and one year from now (epoch milliseconds, or -1 for now)`;
};

export const ebpfResolvers: Resolvers<QueryContext> = {
  Query: {
    queryPrepareCreateEBPFProfilingTaskData: (_p, { serviceId }, ctx) => ctx.profiling.prepareTaskCreation(serviceId),
    queryEBPFProfilingTasks: (_p, args, ctx) => {
      // As the OAP's resolver: tasks are listed per service or instance, never all at once.
      if (!args.serviceId && !args.serviceInstanceId)
        throw new GraphQLError('please provide the service id or instance id');
      return ctx.profiling.queryTasks({
        serviceId: args.serviceId,
        serviceInstanceId: args.serviceInstanceId,
        targets: args.targets as ProfilingTargetType[] | null | undefined,
        triggerType: args.triggerType,
        range: args.duration ? durationToRange(args.duration) : null,
      }) as never;
    },
    queryEBPFProfilingSchedules: async (_p, { taskId }, ctx) =>
      (await ctx.profiling.querySchedules(taskId)).map((s) => ({
        scheduleId: s.scheduleId,
        taskId: s.taskId,
        startTime: s.startTime,
        endTime: s.endTime,
        process: s.process
          ? toProcess(s.process)
          : {
              id: s.processId,
              name: '',
              serviceId: '',
              serviceName: '',
              instanceId: '',
              instanceName: '',
              agentId: '',
              detectType: '',
              attributes: [],
              labels: [],
            },
      })),
    analysisEBPFProfilingResult: async (_p, { scheduleIdList, timeRanges, aggregateType }, ctx) => {
      if (scheduleIdList.length > 1000) throw new GraphQLError('at most 1000 schedules can be analysed at once');
      const stop = ctx.metrics.analysisSeconds.startTimer();
      try {
        return await ctx.analysis.run((budget) =>
          ctx.profiling.analyze(scheduleIdList, timeRanges, aggregateType ?? 'COUNT', budget),
        );
      } catch (err) {
        if (err instanceof AnalysisLimitError) {
          ctx.metrics.analysesRefused.inc({ setting: err.setting });
          throw new GraphQLError(err.message, {
            extensions: { code: 'QUERY_LIMIT', setting: err.setting, limit: err.limit },
          });
        }
        if (err instanceof AnalysisAbortedError) {
          ctx.metrics.analysesRefused.inc({ setting: 'cancelled' });
          throw new GraphQLError(err.message, { extensions: { code: 'CANCELLED' } });
        }
        throw err;
      } finally {
        stop();
      }
    },
  },
  Mutation: {
    createEBPFNetworkProfiling: (_p, { request }, ctx) => ctx.network.create(request),
    keepEBPFNetworkProfiling: (_p, { taskId }, ctx) => ctx.network.keepAlive(taskId),
    createEBPFProfilingFixedTimeTask: (_p, { request }, ctx) => {
      const problem = taskStartProblem(request.startTime);
      if (problem) return { status: false, errorReason: problem, id: null };
      return ctx.profiling.createFixedTimeTask({
        serviceId: request.serviceId,
        processLabels: request.processLabels,
        startTime: request.startTime,
        duration: request.duration,
        targetType: request.targetType,
      });
    },
  },
};
