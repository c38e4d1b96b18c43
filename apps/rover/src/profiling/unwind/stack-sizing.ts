/**
 * Per process, how much user stack the kernel copies per snapshot, chosen by what unwinding its
 * snapshots used. Every snapshot starts at the ceiling (the sampler's userStackBytes); most
 * processes' walks reach their root within a few KiB of sp, and each byte copied beyond that
 * crosses the ring buffer for nothing (a busy server's off-CPU snapshots filled it).
 *
 * A walk reads the same words, so finds the same frames, from any copy at least as long as the
 * bytes it used (UnwindReach.used). Once `settleWalks` walks of a process have been complete
 * (reached the root or maxFrames), its copy is cut to the most any of its walks used, plus a
 * margin. A complete walk that comes within the margin of the copy grows it ahead of need; a
 * walk that runs off a cut copy returns the process to the ceiling at once (the snapshots
 * already taken at the cut size lose their outer frames), to be cut again, deeper, after
 * `settleWalks` more complete walks. Growing straight to the ceiling, rather than doubling,
 * loses at most the snapshots in flight when the stack deepens, not those of each doubling.
 */
import type { UnwindReach } from '@swlite/symbolizer';

export interface StackSizingOptions {
  /** Complete walks of a process before its copy is cut (default 16). */
  settleWalks?: number;
  /** Bytes kept beyond the most a walk used (default 1024). */
  marginBytes?: number;
  /** The smallest copy (default 1024). */
  minBytes?: number;
}

/** Sets the kernel's copy size for a process (undefined: back to the ceiling). */
export type ApplyStackBytes = (tgid: number, bytes: number | undefined) => void;

interface ProcessSizing {
  /** Bytes copied for its snapshots now (the ceiling until cut). */
  bytes: number;
  /** The most bytes any of its walks used that did not run off the copy. */
  used: number;
  /** Complete walks since it was last at the ceiling. */
  complete: number;
}

/** Sizes are multiples of this: a stack that moves by a few words does not resize the copy. */
const GRAIN = 256;

export class StackSizer {
  readonly #procs = new Map<number, ProcessSizing>();
  readonly #settle: number;
  readonly #margin: number;
  readonly #min: number;
  /**
   * Walks that ran off a copy cut below the ceiling: their outer frames lost to sizing (an upper
   * bound: a copy the end of the stack mapping cut is counted too).
   */
  cutShort = 0;
  /** Times a process went back to the ceiling. */
  regrown = 0;
  /** Copy sizes set (each changes the process's off-CPU snapshot signatures: new snapshots). */
  resized = 0;
  /** Walks observed, by how they ended. */
  readonly ends: Record<UnwindReach['end'], number> = { root: 0, short: 0, frames: 0, other: 0 };

  constructor(
    readonly ceiling: number,
    private readonly apply: ApplyStackBytes,
    opts: StackSizingOptions = {},
  ) {
    this.#settle = opts.settleWalks ?? 16;
    this.#margin = opts.marginBytes ?? 1024;
    this.#min = opts.minBytes ?? 1024;
  }

  /** Bytes copied for tgid's snapshots now. */
  bytesOf(tgid: number): number {
    return this.#procs.get(tgid)?.bytes ?? this.ceiling;
  }

  /** Takes in one walk of a snapshot of tgid whose stack copy was `copied` bytes long. */
  observe(tgid: number, copied: number, reach: UnwindReach): void {
    this.ends[reach.end]++;
    let p = this.#procs.get(tgid);
    if (!p) {
      p = { bytes: this.ceiling, used: 0, complete: 0 };
      this.#procs.set(tgid, p);
    }
    if (reach.end === 'short') {
      // A copy cut short by the end of the stack mapping, or a read far above sp (a stale frame
      // pointer), would not be helped by a longer copy; one taken before the last resize is
      // dealt with already.
      if (copied < this.ceiling && copied >= p.bytes && reach.shortAt < this.ceiling) {
        this.cutShort++;
        this.regrown++;
        p.bytes = this.ceiling;
        p.complete = 0;
        this.resized++;
        this.apply(tgid, undefined);
      } else if (copied < this.ceiling && copied < p.bytes) this.cutShort++;
      return;
    }
    if (reach.used > p.used) p.used = reach.used;
    if (reach.end === 'other') return;
    p.complete++;
    const fit = Math.min(this.ceiling, Math.max(this.#min, Math.ceil((p.used + this.#margin) / GRAIN) * GRAIN));
    const cut = p.bytes < this.ceiling;
    if (cut ? fit > p.bytes : p.complete >= this.#settle && fit < this.ceiling) {
      p.bytes = fit;
      this.resized++;
      this.apply(tgid, fit);
    }
  }

  /** Forgets a process (no longer a target). */
  forget(tgid: number): void {
    this.#procs.delete(tgid);
  }

  /** Forgets every process (the profiler stopped: its map, and the sizes in it, are gone). */
  clear(): void {
    this.#procs.clear();
  }
}
