import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

/**
 * Network profiling reads (task creation and keep-alive are in ebpf.ts): the process topology,
 * the sampled-trace records and the trace view of their attached request/response events
 * (services/network-query-service.ts).
 */
export const networkResolvers: Resolvers<QueryContext> = {
  Query: {
    getProcessTopology: (_p, { serviceInstanceId, duration }, ctx) =>
      ctx.networkQuery.processTopology(serviceInstanceId, duration) as never,
    readRecords: (_p, { condition, duration }, ctx) => ctx.networkQuery.readRecords(condition, duration),
    queryTrace: (_p, { traceId }, ctx) => ctx.networkQuery.traceWithAttachedEvents(traceId) as never,
  },
};
