export * from './grpc';
// The GraphQL types share a few names with gRPC messages (Instant, DetectPoint, ...), so they
// live under the `gql` namespace; import '@swlite/protocol/graphql' for them unprefixed.
export { typeDefs, buildSkyWalkingSchema } from './graphql';
export type * as gql from './graphql';
export * from './targets';
