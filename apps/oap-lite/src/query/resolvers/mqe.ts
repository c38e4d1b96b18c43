import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

/** MQE (execExpression) over the metrics oap-lite keeps; see services/mqe-service.ts. */
export const mqeResolvers: Resolvers<QueryContext> = {
  Query: {
    execExpression: (_p, { expression, entity, duration }, ctx) => ctx.mqe.execute(expression, entity, duration),
  },
};
