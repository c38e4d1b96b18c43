// @swlite/bpf: the CO-RE profiling programs (built into dist/*.bpf.o by the Makefile), their map
// layouts, and typed profilers over @swlite/libbpf-ts.
export * from './layout.js';
export * from './paths.js';
export { OnCpuProfiler, OffCpuProfiler, zeroLost } from './profiler.js';
export type {
  ProfiledStack,
  LostCounters,
  DrainResult,
  ProfilerOptions,
  OnCpuStartOptions,
  OffCpuStartOptions,
} from './profiler.js';
export { StackSnapshotProfiler, onCpuRingBytes } from './snapshot.js';
export type { SnapshotProfilerOptions, SnapshotStartOptions, SnapshotLost } from './snapshot.js';
export { PerfSampler, samplingFrom } from './perf-sampler.js';
export type { SamplingScope, Sampling } from './perf-sampler.js';
export { OffCpuSnapshotProfiler } from './offcpu-snapshot.js';
export type { SchedSwitchMode } from './core/sched-switch.js';
export type { OffCpuSnapshotOptions, OffCpuSnapshotStartOptions, OffCpuSnapshotLost } from './offcpu-snapshot.js';
export {
  HttpObserver,
  HttpExchangeAssembler,
  parseRequestLine,
  parseStatusLine,
  decodeHttpRecord,
  httpObserveObjectExists,
} from './http-observer.js';
export type { HttpExchange, HttpRecord, HttpObserverOptions, HttpObserverStats } from './http-observer.js';
export {
  NetworkObserver,
  networkObjectExists,
  networkTracepoints,
  decodeNetRecord,
  NET_CAPTURE,
  NET_SYSCALLS,
  TLS_FUNCTIONS,
  TLS_REQUIRED_FUNCTIONS,
} from './network.js';
export type {
  NetworkObserverOptions,
  NetworkObserverStats,
  ConnectionTotals,
  ConnStats,
  NetAddress,
  NetRecord,
  NetOpenRecord,
  NetCloseRecord,
  NetDataRecord,
  TlsFunction,
} from './network.js';
