// The processes an object observes, each with its sampling scope: kept here while stopped,
// mirrored into the object's `target_tgids` map (progs/core/core.h) while it runs.
import type { BpfMap } from '@swlite/libbpf-ts';
import { u32Key } from '../layout.js';

/** Which sampling events count a process (TARGET_SCOPE_* in progs/core/core.h). */
export type TargetScope = 'cpu' | 'thread';
const SCOPE_VALUE: Record<TargetScope, Buffer> = { cpu: Buffer.from([1]), thread: Buffer.from([2]) };

export class TargetTable {
  /** tgid -> scope; programs that do not sample only look for the tgid. */
  readonly #tgids = new Map<number, TargetScope>();
  #map: BpfMap | undefined;

  get tgids(): number[] {
    return [...this.#tgids.keys()];
  }

  has(tgid: number): boolean {
    return this.#tgids.has(tgid);
  }

  scope(tgid: number): TargetScope | undefined {
    return this.#tgids.get(tgid);
  }

  /** Adds `tgid` (sampled by the per-CPU events until setScope says otherwise); false when it was already there. */
  add(tgid: number): boolean {
    if (this.#tgids.has(tgid)) return false;
    this.#tgids.set(tgid, 'cpu');
    this.#map?.update(u32Key(tgid), SCOPE_VALUE.cpu);
    return true;
  }

  /** Sets which events count `tgid` (a target). */
  setScope(tgid: number, scope: TargetScope): void {
    if (!this.#tgids.has(tgid) || this.#tgids.get(tgid) === scope) return;
    this.#tgids.set(tgid, scope);
    this.#map?.update(u32Key(tgid), SCOPE_VALUE[scope]);
  }

  /** Removes `tgid`; false when it was not there. */
  remove(tgid: number): boolean {
    if (!this.#tgids.delete(tgid)) return false;
    this.#map?.delete(u32Key(tgid));
    return true;
  }

  /** Writes every target into `map` and keeps it in step from now on. */
  bind(map: BpfMap): void {
    this.#map = map;
    for (const [t, scope] of this.#tgids) map.update(u32Key(t), SCOPE_VALUE[scope]);
  }

  /** Forgets the map (its object is being closed); the targets stay for the next bind. */
  unbind(): void {
    this.#map = undefined;
  }

  /** Forgets every target (a stopped profiler starts from none). */
  clear(): void {
    this.#tgids.clear();
  }
}
