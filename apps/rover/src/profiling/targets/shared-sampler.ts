/**
 * One kernel sampler shared by every run of a stack target. Loading a sampler costs megabytes,
 * a dozen file descriptors and tens of milliseconds of a blocked event loop; a task over hundreds
 * of processes (one command per process, as the OAP sends them) or several tasks at once must not
 * pay that per process or per task. The first run opens the sampler, later runs add their pids to
 * its filter map (target_tgids), and the last run's stop closes it.
 *
 * Every drain, whichever run asks, reads the kernel once and hands each run the stacks of its
 * processes (by tgid); a run keeps them, merged by stack, until its own drain. Losses and the
 * sample count are the sampler's: a full map drops samples of every run, so each run reports the
 * losses since its previous drain.
 */
import { zeroLost, type DrainResult, type LostCounters, type ProfiledStack } from '@swlite/bpf';
import type { StackSampler } from '../stack-sampler';


const addLost = (into: LostCounters, more: LostCounters): void => {
  for (const k of Object.keys(into) as Array<keyof LostCounters>) into[k] += more[k];
};

const stackKey = (s: ProfiledStack): string => {
  let k = `${s.tgid}`;
  for (const a of s.userStack) k += `,${a.toString(36)}`;
  k += '|';
  for (const a of s.kernelStack) k += `,${a.toString(36)}`;
  return k;
};

/** A run's view of the shared sampler: its processes, and what was read for them. */
export interface SharedSamplerView {
  addTarget(tgid: number): void;
  /** Stops sampling the process for this run (its stacks read so far stay for the next drain); false when it was not sampled. */
  removeTarget(tgid: number): boolean;
  /** True while another run still samples the process. */
  sharedWithOthers(tgid: number): boolean;
  drain(): DrainResult;
  /** Leaves the sampler (closing it when this was the last view) and returns what was left. */
  stop(): DrainResult;
}

class View implements SharedSamplerView {
  readonly tgids = new Set<number>();
  /** Processes removed since the last drain: their stacks read in between still belong here. */
  readonly leaving = new Set<number>();
  #stacks = new Map<string, ProfiledStack>();
  #lost = zeroLost();
  #stopped = false;

  constructor(private readonly owner: SharedStackSampler) {}

  wants(tgid: number): boolean {
    return this.tgids.has(tgid) || this.leaving.has(tgid);
  }

  take(stack: ProfiledStack): void {
    const key = stackKey(stack);
    const have = this.#stacks.get(key);
    if (!have) {
      this.#stacks.set(key, { ...stack });
      return;
    }
    have.count += stack.count;
    if (stack.durationNs !== undefined) have.durationNs = (have.durationNs ?? 0) + stack.durationNs;
  }

  takeLost(lost: LostCounters): void {
    addLost(this.#lost, lost);
  }

  addTarget(tgid: number): void {
    if (this.#stopped || this.tgids.has(tgid)) return;
    this.tgids.add(tgid);
    this.leaving.delete(tgid);
    this.owner.retain(tgid);
  }

  removeTarget(tgid: number): boolean {
    if (!this.tgids.delete(tgid)) return false;
    this.leaving.add(tgid);
    this.owner.release(tgid);
    return true;
  }

  sharedWithOthers(tgid: number): boolean {
    return this.owner.sampled(tgid);
  }

  drain(): DrainResult {
    if (!this.#stopped) this.owner.readKernel(false);
    return this.#result();
  }

  stop(): DrainResult {
    if (this.#stopped) return this.#result();
    for (const t of [...this.tgids]) this.removeTarget(t);
    this.owner.leave(this);
    this.#stopped = true;
    return this.#result();
  }

  #result(): DrainResult {
    const result = { stacks: [...this.#stacks.values()], lost: this.#lost };
    this.#stacks = new Map();
    this.#lost = zeroLost();
    this.leaving.clear();
    return result;
  }
}

export class SharedStackSampler {
  #sampler: StackSampler | undefined;
  readonly #views = new Set<View>();
  /** How many views sample each process: the filter map holds a pid while one view does. */
  readonly #refs = new Map<number, number>();

  /** @param open builds a new (not started) kernel sampler; called when the first view joins. */
  constructor(private readonly open: () => StackSampler) {}

  /** True while the kernel sampler is open (some run is active). */
  get running(): boolean {
    return this.#sampler !== undefined;
  }

  /** Joins with these processes; the first view starts the kernel sampler (and throws when the kernel refuses). */
  join(tgids: readonly number[]): SharedSamplerView {
    const view = new View(this);
    if (!this.#sampler) {
      const sampler = this.open();
      const unique = [...new Set(tgids)];
      sampler.start(unique);
      this.#sampler = sampler;
      for (const t of unique) {
        view.tgids.add(t);
        this.#refs.set(t, 1);
      }
    } else {
      for (const t of tgids) view.addTarget(t);
    }
    this.#views.add(view);
    return view;
  }

  /** @internal for View */
  retain(tgid: number): void {
    const n = this.#refs.get(tgid) ?? 0;
    this.#refs.set(tgid, n + 1);
    if (n === 0) this.#sampler?.addTarget(tgid);
  }

  /** @internal for View */
  release(tgid: number): void {
    const n = this.#refs.get(tgid) ?? 0;
    if (n > 1) {
      this.#refs.set(tgid, n - 1);
      return;
    }
    this.#refs.delete(tgid);
    if (n === 1) this.#sampler?.removeTarget(tgid);
  }

  /** @internal for View */
  sampled(tgid: number): boolean {
    return this.#refs.has(tgid);
  }

  /** @internal for View: reads the kernel (its final read when `final`) and deals out the stacks. */
  readKernel(final: boolean): void {
    const sampler = this.#sampler;
    if (!sampler) return;
    let result: DrainResult;
    if (final) {
      this.#sampler = undefined;
      result = sampler.stop();
    } else {
      result = sampler.drain();
    }
    for (const view of this.#views) view.takeLost(result.lost);
    for (const stack of result.stacks) {
      for (const view of this.#views) if (view.wants(stack.tgid)) view.take(stack);
    }
  }

  /** @internal for View: a last read for the leaving view; the last view closes the sampler. */
  leave(view: View): void {
    try {
      this.readKernel(this.#views.size === 1);
    } finally {
      this.#views.delete(view);
    }
  }
}
