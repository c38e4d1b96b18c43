// @swlite/libbpf-ts: a typed binding to the system libbpf (N-API addon in ../native).
export { BpfObject, closeAllObjects, liveResources, writeGlobal } from './object.js';
export type { OpenOptions, GlobalValue, GlobalVar } from './object.js';
export { BpfProgram, ensureTracefs, DEFAULT_PERF_PERIOD_NS } from './program.js';
export type { PerfEventAttachOptions, UprobeAttachOptions } from './program.js';
export { BpfMap } from './map.js';
export type { MapInfo, BatchResult } from './map.js';
export { Link, LinkGroup, destroyAll, destroyAllInBackground } from './link.js';
export type { Detachable } from './link.js';
export { RingBuffer } from './ringbuf.js';
export type { RingBufferOptions } from './ringbuf.js';
export {
  BpfError,
  checkBpfCapabilities,
  errnoName,
  hintFor,
  permissionProblem,
  VMLINUX_BTF,
  type CapabilityCheck,
} from './errors.js';
export { setLibbpfLogger, setLibbpfLogLevel, getLibbpfLogLevel, stderrLogger } from './log.js';
export type { LibbpfLogger, LibbpfLogLevel } from './log.js';
export { parseCpuList, onlineCpus, possibleCpus } from './cpus.js';
export * from './constants.js';
export { native, addonCandidates } from './native.js';
export { releaseFreeMemory } from './memory.js';
export type { NativeBinding } from './native.js';
export { bpfAvailable } from './probe.js';
export type { BpfAvailability } from './probe.js';
