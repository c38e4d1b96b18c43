/** The executable query-protocol schema: our resolvers plus empty defaults for the rest. */
import { buildSkyWalkingSchema, typeDefs } from '@swlite/protocol';
import type { Resolvers } from '@swlite/protocol/graphql';
import { createSchema } from 'graphql-yoga';
import type { QueryContext } from './context';
import { applyEmptyDefaults } from './empty-defaults';
import { LongScalar } from './long-scalar';
import { appResolvers } from './resolvers/app';
import { ebpfResolvers } from './resolvers/ebpf';
import { metadataResolvers } from './resolvers/metadata';

export const mergeResolvers = (...parts: Array<Resolvers<QueryContext>>): Resolvers<QueryContext> => {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of parts) {
    for (const [typeName, fields] of Object.entries(part)) {
      merged[typeName] = { ...(merged[typeName] ?? {}), ...(fields as Record<string, unknown>) };
    }
  }
  return merged as Resolvers<QueryContext>;
};

export const buildExecutableSchema = (extra: Array<Resolvers<QueryContext>> = []) => {
  void buildSkyWalkingSchema; // the SDL is the protocol library's; this only adds behaviour.
  const resolvers = mergeResolvers(appResolvers, metadataResolvers, ebpfResolvers, ...extra);
  const schema = createSchema<QueryContext>({
    typeDefs,
    resolvers: { ...resolvers, Long: LongScalar } as never,
  });
  return applyEmptyDefaults(schema);
};
