/**
 * Helpers shared by the tests and benchmarks of several packages. Programs under test (oap-lite,
 * rover) are started as child processes or passed in, never imported: this library sits beside
 * the other libs, below bpf and the apps.
 */
export * from './agent-client';
export * from './continuous';
export * from './fidelity';
export * from './flows';
export * from './graphql-client';
export * from './network';
export * from './paths';
export * from './processes';
export * from './tls';
export * from './workload';
export * from './proc-meter';
export * from './ui-documents';
export * from './grpc-relay';
export * from './nginx';
