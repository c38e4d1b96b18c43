// The user-space side of the stack_bytes map of progs/core/snapshot.h: per process, the bytes of
// user stack its snapshots copy (user_stack_bytes caps it and applies to processes not in it).
import type { BpfMap } from '@swlite/libbpf-ts';
import { u32Key } from '../layout.js';

/** Sets the bytes copied for tgid's snapshots, or with undefined returns it to the default. */
export function writeStackBytes(map: BpfMap | undefined, tgid: number, bytes: number | undefined): void {
  if (!map) return;
  if (bytes === undefined) {
    map.delete(u32Key(tgid));
    return;
  }
  const v = Buffer.alloc(4);
  v.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.floor(bytes))));
  map.update(u32Key(tgid), v);
}
