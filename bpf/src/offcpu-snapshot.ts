// Off-CPU profiling with stack snapshots (offcpu_snapshot.bpf.c): for binaries without frame
// pointers. When a target thread switches out, a snapshot (registers, kernel stack, user stack
// copy) arrives stamped with the switch-out time; when it switches in again, an interval
// {tsOut, tgid, tid, durationNs}. The caller unwinds each snapshot once and attributes the
// intervals with the same (tid, tsOut) to it: a thread that blocks again with the same signature
// (registers, kernel stack, top 64 bytes of user stack) reuses its last snapshot, so keep the
// last snapshot of each thread, not only until its first interval. Records are consumed from a
// ring buffer polled on a timer. Aggregation is the caller's (it needs the unwound stacks).
import type { LibbpfLogger, RingBuffer } from '@swlite/libbpf-ts';
import type { LoadedObject } from './core/loaded-object.js';
import { attachSchedSwitch, type SchedSwitchMode } from './core/sched-switch.js';
import { snapshotLoadOptions, type SnapshotCaptureOptions } from './core/snapshot-options.js';
import { TargetTable } from './core/targets.js';
import {
  decodeOffCpuInterval,
  decodeStackSnapshot,
  SNAPSHOT_HDR,
  SwCounter,
  type OffCpuInterval,
  type StackSnapshot,
} from './layout.js';
import { PythonTracer, type PythonTracerOptions } from './python/tracer.js';

export interface OffCpuSnapshotOptions {
  objectDir?: string;
  logger?: LibbpfLogger | null;
  /** Ring buffer size in bytes (power of two, default 16 MiB). */
  ringBytes?: number;
  /** Ring buffer poll interval in ms (default 20). */
  pollIntervalMs?: number;
  /** Called for each switch-out snapshot, in ring buffer order. Its userStack is a view of the
   * ring buffer's reused arena, valid only until the callback returns. */
  onSnapshot: (s: StackSnapshot) => void;
  /** Called for each completed off-CPU interval (after its snapshot, in ring buffer order). */
  onInterval: (iv: OffCpuInterval) => void;
  /** Python frames of CPython targets (default: read). */
  python?: PythonTracerOptions;
}

export interface OffCpuSnapshotStartOptions extends SnapshotCaptureOptions {
  /** Force the attach mode (default: tp_btf when the kernel allows, else the tracepoint). */
  mode?: SchedSwitchMode;
  /** tp_btf: leading kernel frames to drop (default 2, as OffCpuProfiler). */
  tpBtfKernelSkip?: number;
}

export interface OffCpuSnapshotLost {
  /** Switch-outs of target threads seen by the program since the previous read. */
  samples: number;
  /** Completed intervals emitted. */
  switchIns: number;
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

const noLoss = (): OffCpuSnapshotLost => ({
  samples: 0,
  switchIns: 0,
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
    const snapshot = snapshotLoadOptions(opts, this.opts.ringBytes ?? 16 << 20);
    let rb: RingBuffer | undefined;
    const { loaded, mode, fallbackReason } = attachSchedSwitch(
      'offcpu_snapshot',
      {
        ...snapshot,
        rodata: { ...snapshot.rodata, tp_btf_kernel_skip: opts.tpBtfKernelSkip ?? 2 },
        objectDir: this.opts.objectDir,
        logger: this.opts.logger,
      },
      opts.mode,
      (l) => {
        for (const t of tgids) this.#targets.add(t);
        l.bindTargets(this.#targets);
        this.#python = new PythonTracer(l.map('py_procs'), l.map('py_codes'), this.opts.python);
        for (const t of tgids) this.#python.add(t);
        rb = l.ringBuffer('snapshots', (rec) => this.#onRecord(rec), {
          intervalMs: this.opts.pollIntervalMs ?? 20,
          borrow: true,
        });
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
    if (rec.length < SNAPSHOT_HDR.size) this.opts.onInterval(decodeOffCpuInterval(rec));
    else {
      const s = decodeStackSnapshot(rec, false);
      if (s.pyFrames.length && this.#python) s.python = this.#python.name(s.tgid, s.pyFrames);
      this.opts.onSnapshot(s);
    }
  }

  addTarget(tgid: number): void {
    this.#targets.add(tgid);
    this.#python?.add(tgid);
  }

  removeTarget(tgid: number): void {
    this.#targets.remove(tgid);
    this.#python?.remove(tgid);
  }

  /** Consumes what is in the ring buffer now (callbacks run), returns counter deltas. */
  poll(): OffCpuSnapshotLost {
    const loaded = this.#loaded;
    if (!loaded) throw new Error('OffCpuSnapshotProfiler.poll: not started');
    this.#rb?.poll();
    const d = loaded.counters.deltas();
    return {
      samples: d[SwCounter.Samples]!,
      switchIns: d[SwCounter.SwitchIn]!,
      ringBufferFull: d[SwCounter.RingBufferFull]!,
      userStackErrors: d[SwCounter.UserStackErr]!,
      startMapFull: d[SwCounter.StartFull]!,
      snapshotsReused: d[SwCounter.SnapshotReused]!,
      pythonWalksCut: d[SwCounter.PyInvalid]!,
    };
  }

  /** Detaches, consumes the rest, frees everything; returns the final counters. */
  stop(): OffCpuSnapshotLost {
    const loaded = this.#loaded;
    if (!loaded) return noLoss();
    loaded.detach();
    try {
      return this.poll();
    } finally {
      this.#rb = undefined;
      this.#python = undefined;
      loaded.close();
      this.#loaded = undefined;
      this.#targets.clear();
    }
  }
}
