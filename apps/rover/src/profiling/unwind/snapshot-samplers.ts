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
  type OffCpuSnapshotPoll,
  type ProfiledStack,
  SNAP_HISTORY,
  type PythonFrame,
  type PythonTracerOptions,
  type ScopeOptions,
  type StackSnapshot,
  zeroLost,
} from '@swlite/bpf';
import type { Symbolizer, UnwindReach } from '@swlite/symbolizer';
import type { StackSampler } from '../stack-sampler';
import { StackSizer, type StackSizingOptions } from './stack-sizing';

export interface SnapshotSamplerOptions {
  /**
   * Bytes of user stack copied per sample (on-CPU default 32768, the most the program copies:
   * Node's event loop alone holds a 12 KiB frame; off-CPU default 16384, as switch-outs are far
   * more frequent than samples). With stackSizing, the ceiling of each process's copy.
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
  /**
   * Copy per process only as much stack as unwinding its snapshots uses (stack-sizing.ts), with
   * userStackBytes as the ceiling; false copies userStackBytes always. Default on.
   */
  stackSizing?: StackSizingOptions | false;
}

/** The sizer of a sampler's copies, applied to its profiler (none when sizing is off). */
const sizerFor = (
  opts: SnapshotSamplerOptions,
  ceiling: number,
  apply: (tgid: number, bytes: number | undefined) => void,
): StackSizer | undefined =>
  opts.stackSizing === false ? undefined : new StackSizer(ceiling, apply, opts.stackSizing);

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
 * with every frame the CFI walk found and goes further. The sizer learns how far the CFI walk read.
 */
export function unwindSnapshot(
  symbolizer: Symbolizer,
  s: StackSnapshot,
  maxFrames = 127,
  stats?: UnwindStats,
  sizer?: StackSizer,
): bigint[] {
  const t0 = process.hrtime.bigint();
  let pcs: bigint[];
  if (s.userStack.length === 0) pcs = s.userFpStack.length ? s.userFpStack : s.regs.ip ? [s.regs.ip] : [];
  else {
    const reach: UnwindReach = { end: 'other', used: 0, shortAt: -1 };
    pcs = symbolizer.unwind(s.tgid, s.regs, s.userStack, s.regs.sp, { maxFrames, reach });
    sizer?.observe(s.tgid, s.userStack.length, reach);
  }
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
  /** Per-process copy sizes (undefined: always userStackBytes). */
  readonly sizer: StackSizer | undefined;

  constructor(
    private readonly symbolizer: Symbolizer,
    private readonly periodNs: number,
    private readonly opts: SnapshotSamplerOptions & { frequency?: number; cpus?: number[] } & ScopeOptions = {},
  ) {
    this.#profiler = new StackSnapshotProfiler({
      onSnapshot: (s) => this.#onSnapshot(s),
      ...(opts.python ? { python: opts.python } : {}),
    });
    this.sizer = sizerFor(opts, this.#userStackBytes, (t, b) => this.#profiler.setStackBytes(t, b));
  }

  get #userStackBytes(): number {
    return this.opts.userStackBytes ?? 32768;
  }

  /** Snapshot records and their bytes consumed from the ring buffer so far. */
  get consumed(): { records: number; bytes: number } {
    return this.#profiler.consumed;
  }

  #onSnapshot(s: StackSnapshot): void {
    let user: bigint[];
    try {
      user = unwindSnapshot(this.symbolizer, s, this.opts.maxFrames, this.stats, this.sizer);
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
      ...(this.opts.scope ? { scope: this.opts.scope } : {}),
      ...(this.opts.maxThreadEvents !== undefined ? { maxThreadEvents: this.opts.maxThreadEvents } : {}),
      userStackBytes: this.#userStackBytes,
      userFpStacks: this.opts.framePointerCompare ?? true,
    });
  }

  addTarget(tgid: number): void {
    this.#profiler.addTarget(tgid);
  }

  removeTarget(tgid: number): void {
    this.#profiler.removeTarget(tgid);
    this.sizer?.forget(tgid);
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
    const lost = this.#profiler.stop().lost;
    this.sizer?.clear();
    return this.#result(lost);
  }
}

/** An unwound stack, shared by the snapshots that unwound to it. */
interface UnwoundStack {
  key: string;
  make: () => ProfiledStack;
}

interface Pending {
  tsOut: bigint;
  tgid: number;
  /** Reads of the kernel completed when the snapshot arrived. */
  drains: number;
  stack: UnwoundStack;
}

/**
 * Off-CPU (sched_switch): each switch-out snapshot is unwound at once and remembered per thread;
 * the kernel aggregates the intervals that refer to it (one per switch-in; the kernel reuses a
 * thread's last snapshot when it blocks again at the same place) and each drain adds their
 * switches and blocked time to that stack. Like the frame-pointer sampler, an interval is
 * reported by the drain after the switch-in.
 */
export class SnapshotOffCpuSampler implements StackSampler {
  readonly stats: UnwindStats = { snapshots: 0, unwindNs: 0, frames: 0, fpChosen: 0, samplesNs: [] };
  readonly #profiler: OffCpuSnapshotProfiler;
  readonly #agg = new Aggregator();
  /**
   * Per thread, its recent snapshots, the latest last. Intervals refer to one of the period or to
   * one of the thread's last SNAP_HISTORY (the kernel reuses those); also, an interval the program
   * added to the slot just read after the read (it had read the active slot before the flip)
   * comes two reads later, so a period's snapshots stay that long.
   */
  readonly #pending = new Map<number, Pending[]>();
  /** Reads of the kernel so far (each flips the slot). */
  #drains = 0;
  /** Stacks unwound since the last read, by key: the snapshots of a period share them. */
  #unwound = new Map<string, UnwoundStack>();

  constructor(
    private readonly symbolizer: Symbolizer,
    private readonly opts: SnapshotSamplerOptions & {
      minBlockNs?: number;
      /** How often the kernel's interval aggregation is read between drains (ms, default 250). */
      readIntervalMs?: number;
    } = {},
  ) {
    this.#profiler = new OffCpuSnapshotProfiler({
      onSnapshot: (s) => this.#onSnapshot(s),
      ...(opts.python ? { python: opts.python } : {}),
    });
    this.sizer = sizerFor(opts, this.#userStackBytes, (t, b) => this.#profiler.setStackBytes(t, b));
  }

  /** Per-process copy sizes (undefined: always userStackBytes). */
  readonly sizer: StackSizer | undefined;

  get #userStackBytes(): number {
    return this.opts.userStackBytes ?? 16384;
  }

  /** Snapshot records and their bytes consumed from the ring buffer so far. */
  get consumed(): { records: number; bytes: number } {
    return this.#profiler.consumed;
  }

  #onSnapshot(s: StackSnapshot): void {
    let user: bigint[];
    try {
      user = unwindSnapshot(this.symbolizer, s, this.opts.maxFrames, this.stats, this.sizer);
    } catch {
      user = s.regs.ip ? [s.regs.ip] : [];
    }
    const kernel = s.kernelStack;
    const tgid = s.tgid;
    const python = s.python;
    const key = this.#agg.key(tgid, user, kernel, python);
    let stack = this.#unwound.get(key);
    if (!stack) {
      stack = {
        key,
        make: () => ({
          tgid,
          userStack: user,
          kernelStack: kernel,
          count: 0,
          durationNs: 0,
          ...(python?.length ? { python } : {}),
        }),
      };
      this.#unwound.set(key, stack);
    }
    const p: Pending = { tsOut: s.tsNs, tgid, drains: this.#drains, stack };
    const list = this.#pending.get(s.tid);
    if (list) list.push(p);
    else this.#pending.set(s.tid, [p]);
  }

  /** Adds the drained intervals to their stacks; returns how many had no snapshot (lost in the ring). */
  #attribute(read: OffCpuSnapshotPoll): number {
    let unmatched = 0;
    for (const iv of read.intervals) {
      const list = this.#pending.get(iv.tid);
      let p: Pending | undefined;
      if (list) for (let i = list.length - 1; i >= 0 && !p; i--) if (list[i]!.tsOut === iv.tsOut) p = list[i];
      if (!p) {
        unmatched += iv.count; // its snapshot was lost (ring buffer full)
        continue;
      }
      this.#agg.add(p.stack.key, p.stack.make, iv.count, iv.durationNs);
    }
    this.#unwound = new Map();
    const keepFrom = ++this.#drains - 2;
    for (const [tid, list] of this.#pending) {
      if (list.length > SNAP_HISTORY && list[0]!.drains < keepFrom) {
        const kept = list.filter((p, i) => p.drains >= keepFrom || i >= list.length - SNAP_HISTORY);
        this.#pending.set(tid, kept);
      }
    }
    return unmatched;
  }

  start(tgids: number[]): void {
    this.#profiler.start(tgids, {
      userStackBytes: this.#userStackBytes,
      userFpStacks: this.opts.framePointerCompare ?? true,
      minBlockNs: this.opts.minBlockNs ?? 0,
    });
    this.#readTimer = setInterval(this.#readNow, this.opts.readIntervalMs ?? 250);
    this.#readTimer.unref();
  }

  addTarget(tgid: number): void {
    this.#profiler.addTarget(tgid);
    // Back before the drain that would forget it: the kernel still reuses its threads' snapshots.
    this.#leaving.delete(tgid);
  }

  removeTarget(tgid: number): void {
    this.#profiler.removeTarget(tgid);
    this.sizer?.forget(tgid);
    // Its last intervals come with the next drain: its snapshots stay until then.
    this.#leaving.add(tgid);
  }

  /** Processes removed since the last drain. */
  readonly #leaving = new Set<number>();

  /** Switch-outs that reused a snapshot, since start. */
  snapshotsReused = 0;

  /** Losses and switch-ins read since the last drain (each read adds to them). */
  #lost = zeroLost();
  #switchIns = 0;
  #readTimer: NodeJS.Timeout | undefined;

  /** Attributes what one read of the kernel returned; drain() hands out the sum of the reads. */
  #take(read: OffCpuSnapshotPoll): void {
    const lost = read.lost;
    this.snapshotsReused += lost.snapshotsReused;
    const unmatched = this.#attribute(read);
    if (this.#pending.size > 65536) {
      // Threads that exited while blocked.
      this.#pending.clear();
      this.#profiler.forgetSnapshots();
    }
    const into = this.#lost;
    into.samples += lost.samples;
    into.aggregationFull += lost.aggregationFull;
    into.ringBufferFull += lost.ringBufferFull;
    into.userStackErrors += lost.userStackErrors;
    into.startMapFull += lost.startMapFull;
    into.missingStacks += unmatched;
    this.#switchIns += lost.switchIns;
  }

  /**
   * Reads the kernel between drains: a busy server switches out thousands of times per second,
   * each new snapshot a key in the aggregation slot; read only at rover's flushes (seconds apart,
   * later on a starved machine) the slot fills and switches are lost.
   */
  #readNow = (): void => {
    if (this.#profiler.running) this.#take(this.#profiler.poll());
  };

  #result(): DrainResult {
    if (this.#leaving.size) {
      const forgotten: number[] = [];
      for (const [tid, list] of this.#pending)
        if (this.#leaving.has(list[0]!.tgid)) {
          this.#pending.delete(tid);
          forgotten.push(tid);
        }
      this.#leaving.clear();
      // A process added again later must not reuse, by signature, snapshots dropped here.
      this.#profiler.forgetSnapshots(forgotten);
    }
    const r: DrainResult = { stacks: this.#agg.take(), lost: this.#lost, switchIns: this.#switchIns };
    this.#lost = zeroLost();
    this.#switchIns = 0;
    return r;
  }

  drain(): DrainResult {
    this.#readNow();
    return this.#result();
  }

  stop(): DrainResult {
    clearInterval(this.#readTimer);
    this.#readTimer = undefined;
    this.#take(this.#profiler.stop());
    this.sizer?.clear();
    this.#pending.clear();
    return this.#result();
  }
}
