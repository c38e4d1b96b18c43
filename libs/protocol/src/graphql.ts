// The SkyWalking-compatible query-protocol schema served by oap-lite.
// The SDL lives in libs/protocol/graphql/*.graphqls; `npm run build` in libs/protocol turns it
// into src/generated/graphql/ (a string constant and graphql-codegen types), so nothing here
// reads files at run time.
import { buildSchema, type GraphQLSchema } from 'graphql';
import { typeDefs as generatedTypeDefs } from './generated/graphql/typeDefs';

/** The whole query-protocol SDL (all feature files, common first) as one string. */
export const typeDefs: string = generatedTypeDefs;

let schema: GraphQLSchema | undefined;

/**
 * The executable-less graphql-js schema built from {@link typeDefs}; built once and memoized.
 * Servers attach resolvers typed with `Resolvers<TheirContext>` (see the generated types).
 */
export function buildSkyWalkingSchema(): GraphQLSchema {
  schema ??= buildSchema(typeDefs);
  return schema;
}

export type * from './generated/graphql/types';
