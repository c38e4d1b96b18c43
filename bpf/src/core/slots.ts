// User half of progs/core/slots.h: the programs aggregate into slot control[0]; flipping it lets
// user space drain the other slot while the programs write to the new one.
import type { BpfMap } from '@swlite/libbpf-ts';
import { u32Key } from '../layout.js';

/** Flips the active slot of `control`; returns the slot that just became inactive (to drain). */
export function flipSlot(control: BpfMap): number {
  const cur = control.lookup(u32Key(0));
  const old = cur ? cur.readUInt32LE(0) & 1 : 0;
  control.update(u32Key(0), u32Key(old ^ 1));
  return old;
}
