// The processes an object observes: kept here while stopped, mirrored into the object's
// `target_tgids` map (progs/core/core.h) while it runs.
import type { BpfMap } from '@swlite/libbpf-ts';
import { u32Key } from '../layout.js';

const PRESENT = Buffer.from([1]);

export class TargetTable {
  readonly #tgids = new Set<number>();
  #map: BpfMap | undefined;

  get tgids(): number[] {
    return [...this.#tgids];
  }

  has(tgid: number): boolean {
    return this.#tgids.has(tgid);
  }

  /** Adds `tgid`; false when it was already there. */
  add(tgid: number): boolean {
    if (this.#tgids.has(tgid)) return false;
    this.#tgids.add(tgid);
    this.#map?.update(u32Key(tgid), PRESENT);
    return true;
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
    for (const t of this.#tgids) map.update(u32Key(t), PRESENT);
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
