import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

export const continuousResolvers: Resolvers<QueryContext> = {
  Query: {
    queryContinuousProfilingServiceTargets: (_p, { serviceId }, ctx) => ctx.continuous.queryServiceTargets(serviceId),
    queryContinuousProfilingMonitoringInstances: (_p, { serviceId, target }, ctx) =>
      ctx.continuous.queryMonitoringInstances(serviceId, target),
  },
  Mutation: {
    setContinuousProfilingPolicy: (_p, { request }, ctx) =>
      ctx.continuous.setPolicy({
        serviceId: request.serviceId,
        targets: request.targets.map((t) => ({
          targetType: t.targetType,
          checkItems: t.checkItems.map((i) => ({
            type: i.type,
            threshold: i.threshold,
            period: i.period,
            count: i.count,
            uriList: i.uriList ?? null,
            uriRegex: i.uriRegex ?? null,
          })),
        })),
      }),
  },
};
