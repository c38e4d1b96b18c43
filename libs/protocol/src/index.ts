export * from './grpc';
export * from './graphql';
