// Off-CPU profiling with stack snapshots (offcpu_snapshot.bpf.c): for binaries without frame
// pointers. When a target thread switches out, a snapshot (registers, kernel stack, user stack
// copy) arrives through a ring buffer (polled on a timer) stamped with the switch-out time. The
// intervals until the switch-ins are aggregated in the kernel per (tgid, tid, tsOut) and read by
// poll(), after the ring: the caller unwinds each snapshot once and attributes the intervals with
// the same (tid, tsOut) to it. A thread that blocks again with the same signature (registers,
// kernel stack, the return addresses atop its user stack) reuses its last snapshot, so keep the
// last snapshot of each thread, not only until its first intervals.
import { existsSync } from 'node:fs';
import type { LibbpfLogger, RingBuffer } from '@swlite/libbpf-ts';
import type { LoadedObject } from './core/loaded-object.js';
import { attachSchedSwitch, type SchedSwitchMode } from './core/sched-switch.js';
import {
  snapshotLoadOptions,
  snapshotRingOptions,
  type SnapshotCaptureOptions,
  type SnapshotRingOptions,
} from './core/snapshot-options.js';
import { TargetTable } from './core/targets.js';
import { writeStackBytes } from './core/stack-bytes.js';
import { flipSlot } from './core/slots.js';
import {
  decodeOffCpuIntervals,
  decodeStackSnapshot,
  SNAP_START,
  SwCounter,
  type OffCpuIntervals,
  type StackSnapshot,
} from './layout.js';
import { PythonTracer, type PythonTracerOptions } from './python/tracer.js';

export interface OffCpuSnapshotOptions extends SnapshotRingOptions {
  objectDir?: string;
  logger?: LibbpfLogger | null;
  /**
   * Ring buffer size in bytes (power of two, default 8 MiB). Only snapshots with a new signature
   * cross it (nginx under wrk: a few percent of the switch-outs); its pages count twice in RSS.
   */
  ringBytes?: number;
  /** Ring buffer poll interval in ms (default 50). */
  pollIntervalMs?: number;
  /** Called for each switch-out snapshot, in ring buffer order. Its userStack is a view of the
   * ring buffer's reused arena, valid only until the callback returns. */
  onSnapshot: (s: StackSnapshot) => void;
  /** Distinct (tgid, tid, tsOut) per slot of the interval aggregation (default 10240). */
  maxAggregates?: number;
  /** Python frames of CPython targets (default: read). */
  python?: PythonTracerOptions;
}

export interface OffCpuSnapshotStartOptions extends SnapshotCaptureOptions {
  /** Force the attach mode (default: tp_btf when the kernel allows, else the tracepoint). */
  mode?: SchedSwitchMode;
  /** tp_btf: leading kernel frames to drop (default 2, as OffCpuProfiler). */
  tpBtfKernelSkip?: number;
  /** Ignore off-CPU intervals shorter than this (ns, default 0; in the kernel). */
  minBlockNs?: number;
}

export interface OffCpuSnapshotLost {
  /** Switch-outs of target threads seen by the program since the previous read. */
  samples: number;
  /** Completed intervals aggregated. */
  switchIns: number;
  /** Intervals dropped: the aggregation map was full. */
  aggregationFull: number;
  /** Records dropped because the ring buffer was full. */
  ringBufferFull: number;
  /** Switch-outs whose user stack could not be copied. */
  userStackErrors: number;
  /** Switch-outs dropped: per-thread start map full. */
  startMapFull: number;
  /** Switch-outs that reused the thread's previous snapshot (not emitted again). */
  snapshotsReused: number;
  /** Python frame walks cut short (a frame or code object unreadable, or of the wrong type). */
  pythonWalksCut: number;
}

/** What poll() read: the intervals aggregated since the previous poll, and the counters. */
export interface OffCpuSnapshotPoll {
  intervals: OffCpuIntervals[];
  lost: OffCpuSnapshotLost;
}

const noLoss = (): OffCpuSnapshotLost => ({
  samples: 0,
  switchIns: 0,
  aggregationFull: 0,
  ringBufferFull: 0,
  userStackErrors: 0,
  startMapFull: 0,
  snapshotsReused: 0,
  pythonWalksCut: 0,
});

export class OffCpuSnapshotProfiler {
  #loaded: LoadedObject<'offcpu_snapshot'> | undefined;
  #rb: RingBuffer | undefined;
  #python: PythonTracer | undefined;
  readonly #targets = new TargetTable();
  /** The start's minBlockNs, for the switches still open at stop. */
  #minBlockNs = 0n;
  #mode: SchedSwitchMode | undefined;
  #fallbackReason: string | undefined;
  #records = 0;
  #bytes = 0;

  constructor(private readonly opts: OffCpuSnapshotOptions) {}

  get running(): boolean {
    return this.#loaded !== undefined;
  }

  get mode(): SchedSwitchMode | undefined {
    return this.#mode;
  }

  /** Why tp_btf was refused when the tracepoint is attached instead (for the log). */
  get fallbackReason(): string | undefined {
    return this.#fallbackReason;
  }

  /** Records and bytes consumed from the ring buffer so far. */
  get consumed(): { records: number; bytes: number } {
    return { records: this.#records, bytes: this.#bytes };
  }

  start(tgids: number[], opts: OffCpuSnapshotStartOptions = {}): void {
    if (this.#loaded) throw new Error('OffCpuSnapshotProfiler.start: already started');
    const snapshot = snapshotLoadOptions(opts, this.opts.ringBytes ?? 8 << 20);
    this.#minBlockNs = BigInt(opts.minBlockNs ?? 0);
    const aggregates = this.opts.maxAggregates;
    let rb: RingBuffer | undefined;
    const { loaded, mode, fallbackReason } = attachSchedSwitch(
      'offcpu_snapshot',
      {
        ...snapshot,
        rodata: {
          ...snapshot.rodata,
          tp_btf_kernel_skip: opts.tpBtfKernelSkip ?? 2,
          min_block_ns: this.#minBlockNs,
        },
        maxEntries: {
          ...snapshot.maxEntries,
          ...(aggregates ? { snap_intervals_0: aggregates, snap_intervals_1: aggregates } : {}),
        },
        objectDir: this.opts.objectDir,
        logger: this.opts.logger,
      },
      opts.mode,
      (l) => {
        for (const t of tgids) this.#targets.add(t);
        l.bindTargets(this.#targets);
        this.#python = new PythonTracer(l.map('py_procs'), l.map('py_codes'), this.opts.python);
        for (const t of tgids) this.#python.add(t);
        rb = l.ringBuffer(
          'snapshots',
          (rec) => this.#onRecord(rec),
          snapshotRingOptions(this.opts, this.opts.pollIntervalMs ?? 50),
        );
      },
    );
    this.#rb = rb;
    this.#loaded = loaded;
    this.#mode = mode;
    this.#fallbackReason = fallbackReason;
  }

  #onRecord(rec: Buffer): void {
    this.#records++;
    this.#bytes += rec.length;
    const s = decodeStackSnapshot(rec, false);
    if (s.pyFrames.length && this.#python) s.python = this.#python.name(s.tgid, s.pyFrames);
    this.opts.onSnapshot(s);
  }

  addTarget(tgid: number): void {
    this.#targets.add(tgid);
    this.#python?.add(tgid);
  }

  /**
   * Makes the next switch-out of these threads emit a fresh snapshot: the kernel reuses a thread's
   * recent snapshots by signature, so a caller that drops the snapshots it holds for a thread
   * must say so here (without a tid list: every thread), or that thread's intervals would point
   * at snapshots no one has any more.
   */
  forgetSnapshots(tids?: Iterable<number>): void {
    const map = this.#loaded?.map('last_snaps');
    if (!map) return;
    if (!tids) {
      map.clear();
      return;
    }
    const key = Buffer.alloc(4);
    for (const tid of tids) {
      key.writeUInt32LE(tid);
      map.delete(key);
    }
  }

  /**
   * Bytes of user stack to copy for tgid's snapshots from now on (at most the start option
   * userStackBytes); undefined: back to that. Kept until removeTarget() or stop().
   */
  setStackBytes(tgid: number, bytes: number | undefined): void {
    writeStackBytes(this.#loaded?.map('stack_bytes'), tgid, bytes);
  }

  removeTarget(tgid: number): void {
    this.setStackBytes(tgid, undefined);
    this.#targets.remove(tgid);
    this.#python?.remove(tgid);
  }

  /**
   * Reads the intervals aggregated since the previous poll (flipping the slot, then draining the
   * other one), then consumes the ring buffer (onSnapshot runs): in that order, every snapshot an
   * interval read here refers to has been handed over before poll() returns. Counters are deltas.
   */
  poll(): OffCpuSnapshotPoll {
    const loaded = this.#loaded;
    if (!loaded) throw new Error('OffCpuSnapshotProfiler.poll: not started');
    const slot = flipSlot(loaded.map('control'));
    const { keys, values, count } = loaded.map(slot ? 'snap_intervals_1' : 'snap_intervals_0').lookupAndDeleteBatch();
    const intervals: OffCpuIntervals[] = [];
    for (let i = 0; i < count; i++) intervals.push(decodeOffCpuIntervals(keys, values, i));
    this.#rb?.poll();
    const d = loaded.counters.deltas();
    return {
      intervals,
      lost: {
        samples: d[SwCounter.Samples]!,
        switchIns: d[SwCounter.SwitchIn]!,
        aggregationFull: d[SwCounter.AggFull]!,
        ringBufferFull: d[SwCounter.RingBufferFull]!,
        userStackErrors: d[SwCounter.UserStackErr]!,
        startMapFull: d[SwCounter.StartFull]!,
        snapshotsReused: d[SwCounter.SnapshotReused]!,
        pythonWalksCut: d[SwCounter.PyInvalid]!,
      },
    };
  }

  /**
   * The switches still open when the programs were detached: a target thread that switched out
   * and has not run since (an idle worker, a thread parked for the whole task) is off CPU until
   * now, one switch. Left out, a task would never show the threads that were blocked longest.
   * Threads that have exited meanwhile are dropped (an exiting thread's last switch-out never
   * ends), as are intervals shorter than the minimum block time.
   */
  #openIntervals(loaded: LoadedObject<'offcpu_snapshot'>): OffCpuIntervals[] {
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns
    const out: OffCpuIntervals[] = [];
    for (const [k, v] of loaded.map('starts').entries()) {
      const st = SNAP_START.decode(v);
      const tid = k.readUInt32LE(0);
      if (!this.#targets.has(st.tgid) || now <= st.tsNs || now - st.tsNs < this.#minBlockNs) continue;
      if (!existsSync(`/proc/${st.tgid}/task/${tid}`)) continue;
      out.push({ tsOut: st.snapTs, tgid: st.tgid, tid, count: 1, durationNs: Number(now - st.tsNs) });
    }
    return out;
  }

  /**
   * Detaches, reads the rest (both slots) and the switches still open (their threads are off CPU
   * until now), frees everything; returns the final read.
   */
  stop(): OffCpuSnapshotPoll {
    const loaded = this.#loaded;
    if (!loaded) return { intervals: [], lost: noLoss() };
    loaded.detach();
    try {
      const a = this.poll();
      const b = this.poll();
      const lost = noLoss();
      for (const k of Object.keys(lost) as Array<keyof OffCpuSnapshotLost>) lost[k] = a.lost[k] + b.lost[k];
      return { intervals: [...a.intervals, ...b.intervals, ...this.#openIntervals(loaded)], lost };
    } finally {
      this.#rb = undefined;
      this.#python = undefined;
      loaded.close();
      this.#loaded = undefined;
      this.#targets.clear();
    }
  }
}
