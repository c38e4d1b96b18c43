// Stack profilers over libbpf-ts: OnCpuProfiler (perf_event sampling on the CPU clock) and
// OffCpuProfiler (sched_switch). Both aggregate in the kernel; drain() reads and clears.
//
// Lifecycle: new X() → start(tgids, opts) → addTarget/removeTarget → drain() every flush →
// stop() (returns a final drain). Not thread-safe across workers; one instance per use.
import { existsSync } from 'node:fs';
import { PerfSampler, samplingFrom, type SamplingScope } from './perf-sampler.js';
import { BpfObject, BpfError, type BpfMap, type Detachable, type LibbpfLogger } from '@swlite/libbpf-ts';
import { bpfObjectPath } from './paths.js';
import {
  SW_COUNTER_COUNT,
  SwCounter,
  decodeOffCpuStart,
  decodeOffCpuValue,
  decodeOnCpuValue,
  decodeStackKey,
  OFFCPU_START,
  OFFCPU_VALUE,
  ONCPU_VALUE_SIZE,
  STACK_ID_SECONDARY,
  STACK_KEY,
  u32Key,
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

export interface OnCpuStartOptions {
  /** Sampling period in ns of CPU time (default 9,000,000 = 9 ms, upstream's dump period). */
  periodNs?: number;
  /** Samples per second instead of a period. */
  frequency?: number;
  /** CPUs to sample (scope 'cpu'; default: all online CPUs). */
  cpus?: number[];
  /**
   * 'cpu' (default): one CPU-clock event per CPU samples whatever runs there; the BPF side keeps
   * target processes. Cheap (one event per CPU) whatever the number of targets.
   * 'thread': one CPU-clock event per thread of each target (inherited by threads created later):
   * samples come every period of *that thread's* own CPU time, whatever else runs on the CPU.
   * Costs one perf event per thread. Both measured within ~3% of a true 3:1 split (oncpu.test.ts).
   */
  scope?: SamplingScope;
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

const zeroLost = (): LostCounters => ({
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
abstract class StackProfilerBase {
  protected obj: BpfObject | undefined;
  protected links: Detachable[] = [];
  protected readonly targets = new Set<number>();
  protected lastCounters: bigint[] = new Array<bigint>(SW_COUNTER_COUNT).fill(0n);
  protected readonly opts: ProfilerOptions;
  protected abstract readonly aggPrefix: string;

  constructor(opts: ProfilerOptions = {}) {
    this.opts = opts;
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.obj !== undefined;
  }

  /** Target process ids. */
  get targetTgids(): number[] {
    return [...this.targets];
  }

  protected openObject(
    name: 'oncpu' | 'offcpu',
    autoload: Record<string, boolean>,
    rodata: Record<string, number | bigint>,
  ): BpfObject {
    this.lastCounters = new Array<bigint>(SW_COUNTER_COUNT).fill(0n); // fresh object, fresh counters
    const maxEntries: Record<string, number> = {};
    if (this.opts.maxStacks) {
      maxEntries.stacks_0 = maxEntries.stacks_1 = this.opts.maxStacks;
      maxEntries.stacks_0x = maxEntries.stacks_1x = Math.max(1024, this.opts.maxStacks >> 2);
    }
    if (this.opts.maxAggregates) {
      maxEntries[`${this.aggPrefix}0`] = maxEntries[`${this.aggPrefix}1`] = this.opts.maxAggregates;
    }
    return BpfObject.openAndLoad(bpfObjectPath(name, this.opts.objectDir), {
      rodata: {
        collect_kernel: this.opts.kernelStacks === false ? 0 : 1,
        collect_user: this.opts.userStacks === false ? 0 : 1,
        ...rodata,
      },
      maxEntries,
      autoload,
      ...(this.opts.logger !== undefined ? { logger: this.opts.logger } : {}),
    });
  }

  protected requireObj(op: string): BpfObject {
    if (!this.obj) throw new Error(`${op}: profiler is not started`);
    return this.obj;
  }

  /** Starts profiling `tgid` too. */
  addTarget(tgid: number): void {
    this.targets.add(tgid);
    if (this.obj) this.obj.map('target_tgids').update(u32Key(tgid), Buffer.from([1]));
  }

  /** Stops profiling `tgid` (its aggregated samples stay until the next drain). */
  removeTarget(tgid: number): void {
    this.targets.delete(tgid);
    if (this.obj) this.obj.map('target_tgids').delete(u32Key(tgid));
  }

  /** Cumulative kernel counters (summed over CPUs), indexed by SwCounter. */
  readCounters(): bigint[] {
    const m = this.requireObj('readCounters').map('counters');
    const out: bigint[] = [];
    for (let i = 0; i < SW_COUNTER_COUNT; i++) {
      const per = m.lookupPerCpu(u32Key(i)) ?? [];
      out.push(per.reduce((s, b) => s + b.readBigUInt64LE(0), 0n));
    }
    return out;
  }

  protected counterDeltas(): { lost: LostCounters; switchIns: number } {
    const now = this.readCounters();
    const last = this.lastCounters;
    this.lastCounters = now;
    const d = (i: SwCounter): number => Number((now[i] ?? 0n) - (last[i] ?? 0n));
    return {
      lost: {
        ...zeroLost(),
        samples: d(SwCounter.Samples),
        aggregationFull: d(SwCounter.AggFull),
        stackCollisions: d(SwCounter.StackCollision),
        secondaryStacks: d(SwCounter.StackSecondary),
        userStackErrors: d(SwCounter.UserStackErr),
        kernelStackErrors: d(SwCounter.KernelStackErr),
        startMapFull: d(SwCounter.StartFull),
        ringBufferFull: d(SwCounter.RingBufferFull),
      },
      switchIns: d(SwCounter.SwitchIn),
    };
  }

  /** Flips the active slot; returns the slot that just became inactive. */
  protected flip(): number {
    const control = this.requireObj('drain').map('control');
    const cur = control.lookup(u32Key(0));
    const old = cur ? cur.readUInt32LE(0) & 1 : 0;
    const next = Buffer.alloc(4);
    next.writeUInt32LE(old ^ 1);
    control.update(u32Key(0), next);
    return old;
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
    const obj = this.requireObj('drain');
    const agg = obj.map(`${this.aggPrefix}${slot}`);
    const primary = obj.map(`stacks_${slot}`);
    const secondary = obj.map(`stacks_${slot}x`);
    const mapOf = (id: number): [BpfMap, number] =>
      id & STACK_ID_SECONDARY ? [secondary, id & ~STACK_ID_SECONDARY] : [primary, id];
    const { keys, values, count } = agg.lookupAndDeleteBatch();
    const cache = new Map<number, bigint[] | null>();
    const resolve = (id: number): bigint[] => {
      if (id < 0) return [];
      let s = cache.get(id);
      if (s === undefined) {
        const [m, raw] = mapOf(id);
        s = m.stackTrace(raw);
        cache.set(id, s);
        if (!s) lost.missingStacks++;
      }
      return s ?? [];
    };
    const out: ProfiledStack[] = [];
    for (let i = 0; i < count; i++) {
      const k = decodeStackKey(keys, i * STACK_KEY.size);
      const v = decode(values, i * valueSize);
      out.push({
        tgid: k.tgid,
        userStack: resolve(k.userStackId),
        kernelStack: resolve(k.kernelStackId),
        ...v,
      });
    }
    for (const id of cache.keys()) {
      if (keep.has(id)) continue;
      const [m, raw] = mapOf(id);
      m.deleteStack(raw);
    }
    return out;
  }

  protected detach(): void {
    for (const l of this.links) {
      try {
        l.destroy();
      } catch {
        // keep going
      }
    }
    this.links = [];
  }

  /**
   * Detaches, drains what is left (both slots), frees everything and forgets the targets.
   * Safe to call twice; start() may be called again afterwards.
   */
  stop(): DrainResult {
    if (!this.obj) return { stacks: [], lost: zeroLost() };
    this.detach();
    let result: DrainResult;
    try {
      result = this.finalDrain();
    } finally {
      this.obj.close();
      this.obj = undefined;
      this.targets.clear();
    }
    return result;
  }

  protected abstract finalDrain(): DrainResult;

  protected installTargets(tgids: number[]): void {
    for (const t of tgids) this.targets.add(t);
    const m = this.requireObj('start').map('target_tgids');
    for (const t of this.targets) m.update(u32Key(t), Buffer.from([1]));
  }
}

/**
 * On-CPU profiler: samples every CPU on the software CPU clock (default every 9 ms of CPU time)
 * and counts, for target processes, samples per (tgid, user stack, kernel stack).
 */
export class OnCpuProfiler extends StackProfilerBase {
  protected readonly aggPrefix = 'counts_';

  #sampler: PerfSampler | undefined;
  #scope: SamplingScope = 'cpu';

  /** 'cpu' or 'thread' (see OnCpuStartOptions.scope). */
  get scope(): SamplingScope {
    return this.#scope;
  }

  /** Loads the program, registers `tgids` and attaches the perf events. */
  start(tgids: number[], opts: OnCpuStartOptions = {}): void {
    if (this.obj) throw new Error('OnCpuProfiler.start: already started');
    const sampling = samplingFrom(opts, 'OnCpuProfiler.start');
    this.#scope = opts.scope ?? 'cpu';
    this.obj = this.openObject('oncpu', {}, {});
    try {
      this.installTargets(tgids);
      this.#sampler = new PerfSampler(this.obj.program('on_cpu_sample'), this.#scope, sampling, opts.cpus);
      this.#sampler.start(this.targets);
    } catch (e) {
      this.detach();
      this.obj.close();
      this.obj = undefined;
      throw e;
    }
  }

  override addTarget(tgid: number): void {
    super.addTarget(tgid);
    if (this.obj) this.#sampler?.add(tgid);
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

  protected finalDrain(): DrainResult {
    const a = this.drain();
    const b = this.drain();
    return { stacks: [...a.stacks, ...b.stacks], lost: sumLost(a.lost, b.lost) };
  }
}

/**
 * Off-CPU profiler on sched_switch: for target processes, counts switches out and the time until
 * the thread runs again, per (tgid, user stack, kernel stack) captured at the switch out.
 * An interval is reported by the drain after the thread is switched back in.
 */
export class OffCpuProfiler extends StackProfilerBase {
  protected readonly aggPrefix = 'offcpu_';
  #mode: 'tp_btf' | 'tracepoint' | undefined;

  /** Which program is attached ('tp_btf' preferred, 'tracepoint' fallback). */
  get mode(): 'tp_btf' | 'tracepoint' | undefined {
    return this.#mode;
  }

  start(tgids: number[], opts: OffCpuStartOptions = {}): void {
    if (this.obj) throw new Error('OffCpuProfiler.start: already started');
    const modes: Array<'tp_btf' | 'tracepoint'> = opts.mode ? [opts.mode] : ['tp_btf', 'tracepoint'];
    let lastErr: unknown;
    for (const mode of modes) {
      try {
        const autoload = { offcpu_btf: mode === 'tp_btf', offcpu_tp: mode === 'tracepoint' };
        this.obj = this.openObject('offcpu', autoload, {
          min_block_ns: BigInt(opts.minBlockNs ?? 0),
          tp_btf_kernel_skip: opts.tpBtfKernelSkip ?? 2,
        });
        this.installTargets(tgids);
        this.links.push(this.obj.program(mode === 'tp_btf' ? 'offcpu_btf' : 'offcpu_tp').attach());
        this.#mode = mode;
        return;
      } catch (e) {
        lastErr = e;
        this.detach();
        this.obj?.close();
        this.obj = undefined;
        // Permission problems will not get better with the other program.
        if (e instanceof BpfError && (e.code === 'EPERM' || (e.code === 'ENOENT' && e.op === 'bpf_object__open_file')))
          break;
      }
    }
    throw lastErr;
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
   * Stack ids of slot `slot` still referenced by threads that are off CPU now (their interval
   * will be aggregated into that slot later). Also drops start entries of threads that are gone.
   */
  private pendingStackIds(slot: number): Set<number> {
    const starts: BpfMap = this.requireObj('drain').map('starts');
    const keep = new Set<number>();
    for (const [k, v] of starts.entries()) {
      if (v.length < OFFCPU_START.size) continue;
      const s = decodeOffCpuStart(v);
      const tid = k.readUInt32LE(0);
      if (!this.targets.has(s.tgid) || !existsSync(`/proc/${s.tgid}/task/${tid}`)) {
        starts.delete(k);
        continue;
      }
      if (s.slot !== slot) continue;
      if (s.userStackId >= 0) keep.add(s.userStackId);
      if (s.kernelStackId >= 0) keep.add(s.kernelStackId);
    }
    return keep;
  }

  protected finalDrain(): DrainResult {
    const a = this.drain();
    const b = this.drain();
    return {
      stacks: [...a.stacks, ...b.stacks],
      lost: sumLost(a.lost, b.lost),
      switchIns: (a.switchIns ?? 0) + (b.switchIns ?? 0),
    };
  }
}

function sumLost(a: LostCounters, b: LostCounters): LostCounters {
  const out = zeroLost();
  for (const k of Object.keys(out) as Array<keyof LostCounters>) out[k] = a[k] + b[k];
  return out;
}
