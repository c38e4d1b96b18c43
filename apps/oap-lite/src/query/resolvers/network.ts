import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

/**
 * Network profiling: task creation and keep-alive (services/network-task-service.ts), the process
 * topology, the sampled-trace records and the trace view of their attached request/response
 * events (services/network-query-service.ts).
 */
export const networkResolvers: Resolvers<QueryContext> = {
  Query: {
    getProcessTopology: (_p, { serviceInstanceId, duration }, ctx) =>
      ctx.network.processTopology(serviceInstanceId, duration) as never,
    readRecords: (_p, { condition, duration }, ctx) => ctx.network.readRecords(condition, duration),
    queryTrace: (_p, { traceId }, ctx) => ctx.network.traceWithAttachedEvents(traceId) as never,
  },
  Mutation: {
    createEBPFNetworkProfiling: (_p, { request }, ctx) =>
      ctx.networkTasks.create({ instanceId: request.instanceId, samplings: request.samplings }),
    keepEBPFNetworkProfiling: (_p, { taskId }, ctx) => ctx.networkTasks.keep(taskId),
  },
};
