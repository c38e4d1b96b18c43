import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

/** Network profiling: task creation and keep-alive (services/network-task-service.ts). */
export const networkResolvers: Resolvers<QueryContext> = {
  Mutation: {
    createEBPFNetworkProfiling: (_p, { request }, ctx) =>
      ctx.networkTasks.create({ instanceId: request.instanceId, samplings: request.samplings }),
    keepEBPFNetworkProfiling: (_p, { taskId }, ctx) => ctx.networkTasks.keep(taskId),
  },
};
