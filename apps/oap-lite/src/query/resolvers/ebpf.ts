import type { Resolvers } from '@swlite/protocol/graphql';
import { GraphQLError } from 'graphql';
import { durationToRange } from '../../core/duration';
import type { TargetType } from '../../storage/types';
import type { QueryContext } from '../context';
import { toProcess } from './metadata';

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
        targets: args.targets as TargetType[] | null | undefined,
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
        return await ctx.profiling.analyze(scheduleIdList, timeRanges, aggregateType ?? 'COUNT');
      } finally {
        stop();
      }
    },
  },
  Mutation: {
    createEBPFNetworkProfiling: (_p, { request }, ctx) => ctx.network.create(request),
    keepEBPFNetworkProfiling: (_p, { taskId }, ctx) => ctx.network.keepAlive(taskId),
    createEBPFProfilingFixedTimeTask: (_p, { request }, ctx) =>
      ctx.profiling.createFixedTimeTask({
        serviceId: request.serviceId,
        processLabels: request.processLabels,
        startTime: request.startTime,
        duration: request.duration,
        targetType: request.targetType,
      }),
  },
};
