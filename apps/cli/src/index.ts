export * from './render/index';
export { OapClient, graphqlEndpoint, DEFAULT_OAP } from './client';
export { OapApi, minuteDuration } from './api';
export type { AggregateType, Service, Instance, Process, Task, Schedule, Analysis } from './api';
export { TARGET_VIEWS, type TargetView } from './targets';
export { UserError } from './errors';
export { writeProfileFiles, OUTPUT_FILES, type WrittenFile, type ProfileMeta } from './output';
export { buildProgram, runCli } from './cli';
