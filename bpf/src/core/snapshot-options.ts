// The user-space side of progs/core/snapshot.h for both snapshot objects: its knobs and the
// sizes of its maps, from a profiler's start options.
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
