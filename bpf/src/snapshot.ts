// Stack snapshot mode: for binaries without frame pointers. Each sample of a target process is
// a ring buffer record with the user registers, the kernel stack and a copy of the top of the
// user stack; user space unwinds it with CFI (.eh_frame), like `perf record --call-graph dwarf`.
// Records are consumed from a libbpf ring buffer polled on a timer (never blocking the loop).
import type { LibbpfLogger, RingBuffer } from '@swlite/libbpf-ts';
import { possibleCpus } from './paths.js';
import { PerfSampler, samplingFrom, type ScopeOptions } from './perf-sampler.js';
import { LoadedObject } from './core/loaded-object.js';
import { TargetTable } from './core/targets.js';
import { writeStackBytes } from './core/stack-bytes.js';
import {
  snapshotLoadOptions,
  snapshotRingOptions,
  type SnapshotCaptureOptions,
  type SnapshotRingOptions,
} from './core/snapshot-options.js';
import { decodeStackSnapshot, SwCounter, type StackSnapshot } from './layout.js';
import { PythonTracer, type PythonTracerOptions } from './python/tracer.js';

export interface SnapshotProfilerOptions extends SnapshotRingOptions {
  objectDir?: string;
  logger?: LibbpfLogger | null;
  /** Ring buffer size in bytes (power of two; default onCpuRingBytes() of the possible CPUs). */
  ringBytes?: number;
  /**
   * Ring buffer poll interval in ms (default 100). Records wait in the ring (BPF_RB_NO_WAKEUP)
   * until polled; each poll wakes the event loop, and at 20 ms those wake-ups were a third of
   * rover's CPU in steady state. The default ring holds several times 100 ms at full rate.
   */
  pollIntervalMs?: number;
  /**
   * Called for each snapshot as it is consumed. Its userStack is a view of the ring buffer's
   * reused arena, valid only until the callback returns (unwind it there, or copy it). Without
   * the callback, snapshots (with their own copies) are buffered until drain() (bounded by
   * maxBuffered).
   */
  onSnapshot?: (s: StackSnapshot) => void;
  /** Buffered snapshots kept for drain() before the oldest are dropped (default 100,000). */
  maxBuffered?: number;
  /** Python frames of CPython targets (default: read). */
  python?: PythonTracerOptions;
}

/**
 * On-CPU snapshots arrive at most once per sampling period per CPU, ~33 KB each with a 32 KiB
 * stack copy: at 9 ms, ~3.7 MB/s for each busy CPU. 2 MiB per possible CPU holds over half a
 * second of that (a symbolizer cold load can hold the event loop that long at a task's start),
 * within [4, 64] MiB, a power of two as the kernel requires. Every page of the ring ends up in
 * rover's RSS twice (the data area is mapped twice for wrap-around), so a fixed size too big for
 * a small host costs memory and one too small for a big host drops samples.
 */
export const onCpuRingBytes = (cpus = possibleCpus()): number =>
  Math.min(64 << 20, Math.max(4 << 20, 2 ** Math.ceil(Math.log2(cpus * (2 << 20)))));

export interface SnapshotStartOptions extends SnapshotCaptureOptions, ScopeOptions {
  periodNs?: number;
  frequency?: number;
  cpus?: number[];
}

export interface SnapshotLost {
  /** Samples of target tasks seen by the program since the previous drain. */
  samples: number;
  /** Records dropped because the ring buffer was full. */
  ringBufferFull: number;
  /** Samples whose user stack could not be copied (record still emitted, empty stack). */
  userStackErrors: number;
  /** Records dropped in user space (buffer for drain() full). */
  droppedInUserSpace: number;
  /** Python frame walks cut short (a frame or code object unreadable, or of the wrong type). */
  pythonWalksCut: number;
}

const noLoss = (): SnapshotLost => ({
  samples: 0,
  ringBufferFull: 0,
  userStackErrors: 0,
  droppedInUserSpace: 0,
  pythonWalksCut: 0,
});

export class StackSnapshotProfiler {
  #loaded: LoadedObject<'oncpu_snapshot'> | undefined;
  #rb: RingBuffer | undefined;
  #sampler: PerfSampler | undefined;
  #python: PythonTracer | undefined;
  readonly #targets = new TargetTable();
  #buffered: StackSnapshot[] = [];
  #dropped = 0;
  #bytes = 0;
  #records = 0;

  constructor(private readonly opts: SnapshotProfilerOptions = {}) {}

  get running(): boolean {
    return this.#loaded !== undefined;
  }

  /** Records and bytes consumed from the ring buffer so far. */
  get consumed(): { records: number; bytes: number } {
    return { records: this.#records, bytes: this.#bytes };
  }

  start(tgids: number[], opts: SnapshotStartOptions = {}): void {
    if (this.#loaded) throw new Error('StackSnapshotProfiler.start: already started');
    const sampling = samplingFrom(opts, 'StackSnapshotProfiler.start');
    const loaded = LoadedObject.load('oncpu_snapshot', {
      ...snapshotLoadOptions(opts, this.opts.ringBytes ?? onCpuRingBytes()),
      objectDir: this.opts.objectDir,
      logger: this.opts.logger,
    });
    let rb: RingBuffer;
    try {
      for (const t of tgids) this.#targets.add(t);
      loaded.bindTargets(this.#targets);
      this.#python = new PythonTracer(loaded.map('py_procs'), loaded.map('py_codes'), this.opts.python);
      for (const t of tgids) this.#python.add(t);
      rb = loaded.ringBuffer(
        'snapshots',
        (rec) => this.#onRecord(rec),
        snapshotRingOptions(this.opts, this.opts.pollIntervalMs ?? 100),
      );
      this.#sampler = new PerfSampler(
        { cpu: loaded.obj.program('on_cpu_snapshot'), thread: loaded.obj.program('on_cpu_snapshot_thread') },
        opts.scope ?? 'cpu',
        sampling,
        this.#targets,
        opts,
      );
      this.#sampler.start();
    } catch (e) {
      this.#sampler?.destroy();
      this.#sampler = undefined;
      this.#python = undefined;
      loaded.close();
      throw e;
    }
    this.#rb = rb;
    this.#loaded = loaded;
  }

  #onRecord(rec: Buffer): void {
    this.#records++;
    this.#bytes += rec.length;
    if (this.opts.onSnapshot) {
      this.opts.onSnapshot(this.#named(decodeStackSnapshot(rec, false))); // a view: valid during the call only
      return;
    }
    const s = this.#named(decodeStackSnapshot(rec, true));
    if (this.#buffered.length >= (this.opts.maxBuffered ?? 100_000)) {
      this.#buffered.shift();
      this.#dropped++;
    }
    this.#buffered.push(s);
  }

  #named(s: StackSnapshot): StackSnapshot {
    if (s.pyFrames.length && this.#python) s.python = this.#python.name(s.tgid, s.pyFrames);
    return s;
  }

  addTarget(tgid: number): void {
    this.#targets.add(tgid);
    this.#python?.add(tgid);
    if (this.#loaded) this.#sampler?.add(tgid);
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
    this.#sampler?.remove(tgid);
  }

  /** Consumes what is in the ring buffer now, returns buffered snapshots and loss counters. */
  drain(): { snapshots: StackSnapshot[]; lost: SnapshotLost } {
    const loaded = this.#loaded;
    if (!loaded) throw new Error('StackSnapshotProfiler.drain: not started');
    this.#rb?.poll();
    const d = loaded.counters.deltas();
    const lost: SnapshotLost = {
      samples: d[SwCounter.Samples]!,
      ringBufferFull: d[SwCounter.RingBufferFull]!,
      userStackErrors: d[SwCounter.UserStackErr]!,
      droppedInUserSpace: this.#dropped,
      pythonWalksCut: d[SwCounter.PyInvalid]!,
    };
    this.#dropped = 0;
    const snapshots = this.#buffered;
    this.#buffered = [];
    return { snapshots, lost };
  }

  /** Detaches, consumes the rest, frees everything; returns the final drain. */
  stop(): { snapshots: StackSnapshot[]; lost: SnapshotLost } {
    const loaded = this.#loaded;
    if (!loaded) return { snapshots: [], lost: noLoss() };
    this.#sampler?.destroy();
    this.#sampler = undefined;
    try {
      return this.drain();
    } finally {
      this.#rb = undefined;
      this.#python = undefined;
      loaded.close();
      this.#loaded = undefined;
      this.#targets.clear();
    }
  }
}
