// Attaches perf_event programs on the software CPU clock: per CPU, or per thread of a target process.
import { readdirSync } from 'node:fs';
import { BpfError, type BpfProgram, type Detachable } from '@swlite/libbpf-ts';
import type { TargetScope, TargetTable } from './core/targets.js';

/**
 * 'cpu': every process is sampled by one CPU-clock event per CPU (the program filters targets).
 * 'thread': every process by one CPU-clock event per thread of its own, inherited by its new threads.
 * 'auto': per thread while the per-thread events opened stay within a bound, per CPU beyond it.
 */
export type SamplingScope = TargetScope | 'auto';
export type Sampling = { frequency: number } | { period: number };

/** Default bound of scope 'auto': per-thread events (two file descriptors each) opened in all. */
export const DEFAULT_MAX_THREAD_EVENTS = 256;

/** Sampling from start options: frequency, or periodNs (default 9 ms). */
export function samplingFrom(opts: { periodNs?: number; frequency?: number }, who: string): Sampling {
  if (opts.periodNs !== undefined && opts.frequency !== undefined) {
    throw new Error(`${who}: give periodNs or frequency, not both`);
  }
  return opts.frequency !== undefined ? { frequency: opts.frequency } : { period: opts.periodNs ?? 9_000_000 };
}

/** One program per kind of event: the kernel gives an inherited event its parent's program, so
 * which program runs says which kind of event fired (progs/oncpu.bpf.c). */
export interface SamplerPrograms {
  cpu: BpfProgram;
  thread: BpfProgram;
}

/** How a sampler's processes are sampled: per CPU, per thread, or per thread within a bound. */
export interface ScopeOptions {
  /**
   * 'cpu' (default): one CPU-clock event per CPU samples whatever runs there; the BPF side keeps
   * target processes. Cheap (one event per CPU) whatever the number of targets, but biased for a
   * process that runs in short bursts on CPUs busy with other tasks (see PerfSampler).
   * 'thread': one CPU-clock event per thread of each target (inherited by threads created later):
   * samples come every period of *that thread's* own CPU time, whatever else runs on the CPU.
   * 'auto': per thread for the processes added while the per-thread events stay within
   * `maxThreadEvents`, per CPU for the others.
   */
  scope?: SamplingScope;
  /** Scope 'auto': at most this many per-thread events (default DEFAULT_MAX_THREAD_EVENTS). */
  maxThreadEvents?: number;
}

export interface PerfSamplerOptions {
  /** CPUs of the per-CPU events (default: all online CPUs). */
  cpus?: number[];
  /** Scope 'auto': at most this many per-thread events (default DEFAULT_MAX_THREAD_EVENTS). */
  maxThreadEvents?: number;
}

const threadsOf = (tgid: number): number[] | undefined => {
  try {
    return readdirSync(`/proc/${tgid}/task`).map(Number);
  } catch {
    return undefined; // process gone
  }
};

/**
 * Why per thread: a per-CPU clock event samples whatever runs when it fires, so a process that
 * runs in short bursts on a CPU shared with busy tasks is sampled in proportion to how its bursts
 * fall against the clock, not to its CPU time (measured +47%/−27% on nginx beside two CPU hogs).
 * A per-thread event only counts while its thread runs: every period of the thread's own CPU time.
 * It costs an event per thread, hence the bound; the per-CPU events serve the processes beyond it.
 *
 * Each process has one scope, recorded in the target table (the programs compare it with the kind
 * of event that fired), so a process is never counted by both kinds. Per-thread events are
 * inherited by new threads but not by forked processes (inherit_thread): a forked process is
 * sampled when it is added as a target, by events of its own, never also by its parent's.
 */
export class PerfSampler {
  #cpuLinks: Detachable[] = [];
  readonly #threadLinks = new Map<number, Detachable[]>();
  #threadEvents = 0;
  readonly #maxThreadEvents: number;

  constructor(
    private readonly programs: SamplerPrograms,
    readonly scope: SamplingScope,
    readonly sampling: Sampling,
    private readonly targets: TargetTable,
    private readonly opts: PerfSamplerOptions = {},
  ) {
    this.#maxThreadEvents = opts.maxThreadEvents ?? DEFAULT_MAX_THREAD_EVENTS;
  }

  /** Per-thread events open now. */
  get threadEvents(): number {
    return this.#threadEvents;
  }

  /** True while the per-CPU events are open. */
  get cpuEventsOpen(): boolean {
    return this.#cpuLinks.length > 0;
  }

  /** Samples every process of the target table. */
  start(): void {
    if (this.scope === 'cpu') this.#openCpuEvents();
    for (const t of this.targets.tgids) this.add(t);
  }

  /** Samples `tgid` (a target of the table): per thread when the scope and the bound allow, else per CPU. */
  add(tgid: number): void {
    if (this.#threadLinks.has(tgid)) return;
    // Bound reached: no thread list to read (a task over 1,000 processes adds most of them here).
    const full = this.scope === 'auto' && this.#threadEvents >= this.#maxThreadEvents;
    if (this.scope !== 'cpu' && !full) {
      const tids = threadsOf(tgid);
      if (tids === undefined) return; // process gone: nothing to sample
      const fits = this.scope === 'thread' || this.#threadEvents + tids.length <= this.#maxThreadEvents;
      // Scope 'thread' throws when the kernel refuses an event; 'auto' falls back to per CPU.
      if (fits && this.#openThreadEvents(tgid, tids)) {
        this.targets.setScope(tgid, 'thread');
        return;
      }
    }
    this.targets.setScope(tgid, 'cpu');
    this.#openCpuEvents();
  }

  /** Stops sampling `tgid` per thread (its events closed); per-CPU events stay for the others. */
  remove(tgid: number): void {
    const links = this.#threadLinks.get(tgid);
    if (!links) return;
    for (const l of links) l.destroy();
    this.#threadEvents -= links.length;
    this.#threadLinks.delete(tgid);
  }

  destroy(): void {
    for (const t of [...this.#threadLinks.keys()]) this.remove(t);
    for (const l of this.#cpuLinks) l.destroy();
    this.#cpuLinks = [];
  }

  #openCpuEvents(): void {
    if (this.#cpuLinks.length) return;
    const { cpus } = this.opts;
    this.#cpuLinks.push(this.programs.cpu.attachPerfEventAllCpus({ ...this.sampling, ...(cpus ? { cpus } : {}) }));
  }

  /**
   * One event per thread of `tgid`; false (nothing left open) when the kernel refuses one in scope
   * 'auto' (e.g. out of file descriptors): the process is then sampled per CPU.
   */
  #openThreadEvents(tgid: number, tids: number[]): boolean {
    const links: Detachable[] = [];
    for (const tid of tids) {
      try {
        links.push(
          this.programs.thread.attachPerfEvent({
            cpu: -1,
            pid: tid,
            inherit: true,
            inheritThreadsOnly: true,
            ...this.sampling,
          }),
        );
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ESRCH') continue; // thread exited meanwhile
        for (const l of links) l.destroy();
        if (this.scope === 'thread') throw e;
        return false;
      }
    }
    this.#threadLinks.set(tgid, links);
    this.#threadEvents += links.length;
    return true;
  }
}
