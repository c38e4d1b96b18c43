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
export { DEFAULT_MAX_THREAD_EVENTS, PerfSampler, samplingFrom } from './perf-sampler.js';
export type { SamplingScope, Sampling, ScopeOptions } from './perf-sampler.js';
export type { TargetScope } from './core/targets.js';
export { OffCpuSnapshotProfiler } from './offcpu-snapshot.js';
export type { SchedSwitchMode } from './core/sched-switch.js';
export type {
  OffCpuSnapshotOptions,
  OffCpuSnapshotStartOptions,
  OffCpuSnapshotLost,
  OffCpuSnapshotPoll,
} from './offcpu-snapshot.js';
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
  NetRole,
  NET_SYSCALLS,
  TLS_FUNCTIONS,
  TLS_REQUIRED_FUNCTIONS,
} from './network.js';
export type {
  NetworkObserverOptions,
  NetworkObserverStats,
  ConnectionTotals,
  ConnStats,
  HttpBucketBounds,
  KernelMeters,
  HttpTotals,
  NetAddress,
  NetRecord,
  NetOpenRecord,
  NetCloseRecord,
  NetDataRecord,
  TlsFunction,
} from './network.js';
export { splicePythonFrames } from './python/splice.js';
export { pythonFrameName } from './python/codes.js';
export type { PythonFrame } from './python/codes.js';
export { findPythonRuntime } from './python/process.js';
export type { PythonRuntime, RefusedPython } from './python/process.js';
export type { PythonTracerOptions, PythonDetection } from './python/tracer.js';
export { PYTHON_LAYOUTS, layoutFor } from './python/versions.js';
export type { PyFrameRef } from './python/layout.js';
