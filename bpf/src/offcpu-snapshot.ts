// Off-CPU profiling with stack snapshots (offcpu_snapshot.bpf.c): for binaries without frame
// pointers. When a target thread switches out, a snapshot (registers, kernel stack, user stack
// copy) arrives stamped with the switch-out time; when it switches in again, an interval
// {tsOut, tgid, tid, durationNs}. The caller unwinds each snapshot once and attributes the
// intervals with the same (tid, tsOut) to it: a thread that blocks again with the same signature
// (registers, kernel stack, top 64 bytes of user stack) reuses its last snapshot, so keep the
// last snapshot of each thread, not only until its first interval. Records are consumed from a ring buffer polled on a
// timer. Aggregation is the caller's (it needs the unwound stacks).
import { BpfError, BpfObject, RingBuffer, type LibbpfLogger } from '@swlite/libbpf-ts';
import { bpfObjectPath, possibleCpus } from './paths.js';
import {
  decodeOffCpuInterval,
  decodeStackSnapshot,
  SNAPSHOT_HDR,
  SNAPSHOT_MAX_USER_STACK,
  SwCounter,
  SW_COUNTER_COUNT,
  u32Key,
  type OffCpuInterval,
  type StackSnapshot,
} from './layout.js';

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
}

export interface OffCpuSnapshotStartOptions {
  /** Bytes of user stack copied per switch-out (default 8192, max 32768). */
  userStackBytes?: number;
  /** Collect kernel stacks (default true). */
  kernelStacks?: boolean;
  /** Also record the kernel's frame-pointer walk of the user stack (default false). */
  userFpStacks?: boolean;
  /** Force the attach mode (default: tp_btf when the kernel allows, else the tracepoint). */
  mode?: 'tp_btf' | 'tracepoint';
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
}

export class OffCpuSnapshotProfiler {
  #obj: BpfObject | undefined;
  #rb: RingBuffer | undefined;
  #links: Array<{ destroy(): void }> = [];
  #targets = new Set<number>();
  #last: bigint[] = new Array<bigint>(SW_COUNTER_COUNT).fill(0n);
  #mode: 'tp_btf' | 'tracepoint' | undefined;
  #records = 0;
  #bytes = 0;

  constructor(private readonly opts: OffCpuSnapshotOptions) {}

  get running(): boolean {
    return this.#obj !== undefined;
  }

  get mode(): 'tp_btf' | 'tracepoint' | undefined {
    return this.#mode;
  }

  /** Records and bytes consumed from the ring buffer so far. */
  get consumed(): { records: number; bytes: number } {
    return { records: this.#records, bytes: this.#bytes };
  }

  start(tgids: number[], opts: OffCpuSnapshotStartOptions = {}): void {
    if (this.#obj) throw new Error('OffCpuSnapshotProfiler.start: already started');
    const userBytes = Math.min(SNAPSHOT_MAX_USER_STACK, opts.userStackBytes ?? 8192);
    const modes: Array<'tp_btf' | 'tracepoint'> = opts.mode ? [opts.mode] : ['tp_btf', 'tracepoint'];
    for (const t of tgids) this.#targets.add(t);
    let lastErr: unknown;
    for (const mode of modes) {
      try {
        this.#last = new Array<bigint>(SW_COUNTER_COUNT).fill(0n);
        const obj = BpfObject.open(bpfObjectPath('offcpu_snapshot', this.opts.objectDir), {
          rodata: {
            user_stack_bytes: userBytes,
            collect_kernel: opts.kernelStacks === false ? 0 : 1,
            collect_user_fp: opts.userFpStacks ? 1 : 0,
            tp_btf_kernel_skip: opts.tpBtfKernelSkip ?? 2,
          },
          maxEntries: { snapshots: this.opts.ringBytes ?? 16 << 20, scratch: possibleCpus() },
          autoload: { offcpu_snap_btf: mode === 'tp_btf', offcpu_snap_tp: mode === 'tracepoint' },
          ...(this.opts.logger !== undefined ? { logger: this.opts.logger } : {}),
        });
        this.#obj = obj;
        obj.load();
        for (const t of this.#targets) obj.map('target_tgids').update(u32Key(t), Buffer.from([1]));
        this.#rb = obj.ringBuffer('snapshots', (rec) => this.#onRecord(rec), {
          intervalMs: this.opts.pollIntervalMs ?? 20,
          borrow: true,
        });
        this.#links.push(obj.program(mode === 'tp_btf' ? 'offcpu_snap_btf' : 'offcpu_snap_tp').attach());
        this.#mode = mode;
        return;
      } catch (e) {
        lastErr = e;
        this.#teardown();
        if (e instanceof BpfError && (e.code === 'EPERM' || (e.code === 'ENOENT' && e.op === 'bpf_object__open_file')))
          break;
      }
    }
    this.#targets.clear();
    throw lastErr;
  }

  #onRecord(rec: Buffer): void {
    this.#records++;
    this.#bytes += rec.length;
    if (rec.length < SNAPSHOT_HDR.size) this.opts.onInterval(decodeOffCpuInterval(rec));
    else this.opts.onSnapshot(decodeStackSnapshot(rec, false));
  }

  addTarget(tgid: number): void {
    this.#targets.add(tgid);
    this.#obj?.map('target_tgids').update(u32Key(tgid), Buffer.from([1]));
  }

  removeTarget(tgid: number): void {
    this.#targets.delete(tgid);
    this.#obj?.map('target_tgids').delete(u32Key(tgid));
  }

  /** Consumes what is in the ring buffer now (callbacks run), returns counter deltas. */
  poll(): OffCpuSnapshotLost {
    const obj = this.#obj;
    if (!obj) throw new Error('OffCpuSnapshotProfiler.poll: not started');
    this.#rb?.poll();
    const counters = obj.map('counters');
    const now: bigint[] = [];
    for (let i = 0; i < SW_COUNTER_COUNT; i++) {
      now.push((counters.lookupPerCpu(u32Key(i)) ?? []).reduce((s, b) => s + b.readBigUInt64LE(0), 0n));
    }
    const last = this.#last;
    const d = (i: SwCounter): number => Number((now[i] ?? 0n) - (last[i] ?? 0n));
    this.#last = now;
    return {
      samples: d(SwCounter.Samples),
      switchIns: d(SwCounter.SwitchIn),
      ringBufferFull: d(SwCounter.RingBufferFull),
      userStackErrors: d(SwCounter.UserStackErr),
      startMapFull: d(SwCounter.StartFull),
      snapshotsReused: d(SwCounter.SnapshotReused),
    };
  }

  /** Detaches, consumes the rest, frees everything; returns the final counters. */
  stop(): OffCpuSnapshotLost {
    if (!this.#obj) return { samples: 0, switchIns: 0, ringBufferFull: 0, userStackErrors: 0, startMapFull: 0, snapshotsReused: 0 };
    for (const l of this.#links) l.destroy();
    this.#links = [];
    try {
      return this.poll();
    } finally {
      this.#teardown();
      this.#targets.clear();
    }
  }

  #teardown(): void {
    for (const l of this.#links) {
      try {
        l.destroy();
      } catch {
        /* keep going */
      }
    }
    this.#links = [];
    this.#rb?.close();
    this.#rb = undefined;
    this.#obj?.close();
    this.#obj = undefined;
  }
}
