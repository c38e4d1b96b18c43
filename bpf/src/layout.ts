// The structs of include/profiling.h, described once (c-layout.ts computes the offsets);
// layout.test.ts checks each description against the BTF of the built objects.
import { cStruct, s32, u32, u64, type CType } from './c-layout.js';
import { cEnum } from './c-enum.js';
import { decodePyFrames, PY_FRAME, type PyFrameRef } from './python/layout.js';
import type { PythonFrame } from './python/codes.js';

/** perf_event_max_stack: slots in one stack map value. */
export const PERF_MAX_STACK_DEPTH = 127;
export const SW_SLOTS = 2;
/** Stack ids with this bit live in the slot's secondary stack map (stacks_Nx). */
export const STACK_ID_SECONDARY = 1 << 30;
export const SNAPSHOT_MAX_USER_STACK = 32768;

/** Key of the aggregation maps; a negative stack id means "not captured". */
export const STACK_KEY = cStruct('stack_key', { tgid: u32, userStackId: s32, kernelStackId: s32 });
/** Value of the off-CPU aggregation maps. */
export const OFFCPU_VALUE = cStruct('offcpu_value', { count: u64, durationNs: u64 });
/** Off-CPU: a switched-out target thread (map `starts`, keyed by thread id). */
export const OFFCPU_START = cStruct('offcpu_start', { tsNs: u64, key: STACK_KEY, slot: u32 });
/** Off-CPU with snapshots: a switched-out target thread (map `starts`, keyed by thread id). */
export const SNAP_START = cStruct('snap_start', { tsNs: u64, snapTs: u64, tgid: u32, pad: u32 });
/** On-CPU aggregation value: the sample count. */
export const ONCPU_VALUE: CType<bigint> = u64;
export const ONCPU_VALUE_SIZE = ONCPU_VALUE.size;
/** A stack map value: PERF_MAX_STACK_DEPTH addresses. */
export const STACK_TRACE: CType<Buffer> = {
  cName: `__u64[${PERF_MAX_STACK_DEPTH}]`,
  size: PERF_MAX_STACK_DEPTH * 8,
  align: 8,
  read: (b, o) => b.subarray(o, o + PERF_MAX_STACK_DEPTH * 8),
  write: (b, o, v) => void v.copy(b, o),
};
/** Snapshot ring buffer record header; kernel frames, FP user frames, stack bytes and Python
 * frames follow. */
export const SNAPSHOT_HDR = cStruct('stack_snapshot_hdr', {
  tsNs: u64,
  tgid: u32,
  tid: u32,
  ip: u64,
  sp: u64,
  bp: u64,
  kernelStackLen: u32,
  userStackLen: u32,
  userFpLen: u32,
  pyFramesLen: u32,
});
/** Off-CPU snapshot mode: snapshots each thread may reuse (SNAP_HISTORY in include/profiling.h). */
export const SNAP_HISTORY = 4;
/** Off-CPU snapshot mode: key of the interval aggregation maps (snap_intervals_N, value OFFCPU_VALUE). */
export const OFFCPU_SNAP_KEY = cStruct('offcpu_snap_key', { tsOut: u64, tgid: u32, tid: u32 });

/** enum sw_counter: indexes of the per-CPU `counters` array of the profiling objects. */
export enum SwCounter {
  Samples = 0,
  AggFull = 1,
  UserStackErr = 2,
  KernelStackErr = 3,
  StackCollision = 4,
  StartFull = 5,
  SwitchIn = 6,
  RingBufferFull = 7,
  StackSecondary = 8,
  /** Off-CPU snapshot mode: switch-outs that reused the thread's previous snapshot. */
  SnapshotReused = 9,
  /** Python frame walks cut short: a frame or code object unreadable, or not a code object. */
  PyInvalid = 10,
}
export const SW_COUNTER = cEnum('sw_counter', 'SW_CNT_', SwCounter);
export const SW_COUNTER_COUNT = SW_COUNTER.count;

export type StackKey = ReturnType<typeof STACK_KEY.decode>;

export const decodeStackKey = (buf: Buffer, offset = 0): StackKey => STACK_KEY.decode(buf, offset);
export const encodeStackKey = (k: StackKey): Buffer => STACK_KEY.encode(k);
/** On-CPU maps (counts_N) use struct stack_key. */
export const decodeOnCpuKey = decodeStackKey;
/** Off-CPU maps (offcpu_N) use struct stack_key. */
export const decodeOffCpuKey = decodeStackKey;

/** counts_N value: samples. */
export const decodeOnCpuValue = (buf: Buffer, offset = 0): number => Number(ONCPU_VALUE.read(buf, offset));

export interface OffCpuValue {
  count: number;
  durationNs: number;
}

export function decodeOffCpuValue(buf: Buffer, offset = 0): OffCpuValue {
  const v = OFFCPU_VALUE.decode(buf, offset);
  return { count: Number(v.count), durationNs: Number(v.durationNs) };
}

export type OffCpuStart = ReturnType<typeof OFFCPU_START.decode>;

export const decodeOffCpuStart = (buf: Buffer, offset = 0): OffCpuStart => OFFCPU_START.decode(buf, offset);

/** A u32 little-endian key (target_tgids, control, counters, stack ids). */
export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export interface StackSnapshot {
  tsNs: bigint;
  tgid: number;
  tid: number;
  /** User-mode registers at the sample. */
  regs: { ip: bigint; sp: bigint; bp: bigint };
  /** Kernel frames, leaf first (empty when the sample was in user mode). */
  kernelStack: bigint[];
  /** Copy of user stack memory starting at regs.sp (length may be below the configured size). */
  userStack: Buffer;
  /**
   * The kernel's frame-pointer walk of the user stack (leaf first), when the program was asked
   * for it (collect_user_fp); else empty.
   */
  userFpStack: bigint[];
  /** The thread's Python frames as the kernel recorded them (innermost first; empty if none). */
  pyFrames: PyFrameRef[];
  /** The same, named (set by the profiler that decoded the record). */
  python?: PythonFrame[];
}

/** Off-CPU snapshot mode: the intervals of one snapshot aggregated in the kernel since the last read. */
export interface OffCpuIntervals {
  /**
   * The tsNs of the snapshot holding these intervals' stack: the switch-out's own, or the same
   * thread's previous one (same registers, kernel stack and top of the user stack).
   */
  tsOut: bigint;
  tgid: number;
  tid: number;
  /** Switches out (completed intervals). */
  count: number;
  /** Time off CPU, summed (ns). */
  durationNs: number;
}

/** Entry i of a batch read of the snap_intervals maps. */
export function decodeOffCpuIntervals(keys: Buffer, values: Buffer, i: number): OffCpuIntervals {
  const k = OFFCPU_SNAP_KEY.decode(keys, i * OFFCPU_SNAP_KEY.size);
  const v = decodeOffCpuValue(values, i * OFFCPU_VALUE.size);
  return { tsOut: k.tsOut, tgid: k.tgid, tid: k.tid, count: v.count, durationNs: v.durationNs };
}

/** Addresses until the first zero (stack arrays are zero-terminated when shorter than asked). */
function addresses(rec: Buffer, offset: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const a = rec.readBigUInt64LE(offset + i * 8);
    if (a === 0n) break;
    out.push(a);
  }
  return out;
}

/**
 * Decodes one snapshot ring buffer record (header + kernel frames + FP user frames + user stack
 * bytes + Python frames). The user stack bytes are a view into `rec` unless `copy` (default true).
 */
export function decodeStackSnapshot(rec: Buffer, copy = true): StackSnapshot {
  if (rec.length < SNAPSHOT_HDR.size) throw new Error(`snapshot record too short: ${rec.length} bytes`);
  const h = SNAPSHOT_HDR.decode(rec);
  const kOff = SNAPSHOT_HDR.size;
  const fOff = kOff + h.kernelStackLen * 8;
  const uOff = fOff + h.userFpLen * 8;
  const pOff = uOff + h.userStackLen;
  const end = pOff + h.pyFramesLen * PY_FRAME.size;
  if (end > rec.length) throw new Error(`snapshot record truncated: ${rec.length} < ${end}`);
  const bytes = rec.subarray(uOff, uOff + h.userStackLen);
  return {
    tsNs: h.tsNs,
    tgid: h.tgid,
    tid: h.tid,
    regs: { ip: h.ip, sp: h.sp, bp: h.bp },
    kernelStack: addresses(rec, kOff, h.kernelStackLen),
    userStack: copy ? Buffer.from(bytes) : bytes,
    userFpStack: addresses(rec, fOff, h.userFpLen),
    pyFrames: decodePyFrames(rec, pOff, h.pyFramesLen),
  };
}
