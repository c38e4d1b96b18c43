// The user-space side of progs/core/snapshot.h for both snapshot objects: its knobs and the
// sizes of its maps, from a profiler's start options.
import type { RingBufferOptions } from '@swlite/libbpf-ts';
import { SNAPSHOT_MAX_USER_STACK } from '../layout.js';
import { possibleCpus } from '../paths.js';

export interface SnapshotCaptureOptions {
  /** Bytes of user stack copied per snapshot (default 8192, max 32768). */
  userStackBytes?: number;
  /** Collect kernel stacks (default true). */
  kernelStacks?: boolean;
  /** Also record the kernel's frame-pointer walk of the user stack (default false). */
  userFpStacks?: boolean;
}

export function snapshotLoadOptions(opts: SnapshotCaptureOptions, ringBytes: number) {
  return {
    rodata: {
      user_stack_bytes: Math.min(SNAPSHOT_MAX_USER_STACK, opts.userStackBytes ?? 8192),
      collect_kernel: opts.kernelStacks === false ? 0 : 1,
      collect_user_fp: opts.userFpStacks ? 1 : 0,
    },
    // The scratch array is indexed by CPU id.
    maxEntries: { snapshots: ringBytes, scratch: possibleCpus() },
  };
}

/** Default bound of the snapshot rings' drainer queue (SnapshotRingOptions.drainerBytes). */
export const DEFAULT_DRAINER_BYTES = 16 << 20;

export interface SnapshotRingOptions {
  /**
   * A native thread empties the snapshot ring into a queue of at most this many bytes between
   * polls (default 16 MiB; 0: none), so that a busy event loop (a cold symbolization, a long
   * flush) does not let the kernel's ring fill and drop snapshots. Only a backlog uses memory.
   */
  drainerBytes?: number;
}

/** The ring buffer options of a snapshot ring polled every `intervalMs`. */
export function snapshotRingOptions(opts: SnapshotRingOptions, intervalMs: number): RingBufferOptions {
  const bytes = opts.drainerBytes ?? DEFAULT_DRAINER_BYTES;
  return { intervalMs, borrow: true, ...(bytes > 0 ? { drainer: { maxBytes: bytes } } : {}) };
}
