/**
 * Stack samplers that unwind in user space ("dwarf" mode, like `perf record --call-graph dwarf`):
 * the kernel side copies registers and the top of the user stack per sample (on-CPU) or per
 * switch-out (off-CPU); here each snapshot is unwound with the CFI tables of the process's
 * binaries (.eh_frame, frame pointers where a region has no CFI), and identical unwound stacks
 * are aggregated until drain(). The result has the same shape as the frame-pointer samplers'.
 */
import {
  OffCpuSnapshotProfiler,
  StackSnapshotProfiler,
  type DrainResult,
  type OffCpuInterval,
  type ProfiledStack,
  type PythonFrame,
  type PythonTracerOptions,
  type StackSnapshot,
  zeroLost,
} from '@swlite/bpf';
import type { Symbolizer } from '@swlite/symbolizer';
import type { StackSampler } from '../stack-sampler';

export interface SnapshotSamplerOptions {
  /**
   * Bytes of user stack copied per sample (on-CPU default 32768, the most the program copies:
   * Node's event loop alone holds a 12 KiB frame; off-CPU default 16384, as switch-outs are far
   * more frequent than samples).
   */
  userStackBytes?: number;
  /** Frames per unwound stack (default 127, perf_event_max_stack). */
  maxFrames?: number;
  /** Python frames of CPython processes (default: read; `{ enabled: false }` leaves them out). */
  python?: PythonTracerOptions;
  /**
   * Also take the kernel's frame-pointer walk and prefer it when it extends the CFI walk (same
   * frames, then more: the stack copy was too short for a deep frame-pointer stack). Default true.
   */
  framePointerCompare?: boolean;
}

/** Time spent unwinding (for the benchmark and logs). */
export interface UnwindStats {
  snapshots: number;
  unwindNs: number;
  frames: number;
  /** Stacks where the kernel's frame-pointer walk was taken over the CFI walk. */
  fpChosen: number;
  /** The first 100,000 per-snapshot unwind times (ns), for medians: the mean includes the
   * one-off table builds of each binary. */
  samplesNs?: number[];
}

/** Median of the recorded per-snapshot unwind times, in µs (NaN when none). */
export function medianUnwindUs(stats: UnwindStats): number {
  const a = [...(stats.samplesNs ?? [])].sort((x, y) => x - y);
  return a.length ? a[a.length >> 1]! / 1000 : NaN;
}

/**
 * The user stack of a snapshot: the CFI walk, or the kernel's frame-pointer walk when it starts
 * with every frame the CFI walk found and goes further.
 */
export function unwindSnapshot(
  symbolizer: Symbolizer,
  s: StackSnapshot,
  maxFrames = 127,
  stats?: UnwindStats,
): bigint[] {
  const t0 = process.hrtime.bigint();
  let pcs: bigint[];
  if (s.userStack.length === 0) pcs = s.userFpStack.length ? s.userFpStack : s.regs.ip ? [s.regs.ip] : [];
  else pcs = symbolizer.unwind(s.tgid, s.regs, s.userStack, s.regs.sp, { maxFrames });
  const fp = s.userFpStack;
  if (fp.length > pcs.length) {
    let prefix = true;
    for (let i = 0; i < pcs.length && prefix; i++) prefix = fp[i] === pcs[i];
    if (prefix) {
      pcs = fp;
      if (stats) stats.fpChosen++;
    }
  }
  if (stats) {
    stats.snapshots++;
    stats.frames += pcs.length;
    const ns = Number(process.hrtime.bigint() - t0);
    stats.unwindNs += ns;
    if (stats.samplesNs && stats.samplesNs.length < 100_000) stats.samplesNs.push(ns);
  }
  return pcs;
}

class Aggregator {
  readonly stacks = new Map<string, ProfiledStack>();
  key(tgid: number, user: bigint[], kernel: bigint[], python?: PythonFrame[]): string {
    let k = `${tgid}`;
    for (const a of user) k += `,${a.toString(36)}`;
    k += '|';
    for (const a of kernel) k += `,${a.toString(36)}`;
    if (python?.length) {
      k += '|';
      for (const f of python) k += `\u0000${f.name}\u0001${f.file}\u0001${f.line ?? ''}\u0001${f.entry ? 1 : 0}`;
    }
    return k;
  }
  /** Adds `count` (and `durationNs`) to the stack under `key`, creating it from `make`. */
  add(key: string, make: () => ProfiledStack, count: number, durationNs?: number): void {
    let s = this.stacks.get(key);
    if (!s) {
      s = make();
      s.count = 0;
      if (durationNs !== undefined) s.durationNs = 0;
      this.stacks.set(key, s);
    }
    s.count += count;
    if (durationNs !== undefined) s.durationNs = (s.durationNs ?? 0) + durationNs;
  }
  take(): ProfiledStack[] {
    const out = [...this.stacks.values()];
    this.stacks.clear();
    return out;
  }
}

/** On-CPU samples (perf_event, CPU clock) unwound in user space. */
export class SnapshotOnCpuSampler implements StackSampler {
  readonly stats: UnwindStats = { snapshots: 0, unwindNs: 0, frames: 0, fpChosen: 0, samplesNs: [] };
  readonly #profiler: StackSnapshotProfiler;
  readonly #agg = new Aggregator();
  #unwindFailures = 0;

  constructor(
    private readonly symbolizer: Symbolizer,
    private readonly periodNs: number,
    private readonly opts: SnapshotSamplerOptions & { frequency?: number; cpus?: number[] } = {},
  ) {
    this.#profiler = new StackSnapshotProfiler({
      onSnapshot: (s) => this.#onSnapshot(s),
      ...(opts.python ? { python: opts.python } : {}),
    });
  }

  #onSnapshot(s: StackSnapshot): void {
    let user: bigint[];
    try {
      user = unwindSnapshot(this.symbolizer, s, this.opts.maxFrames, this.stats);
    } catch {
      this.#unwindFailures++;
      user = s.regs.ip ? [s.regs.ip] : [];
    }
    const python = s.python;
    const key = this.#agg.key(s.tgid, user, s.kernelStack, python);
    this.#agg.add(
      key,
      () => ({
        tgid: s.tgid,
        userStack: user,
        kernelStack: s.kernelStack,
        count: 0,
        ...(python?.length ? { python } : {}),
      }),
      1,
    );
  }

  start(tgids: number[]): void {
    this.#profiler.start(tgids, {
      ...(this.opts.frequency !== undefined ? { frequency: this.opts.frequency } : { periodNs: this.periodNs }),
      ...(this.opts.cpus ? { cpus: this.opts.cpus } : {}),
      userStackBytes: this.opts.userStackBytes ?? 32768,
      userFpStacks: this.opts.framePointerCompare ?? true,
    });
  }

  addTarget(tgid: number): void {
    this.#profiler.addTarget(tgid);
  }

  removeTarget(tgid: number): void {
    this.#profiler.removeTarget(tgid);
  }

  #result(lost: {
    samples: number;
    ringBufferFull: number;
    userStackErrors: number;
    droppedInUserSpace: number;
  }): DrainResult {
    return {
      stacks: this.#agg.take(),
      lost: {
        ...zeroLost(),
        samples: lost.samples,
        ringBufferFull: lost.ringBufferFull + lost.droppedInUserSpace,
        userStackErrors: lost.userStackErrors,
      },
    };
  }

  drain(): DrainResult {
    return this.#result(this.#profiler.drain().lost);
  }

  stop(): DrainResult {
    return this.#result(this.#profiler.stop().lost);
  }
}

interface Pending {
  tsOut: bigint;
  key: string;
  make: () => ProfiledStack;
}

/**
 * Off-CPU (sched_switch): each switch-out snapshot is unwound at once and remembered per thread;
 * the intervals that refer to it (switch-ins; the kernel reuses a thread's last snapshot when it
 * blocks again at the same place) add one switch and the blocked time to that stack.
 * Like the frame-pointer sampler, an interval is reported by the drain after the switch-in.
 */
export class SnapshotOffCpuSampler implements StackSampler {
  readonly stats: UnwindStats = { snapshots: 0, unwindNs: 0, frames: 0, fpChosen: 0, samplesNs: [] };
  readonly #profiler: OffCpuSnapshotProfiler;
  readonly #agg = new Aggregator();
  readonly #pending = new Map<number, Pending>();
  #unmatched = 0;

  constructor(
    private readonly symbolizer: Symbolizer,
    private readonly opts: SnapshotSamplerOptions & { minBlockNs?: number } = {},
  ) {
    this.#profiler = new OffCpuSnapshotProfiler({
      onSnapshot: (s) => this.#onSnapshot(s),
      onInterval: (iv) => this.#onInterval(iv),
      ...(opts.python ? { python: opts.python } : {}),
    });
  }

  #onSnapshot(s: StackSnapshot): void {
    let user: bigint[];
    try {
      user = unwindSnapshot(this.symbolizer, s, this.opts.maxFrames, this.stats);
    } catch {
      user = s.regs.ip ? [s.regs.ip] : [];
    }
    const kernel = s.kernelStack;
    const tgid = s.tgid;
    const python = s.python;
    this.#pending.set(s.tid, {
      tsOut: s.tsNs,
      key: this.#agg.key(tgid, user, kernel, python),
      make: () => ({
        tgid,
        userStack: user,
        kernelStack: kernel,
        count: 0,
        durationNs: 0,
        ...(python?.length ? { python } : {}),
      }),
    });
  }

  #onInterval(iv: OffCpuInterval): void {
    // The thread's last snapshot stays: later switch-outs with the same signature reuse it.
    const p = this.#pending.get(iv.tid);
    if (!p || p.tsOut !== iv.tsOut) {
      this.#unmatched++; // its snapshot was lost (ring buffer full)
      return;
    }
    if (iv.durationNs < (this.opts.minBlockNs ?? 0)) return;
    this.#agg.add(p.key, p.make, 1, iv.durationNs);
  }

  start(tgids: number[]): void {
    this.#profiler.start(tgids, {
      userStackBytes: this.opts.userStackBytes ?? 16384,
      userFpStacks: this.opts.framePointerCompare ?? true,
    });
  }

  addTarget(tgid: number): void {
    this.#profiler.addTarget(tgid);
  }

  removeTarget(tgid: number): void {
    this.#profiler.removeTarget(tgid);
    for (const [tid, p] of this.#pending)
      if (p.key.startsWith(`${tgid}|`) || p.key.startsWith(`${tgid},`)) this.#pending.delete(tid);
  }

  /** Switch-outs that reused a snapshot, since start. */
  snapshotsReused = 0;

  #result(lost: {
    samples: number;
    switchIns: number;
    ringBufferFull: number;
    userStackErrors: number;
    startMapFull: number;
    snapshotsReused: number;
  }): DrainResult {
    this.snapshotsReused += lost.snapshotsReused;
    const unmatched = this.#unmatched;
    this.#unmatched = 0;
    if (this.#pending.size > 65536) this.#pending.clear(); // threads that exited while blocked
    return {
      stacks: this.#agg.take(),
      lost: {
        ...zeroLost(),
        samples: lost.samples,
        ringBufferFull: lost.ringBufferFull,
        userStackErrors: lost.userStackErrors,
        startMapFull: lost.startMapFull,
        missingStacks: unmatched,
      },
      switchIns: lost.switchIns,
    };
  }

  drain(): DrainResult {
    return this.#result(this.#profiler.poll());
  }

  stop(): DrainResult {
    const r = this.#result(this.#profiler.stop());
    this.#pending.clear();
    return r;
  }
}
