// Attaches a perf_event program on the software CPU clock, per CPU or per target thread.
import { readdirSync } from 'node:fs';
import { BpfError, type BpfProgram, type Detachable } from '@swlite/libbpf-ts';

export type SamplingScope = 'cpu' | 'thread';
export type Sampling = { frequency: number } | { period: number };

/** Sampling from start options: frequency, or periodNs (default 9 ms). */
export function samplingFrom(opts: { periodNs?: number; frequency?: number }, who: string): Sampling {
  if (opts.periodNs !== undefined && opts.frequency !== undefined) {
    throw new Error(`${who}: give periodNs or frequency, not both`);
  }
  return opts.frequency !== undefined ? { frequency: opts.frequency } : { period: opts.periodNs ?? 9_000_000 };
}

/**
 * scope 'cpu': one event per CPU (all tasks; the program filters targets).
 * scope 'thread': one inherited event per thread of each target process.
 */
export class PerfSampler {
  #cpuLinks: Detachable[] = [];
  #threadLinks = new Map<number, Detachable[]>();

  constructor(
    private readonly program: BpfProgram,
    readonly scope: SamplingScope,
    readonly sampling: Sampling,
    private readonly cpus?: number[],
  ) {}

  /** Attaches (cpu scope) or attaches for each of `tgids` (thread scope). */
  start(tgids: Iterable<number>): void {
    if (this.scope === 'cpu') {
      this.#cpuLinks.push(
        this.program.attachPerfEventAllCpus({ ...this.sampling, ...(this.cpus ? { cpus: this.cpus } : {}) }),
      );
    } else {
      for (const t of tgids) this.add(t);
    }
  }

  /** Thread scope: one inherited CPU-clock event per existing thread of `tgid`. */
  add(tgid: number): void {
    if (this.scope !== 'thread' || this.#threadLinks.has(tgid)) return;
    const links: Detachable[] = [];
    this.#threadLinks.set(tgid, links);
    let tids: number[];
    try {
      tids = readdirSync(`/proc/${tgid}/task`).map(Number);
    } catch {
      return; // process gone
    }
    for (const tid of tids) {
      try {
        links.push(this.program.attachPerfEvent({ cpu: -1, pid: tid, inherit: true, ...this.sampling }));
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ESRCH') continue; // thread exited meanwhile
        throw e;
      }
    }
  }

  remove(tgid: number): void {
    for (const l of this.#threadLinks.get(tgid) ?? []) l.destroy();
    this.#threadLinks.delete(tgid);
  }

  destroy(): void {
    for (const links of this.#threadLinks.values()) for (const l of links) l.destroy();
    this.#threadLinks.clear();
    for (const l of this.#cpuLinks) l.destroy();
    this.#cpuLinks = [];
  }
}
