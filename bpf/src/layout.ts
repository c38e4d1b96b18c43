// Byte layouts of the maps shared with the BPF programs (mirror of include/profiling.h).
// layout.test.ts checks these numbers against the BTF of the built objects.

/** perf_event_max_stack: slots in one stack map value. */
export const PERF_MAX_STACK_DEPTH = 127;
export const SW_SLOTS = 2;
/** Stack ids with this bit live in the slot's secondary stack map (stacks_Nx). */
export const STACK_ID_SECONDARY = 1 << 30;

/** struct stack_key { u32 tgid; s32 user_stack_id; s32 kernel_stack_id; } */
export const STACK_KEY = { size: 12, tgid: 0, userStackId: 4, kernelStackId: 8 } as const;
/** struct offcpu_value { u64 count; u64 duration_ns; } */
export const OFFCPU_VALUE = { size: 16, count: 0, durationNs: 8 } as const;
/** struct offcpu_start { u64 ts_ns; u32 tgid; s32 user_stack_id; s32 kernel_stack_id; u32 slot; } */
export const OFFCPU_START = { size: 24, tsNs: 0, tgid: 8, userStackId: 12, kernelStackId: 16, slot: 20 } as const;
/** On-CPU aggregation value: u64 sample count. */
export const ONCPU_VALUE_SIZE = 8;

/** enum sw_counter: indexes of the per-CPU `counters` array. */
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
}
export const SW_COUNTER_COUNT = 10;

export interface StackKey {
  tgid: number;
  /** < 0: not captured */
  userStackId: number;
  /** < 0: not captured (or the sample was in user mode) */
  kernelStackId: number;
}

export function decodeStackKey(buf: Buffer, offset = 0): StackKey {
  return {
    tgid: buf.readUInt32LE(offset + STACK_KEY.tgid),
    userStackId: buf.readInt32LE(offset + STACK_KEY.userStackId),
    kernelStackId: buf.readInt32LE(offset + STACK_KEY.kernelStackId),
  };
}

export function encodeStackKey(k: StackKey): Buffer {
  const b = Buffer.alloc(STACK_KEY.size);
  b.writeUInt32LE(k.tgid, STACK_KEY.tgid);
  b.writeInt32LE(k.userStackId, STACK_KEY.userStackId);
  b.writeInt32LE(k.kernelStackId, STACK_KEY.kernelStackId);
  return b;
}

/** On-CPU maps (counts_N) use struct stack_key. */
export const decodeOnCpuKey = decodeStackKey;
/** Off-CPU maps (offcpu_N) use struct stack_key. */
export const decodeOffCpuKey = decodeStackKey;

/** counts_N value: samples. */
export function decodeOnCpuValue(buf: Buffer, offset = 0): number {
  return Number(buf.readBigUInt64LE(offset));
}

export interface OffCpuValue {
  count: number;
  durationNs: number;
}

export function decodeOffCpuValue(buf: Buffer, offset = 0): OffCpuValue {
  return {
    count: Number(buf.readBigUInt64LE(offset + OFFCPU_VALUE.count)),
    durationNs: Number(buf.readBigUInt64LE(offset + OFFCPU_VALUE.durationNs)),
  };
}

export interface OffCpuStart {
  tsNs: bigint;
  tgid: number;
  userStackId: number;
  kernelStackId: number;
  slot: number;
}

export function decodeOffCpuStart(buf: Buffer, offset = 0): OffCpuStart {
  return {
    tsNs: buf.readBigUInt64LE(offset + OFFCPU_START.tsNs),
    tgid: buf.readUInt32LE(offset + OFFCPU_START.tgid),
    userStackId: buf.readInt32LE(offset + OFFCPU_START.userStackId),
    kernelStackId: buf.readInt32LE(offset + OFFCPU_START.kernelStackId),
    slot: buf.readUInt32LE(offset + OFFCPU_START.slot),
  };
}

/** A u32 little-endian key (target_tgids, control, counters, stack ids). */
export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** struct stack_snapshot_hdr (snapshot mode ring buffer record header). */
export const SNAPSHOT_HDR = {
  size: 56,
  tsNs: 0,
  tgid: 8,
  tid: 12,
  ip: 16,
  sp: 24,
  bp: 32,
  kernelStackLen: 40,
  userStackLen: 44,
  userFpLen: 48,
} as const;
/** struct offcpu_interval (off-CPU snapshot mode: a thread switched in again). */
export const OFFCPU_INTERVAL = { size: 24, tsOut: 0, tgid: 8, tid: 12, durationNs: 16 } as const;
export const SNAPSHOT_MAX_USER_STACK = 32768;

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
}

export interface OffCpuInterval {
  /**
   * The tsNs of the snapshot holding this interval's stack: the switch-out's own, or the same
   * thread's previous one (same registers, kernel stack and top of the user stack).
   */
  tsOut: bigint;
  tgid: number;
  tid: number;
  durationNs: number;
}

/** Off-CPU snapshot ring buffer records: snapshots, and (shorter) intervals. */
export function decodeOffCpuInterval(rec: Buffer): OffCpuInterval {
  if (rec.length < OFFCPU_INTERVAL.size) throw new Error(`interval record too short: ${rec.length} bytes`);
  return {
    tsOut: rec.readBigUInt64LE(OFFCPU_INTERVAL.tsOut),
    tgid: rec.readUInt32LE(OFFCPU_INTERVAL.tgid),
    tid: rec.readUInt32LE(OFFCPU_INTERVAL.tid),
    durationNs: Number(rec.readBigUInt64LE(OFFCPU_INTERVAL.durationNs)),
  };
}

/**
 * Decodes one snapshot ring buffer record (header + kernel frames + FP user frames + user stack
 * bytes). The user stack bytes are a view into `rec` unless `copy` (default true).
 */
export function decodeStackSnapshot(rec: Buffer, copy = true): StackSnapshot {
  if (rec.length < SNAPSHOT_HDR.size) throw new Error(`snapshot record too short: ${rec.length} bytes`);
  const klen = rec.readUInt32LE(SNAPSHOT_HDR.kernelStackLen);
  const ulen = rec.readUInt32LE(SNAPSHOT_HDR.userStackLen);
  const flen = rec.readUInt32LE(SNAPSHOT_HDR.userFpLen);
  const kOff = SNAPSHOT_HDR.size;
  const fOff = kOff + klen * 8;
  const uOff = fOff + flen * 8;
  if (uOff + ulen > rec.length) throw new Error(`snapshot record truncated: ${rec.length} < ${uOff + ulen}`);
  const kernelStack: bigint[] = [];
  for (let i = 0; i < klen; i++) {
    const a = rec.readBigUInt64LE(kOff + i * 8);
    if (a === 0n) break;
    kernelStack.push(a);
  }
  const userFpStack: bigint[] = [];
  for (let i = 0; i < flen; i++) {
    const a = rec.readBigUInt64LE(fOff + i * 8);
    if (a === 0n) break;
    userFpStack.push(a);
  }
  const bytes = rec.subarray(uOff, uOff + ulen);
  return {
    tsNs: rec.readBigUInt64LE(SNAPSHOT_HDR.tsNs),
    tgid: rec.readUInt32LE(SNAPSHOT_HDR.tgid),
    tid: rec.readUInt32LE(SNAPSHOT_HDR.tid),
    regs: {
      ip: rec.readBigUInt64LE(SNAPSHOT_HDR.ip),
      sp: rec.readBigUInt64LE(SNAPSHOT_HDR.sp),
      bp: rec.readBigUInt64LE(SNAPSHOT_HDR.bp),
    },
    kernelStack,
    userStack: copy ? Buffer.from(bytes) : bytes,
    userFpStack,
  };
}
