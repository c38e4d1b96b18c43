// Stack profilers over libbpf-ts: OnCpuProfiler (perf_event sampling on the CPU clock) and
// OffCpuProfiler (sched_switch). Both aggregate in the kernel; drain() reads and clears.
//
// Lifecycle: new X() → start(tgids, opts) → addTarget/removeTarget → drain() every flush →
// stop() (returns a final drain). Not thread-safe across workers; one instance per use.
import { existsSync } from 'node:fs';
import type { BpfMap, LibbpfLogger } from '@swlite/libbpf-ts';
import { PerfSampler, samplingFrom, type SamplingScope, type ScopeOptions } from './perf-sampler.js';
import { LoadedObject, type LoadOptions } from './core/loaded-object.js';
import { attachSchedSwitch, type SchedSwitchMode } from './core/sched-switch.js';
import { TargetTable, type TargetScope } from './core/targets.js';
import { flipSlot } from './core/slots.js';
import type { PythonFrame } from './python/codes.js';
import {
  decodeOffCpuStart,
  decodeOffCpuValue,
  decodeOnCpuValue,
  decodeStackKey,
  OFFCPU_START,
  OFFCPU_VALUE,
  ONCPU_VALUE_SIZE,
  STACK_ID_SECONDARY,
  STACK_KEY,
  SwCounter,
} from './layout.js';

/** One aggregated stack of one process. */
export interface ProfiledStack {
  tgid: number;
  /** User frames, leaf first (instruction pointers; empty when not captured). */
  userStack: bigint[];
  /** Kernel frames, leaf first (empty when the sample was in user mode). */
  kernelStack: bigint[];
  /** On-CPU: samples. Off-CPU: switches out. */
  count: number;
  /** Off-CPU only: total time off CPU in ns. */
  durationNs?: number;
  /** Python frames of the sample, innermost first (stack snapshot samplers; absent: none). */
  python?: PythonFrame[];
}

/** Losses and errors since the previous drain (deltas of the kernel counters + user-side). */
export interface LostCounters {
  /** Samples (on-CPU) / switch-outs (off-CPU) of target tasks seen by the program. */
  samples: number;
  /** Dropped: aggregation map full. */
  aggregationFull: number;
  /** Stack not stored: its bucket was held by other stacks in both stack maps (-EEXIST). */
  stackCollisions: number;
  /** Not lost: stacks that went to the secondary stack map after a primary-bucket collision. */
  secondaryStacks: number;
  /** User stack not captured (sample kept without it). */
  userStackErrors: number;
  /** Kernel stack not captured, other than "sample in user mode". */
  kernelStackErrors: number;
  /** Off-CPU: dropped because the per-thread start map was full. */
  startMapFull: number;
  /** Stack ids found in the aggregation map but missing from the stack map at drain time. */
  missingStacks: number;
  /** Snapshot mode: records dropped, ring buffer full. */
  ringBufferFull: number;
}

export interface DrainResult {
  stacks: ProfiledStack[];
  lost: LostCounters;
  /** Completed off-CPU intervals aggregated since the previous drain (off-CPU only). */
  switchIns?: number;
}

export interface ProfilerOptions {
  /** Directory with the *.bpf.o files (default: bpfObjectDir()). */
  objectDir?: string;
  /** libbpf log sink for this profiler (default: the global libbpf-ts logger). */
  logger?: LibbpfLogger | null;
  /** Distinct stacks per slot (primary stack map max_entries, default 8192; the secondary map
   * gets a quarter of it, at least 1024). */
  maxStacks?: number;
  /** Distinct (tgid, stacks) per slot (aggregation map max_entries, default 10240). */
  maxAggregates?: number;
  /** Collect kernel stacks (default true). */
  kernelStacks?: boolean;
  /** Collect user stacks (default true). */
  userStacks?: boolean;
}

/** Scope: ScopeOptions (perf-sampler.ts), default 'cpu'. */
export interface OnCpuStartOptions extends ScopeOptions {
  /** Sampling period in ns of CPU time (default 9,000,000 = 9 ms, upstream's dump period). */
  periodNs?: number;
  /** Samples per second instead of a period. */
  frequency?: number;
  /** CPUs of the per-CPU events (default: all online CPUs). */
  cpus?: number[];
}

export interface OffCpuStartOptions {
  /** Ignore off-CPU intervals shorter than this (ns, default 0). */
  minBlockNs?: number;
  /** Force the attach mode (default: tp_btf when the kernel allows, else the tracepoint). */
  mode?: 'tp_btf' | 'tracepoint';
  /**
   * tp_btf mode: leading kernel frames to drop (the BPF program and the bpf_trace_run*
   * trampoline), so that stacks start at __schedule as in tracepoint mode. Default 2.
   */
  tpBtfKernelSkip?: number;
}

/** Lost counters of a drain that lost nothing (one place for every sampler that reports them). */
export const zeroLost = (): LostCounters => ({
  samples: 0,
  aggregationFull: 0,
  stackCollisions: 0,
  secondaryStacks: 0,
  userStackErrors: 0,
  kernelStackErrors: 0,
  startMapFull: 0,
  missingStacks: 0,
  ringBufferFull: 0,
});

/** Shared machinery: targets, slot flipping, counters, stack resolution. */
abstract class StackProfilerBase<N extends 'oncpu' | 'offcpu'> {
  protected loaded: LoadedObject<N> | undefined;
  protected readonly targets = new TargetTable();
  protected readonly opts: ProfilerOptions;
  /** counts_ or offcpu_: the aggregation maps are <prefix>0 and <prefix>1. */
  protected abstract readonly aggPrefix: 'counts_' | 'offcpu_';

  constructor(opts: ProfilerOptions = {}) {
    this.opts = opts;
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.loaded !== undefined;
  }

  /** Target process ids. */
  get targetTgids(): number[] {
    return this.targets.tgids;
  }

  /** Load options common to both objects: stack knobs and map sizes. */
  protected loadOptions(): LoadOptions<N> {
    const maxEntries: Record<string, number> = {};
    if (this.opts.maxStacks) {
      maxEntries.stacks_0 = maxEntries.stacks_1 = this.opts.maxStacks;
      maxEntries.stacks_0x = maxEntries.stacks_1x = Math.max(1024, this.opts.maxStacks >> 2);
    }
    if (this.opts.maxAggregates) {
      maxEntries[`${this.aggPrefix}0`] = maxEntries[`${this.aggPrefix}1`] = this.opts.maxAggregates;
    }
    return {
      rodata: {
        collect_kernel: this.opts.kernelStacks === false ? 0 : 1,
        collect_user: this.opts.userStacks === false ? 0 : 1,
      },
      maxEntries,
      objectDir: this.opts.objectDir,
      logger: this.opts.logger,
    } as LoadOptions<N>;
  }

  protected requireLoaded(op: string): LoadedObject<N> {
    if (!this.loaded) throw new Error(`${op}: profiler is not started`);
    return this.loaded;
  }

  /** Registers `tgids` and binds the target table to the loaded object. */
  protected installTargets(loaded: LoadedObject<N>, tgids: number[]): void {
    for (const t of tgids) this.targets.add(t);
    loaded.bindTargets(this.targets);
  }

  /** Starts profiling `tgid` too. */
  addTarget(tgid: number): void {
    this.targets.add(tgid);
  }

  /** Stops profiling `tgid` (its aggregated samples stay until the next drain). */
  removeTarget(tgid: number): void {
    this.targets.remove(tgid);
  }

  /** Cumulative kernel counters (summed over CPUs), indexed by SwCounter. */
  readCounters(): bigint[] {
    return this.requireLoaded('readCounters').counters.totals();
  }

  protected counterDeltas(): { lost: LostCounters; switchIns: number } {
    const d = this.requireLoaded('drain').counters.deltas();
    return {
      lost: {
        ...zeroLost(),
        samples: d[SwCounter.Samples]!,
        aggregationFull: d[SwCounter.AggFull]!,
        stackCollisions: d[SwCounter.StackCollision]!,
        secondaryStacks: d[SwCounter.StackSecondary]!,
        userStackErrors: d[SwCounter.UserStackErr]!,
        kernelStackErrors: d[SwCounter.KernelStackErr]!,
        startMapFull: d[SwCounter.StartFull]!,
        ringBufferFull: d[SwCounter.RingBufferFull]!,
      },
      switchIns: d[SwCounter.SwitchIn]!,
    };
  }

  /** Flips the active slot; returns the slot that just became inactive. */
  protected flip(): number {
    return flipSlot(this.requireLoaded('drain').obj.map('control'));
  }

  /**
   * Reads and deletes slot `slot`'s aggregation map, resolves its stack ids, then deletes those
   * stack ids except `keep` (ids still referenced by pending off-CPU intervals).
   */
  protected drainSlot(
    slot: number,
    decode: (v: Buffer, off: number) => { count: number; durationNs?: number },
    valueSize: number,
    keep: Set<number>,
    lost: LostCounters,
  ): ProfiledStack[] {
    const agg = this.requireLoaded('drain').obj.map(`${this.aggPrefix}${slot}`);
    const stacks = this.stackReader(slot, lost);
    const { keys, values, count } = agg.lookupAndDeleteBatch();
    const out: ProfiledStack[] = [];
    for (let i = 0; i < count; i++) {
      const k = decodeStackKey(keys, i * STACK_KEY.size);
      const v = decode(values, i * valueSize);
      out.push({
        tgid: k.tgid,
        userStack: stacks.resolve(k.userStackId),
        kernelStack: stacks.resolve(k.kernelStackId),
        ...v,
      });
    }
    stacks.deleteRead(keep);
    return out;
  }

  /**
   * Reads stack ids of slot `slot`'s stack maps (each id once; a missing one counts in
   * `lost.missingStacks`), and deletes those read except `keep`.
   */
  protected stackReader(
    slot: number,
    lost: LostCounters,
  ): { resolve: (id: number) => bigint[]; deleteRead: (keep: Set<number>) => void } {
    const obj = this.requireLoaded('drain').obj;
    const primary = obj.map(`stacks_${slot}`);
    const secondary = obj.map(`stacks_${slot}x`);
    const mapOf = (id: number): [BpfMap, number] =>
      id & STACK_ID_SECONDARY ? [secondary, id & ~STACK_ID_SECONDARY] : [primary, id];
    const cache = new Map<number, bigint[] | null>();
    return {
      resolve: (id) => {
        if (id < 0) return [];
        let s = cache.get(id);
        if (s === undefined) {
          const [m, raw] = mapOf(id);
          s = m.stackTrace(raw);
          cache.set(id, s);
          if (!s) lost.missingStacks++;
        }
        return s ?? [];
      },
      deleteRead: (keep) => {
        for (const id of cache.keys()) {
          if (keep.has(id)) continue;
          const [m, raw] = mapOf(id);
          m.deleteStack(raw);
        }
      },
    };
  }

  /** Stops the programs (the object stays loaded for a final drain). */
  protected detach(): void {
    this.loaded?.detach();
  }

  /**
   * Detaches, drains what is left (both slots), frees everything and forgets the targets.
   * Safe to call twice; start() may be called again afterwards.
   */
  stop(): DrainResult {
    const loaded = this.loaded;
    if (!loaded) return { stacks: [], lost: zeroLost() };
    this.detach();
    try {
      const a = this.drain();
      const b = this.drain();
      return {
        stacks: [...a.stacks, ...b.stacks, ...this.openAtStop(b.lost)],
        lost: sumLost(a.lost, b.lost),
        ...(a.switchIns !== undefined ? { switchIns: a.switchIns + (b.switchIns ?? 0) } : {}),
      };
    } finally {
      loaded.close();
      this.loaded = undefined;
      this.targets.clear();
    }
  }

  abstract drain(): DrainResult;

  /** At stop, after the last drains: what is still open in the kernel (off-CPU: blocked threads). */
  protected openAtStop(_lost: LostCounters): ProfiledStack[] {
    return [];
  }
}

/**
 * On-CPU profiler: samples every CPU on the software CPU clock (default every 9 ms of CPU time)
 * and counts, for target processes, samples per (tgid, user stack, kernel stack).
 */
export class OnCpuProfiler extends StackProfilerBase<'oncpu'> {
  protected readonly aggPrefix = 'counts_';

  #sampler: PerfSampler | undefined;
  #scope: SamplingScope = 'cpu';

  /** 'cpu', 'thread' or 'auto' (see OnCpuStartOptions.scope). */
  get scope(): SamplingScope {
    return this.#scope;
  }

  /** Which events sample `tgid` now (undefined: not a target). */
  scopeOf(tgid: number): TargetScope | undefined {
    return this.targets.scope(tgid);
  }

  /** Per-thread events open now. */
  get threadEvents(): number {
    return this.#sampler?.threadEvents ?? 0;
  }

  /** Loads the program, registers `tgids` and attaches the perf events. */
  start(tgids: number[], opts: OnCpuStartOptions = {}): void {
    if (this.loaded) throw new Error('OnCpuProfiler.start: already started');
    const sampling = samplingFrom(opts, 'OnCpuProfiler.start');
    this.#scope = opts.scope ?? 'cpu';
    const loaded = LoadedObject.load('oncpu', this.loadOptions());
    try {
      this.installTargets(loaded, tgids);
      this.#sampler = new PerfSampler(
        { cpu: loaded.obj.program('on_cpu_sample'), thread: loaded.obj.program('on_cpu_sample_thread') },
        this.#scope,
        sampling,
        this.targets,
        opts,
      );
      this.#sampler.start();
    } catch (e) {
      this.#sampler?.destroy();
      this.#sampler = undefined;
      loaded.close();
      throw e;
    }
    this.loaded = loaded;
  }

  override addTarget(tgid: number): void {
    super.addTarget(tgid);
    if (this.loaded) this.#sampler?.add(tgid);
  }

  override removeTarget(tgid: number): void {
    super.removeTarget(tgid);
    this.#sampler?.remove(tgid);
  }

  protected override detach(): void {
    this.#sampler?.destroy();
    this.#sampler = undefined;
    super.detach();
  }

  /** Reads and clears the samples aggregated since the previous drain. */
  drain(): DrainResult {
    const old = this.flip();
    const { lost } = this.counterDeltas();
    const stacks = this.drainSlot(
      old,
      (v, o) => ({ count: decodeOnCpuValue(v, o) }),
      ONCPU_VALUE_SIZE,
      new Set(),
      lost,
    );
    return { stacks, lost };
  }
}

/**
 * Off-CPU profiler on sched_switch: for target processes, counts switches out and the time until
 * the thread runs again, per (tgid, user stack, kernel stack) captured at the switch out.
 * An interval is reported by the drain after the thread is switched back in.
 */
export class OffCpuProfiler extends StackProfilerBase<'offcpu'> {
  protected readonly aggPrefix = 'offcpu_';
  #mode: SchedSwitchMode | undefined;
  /** The start's minBlockNs, for the switches still open at stop. */
  #minBlockNs = 0n;
  #fallbackReason: string | undefined;

  /** Which program is attached ('tp_btf' preferred, 'tracepoint' fallback). */
  get mode(): SchedSwitchMode | undefined {
    return this.#mode;
  }

  /** Why tp_btf was refused when the tracepoint is attached instead (for the log). */
  get fallbackReason(): string | undefined {
    return this.#fallbackReason;
  }

  start(tgids: number[], opts: OffCpuStartOptions = {}): void {
    if (this.loaded) throw new Error('OffCpuProfiler.start: already started');
    const base = this.loadOptions();
    this.#minBlockNs = BigInt(opts.minBlockNs ?? 0);
    const { loaded, mode, fallbackReason } = attachSchedSwitch(
      'offcpu',
      {
        ...base,
        rodata: {
          ...base.rodata,
          min_block_ns: this.#minBlockNs,
          tp_btf_kernel_skip: opts.tpBtfKernelSkip ?? 2,
        },
      },
      opts.mode,
      (l) => this.installTargets(l, tgids),
    );
    this.loaded = loaded;
    this.#mode = mode;
    this.#fallbackReason = fallbackReason;
  }

  /** Reads and clears the off-CPU intervals completed since the previous drain. */
  drain(): DrainResult {
    const old = this.flip();
    const { lost, switchIns } = this.counterDeltas();
    const keep = this.pendingStackIds(old);
    const stacks = this.drainSlot(old, (v, o) => decodeOffCpuValue(v, o), OFFCPU_VALUE.size, keep, lost);
    return { stacks, lost, switchIns };
  }

  /**
   * The switches still open at stop: a target thread that switched out and has not run since is
   * off CPU until now, one switch on the stacks of its switch-out (left out, a task would never
   * show the threads blocked longest). The drains before kept those stacks (pendingStackIds).
   */
  protected override openAtStop(lost: LostCounters): ProfiledStack[] {
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns
    const readers = [0, 1].map((slot) => this.stackReader(slot, lost));
    const out: ProfiledStack[] = [];
    for (const [k, v] of this.requireLoaded('stop').map('starts').entries()) {
      if (v.length < OFFCPU_START.size) continue;
      const s = decodeOffCpuStart(v);
      const tid = k.readUInt32LE(0);
      if (!this.targets.has(s.key.tgid) || now <= s.tsNs || now - s.tsNs < this.#minBlockNs) continue;
      if (!existsSync(`/proc/${s.key.tgid}/task/${tid}`)) continue;
      const stacks = readers[s.slot & 1]!;
      out.push({
        tgid: s.key.tgid,
        userStack: stacks.resolve(s.key.userStackId),
        kernelStack: stacks.resolve(s.key.kernelStackId),
        count: 1,
        durationNs: Number(now - s.tsNs),
      });
    }
    return out;
  }

  /**
   * Stack ids of slot `slot` still referenced by threads that are off CPU now (their interval
   * will be aggregated into that slot later). Also drops start entries of threads that are gone.
   */
  private pendingStackIds(slot: number): Set<number> {
    const starts = this.requireLoaded('drain').map('starts');
    const keep = new Set<number>();
    for (const [k, v] of starts.entries()) {
      if (v.length < OFFCPU_START.size) continue;
      const s = decodeOffCpuStart(v);
      const tid = k.readUInt32LE(0);
      if (!this.targets.has(s.key.tgid) || !existsSync(`/proc/${s.key.tgid}/task/${tid}`)) {
        starts.delete(k);
        continue;
      }
      if (s.slot !== slot) continue;
      if (s.key.userStackId >= 0) keep.add(s.key.userStackId);
      if (s.key.kernelStackId >= 0) keep.add(s.key.kernelStackId);
    }
    return keep;
  }
}

function sumLost(a: LostCounters, b: LostCounters): LostCounters {
  const out = zeroLost();
  for (const k of Object.keys(out) as Array<keyof LostCounters>) out[k] = a[k] + b[k];
  return out;
}
