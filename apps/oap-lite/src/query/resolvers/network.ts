import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

/**
 * Network profiling: task creation and keep-alive (services/network-task-service.ts), the process
 * topology and the sampled-trace records (services/network-query-service.ts).
 */
export const networkResolvers: Resolvers<QueryContext> = {
  Query: {
    getProcessTopology: (_p, { serviceInstanceId, duration }, ctx) =>
      ctx.network.processTopology(serviceInstanceId, duration) as never,
    readRecords: (_p, { condition, duration }, ctx) => ctx.network.readRecords(condition, duration),
  },
  Mutation: {
    createEBPFNetworkProfiling: (_p, { request }, ctx) =>
      ctx.networkTasks.create({ instanceId: request.instanceId, samplings: request.samplings }),
    keepEBPFNetworkProfiling: (_p, { taskId }, ctx) => ctx.networkTasks.keep(taskId),
  },
};
