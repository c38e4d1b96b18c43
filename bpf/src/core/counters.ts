// The per-CPU `counters` map every object has (progs/core/core.h): one u64 per CPU per event,
// summed here; deltas are what happened since the previous read.
import type { BpfMap } from '@swlite/libbpf-ts';
import type { CEnum } from '../c-enum.js';
import { u32Key } from '../layout.js';

export class CounterDeltas {
  readonly #map: BpfMap;
  readonly #keys: Buffer[];
  #last: bigint[];

  constructor(map: BpfMap, counters: CEnum) {
    this.#map = map;
    this.#keys = Array.from({ length: counters.count }, (_, i) => u32Key(i));
    this.#last = this.#keys.map(() => 0n);
  }

  /** Totals since load, summed over CPUs, indexed by the counter enum. */
  totals(): bigint[] {
    return this.#keys.map((k) => (this.#map.lookupPerCpu(k) ?? []).reduce((s, b) => s + b.readBigUInt64LE(0), 0n));
  }

  /** Increase of each counter since the previous call (the first call: since load). */
  deltas(): number[] {
    const now = this.totals();
    const d = now.map((v, i) => Number(v - this.#last[i]!));
    this.#last = now;
    return d;
  }
}
