/**
 * What the stack targets (on- and off-CPU) share: a sampler chosen by unwind mode, drained into
 * symbolized stacks per process, each stack one upload payload of the target's shape. A target
 * folder gives its samplers, payload and program types; this module makes them a ProfilingTarget.
 */
import type { DrainResult, LostCounters, ProfiledStack } from '@swlite/bpf';
import { bpfAvailable, ProgramType } from '@swlite/libbpf-ts';
import type { Symbolizer } from '@swlite/symbolizer';
import type { ProfilingConfig } from '../../config';
import type { StackSampler } from '../stack-sampler';
import { symbolizeStacks, type SymbolizedStack } from '../stack-converter';
import { samplerForMode, type SamplerPair, type UnwindOptions } from '../unwind/mode';
import type {
  ContinuousReportTarget,
  ProfilingPayload,
  ProfilingTarget,
  TargetContext,
  TargetDrain,
  TargetModule,
  TargetRun,
} from './target';

export interface StackTargetSpec {
  /** BPF program types that can carry the target's programs: the kernel must allow one of them. */
  programTypes: readonly ProgramType[];
  /** The target's samplers for these settings. */
  samplers(config: ProfilingConfig): SamplerPair;
  /** The upload payload of one symbolized stack. */
  payload(stack: SymbolizedStack): ProfilingPayload;
  continuousReport: ContinuousReportTarget;
}

export interface StackTargetModule extends TargetModule {
  /** The raw sampler, for tools that sample without a task (benchmarks, the fidelity corpus). */
  sampler(config: ProfilingConfig, opts: UnwindOptions): StackSampler;
}

const lostTotal = (lost: LostCounters): number =>
  lost.aggregationFull + lost.stackCollisions + lost.startMapFull + lost.missingStacks + lost.ringBufferFull;

/** Null when the kernel allows one of the program types, else every refusal. */
const kernelRefusal = (types: readonly ProgramType[]): string | null => {
  const refusals: string[] = [];
  for (const type of types) {
    const probe = bpfAvailable(type);
    if (probe.ok) return null;
    refusals.push(`${ProgramType[type] ?? type}: ${probe.reason}`);
  }
  return `the kernel refuses the BPF programs it needs (${refusals.join('; ')})`;
};

class StackRun implements TargetRun {
  readonly #pids: Set<number>;
  /** Removed processes: their last stacks come with the next drain, then the symbolizer forgets them. */
  readonly #leaving = new Set<number>();

  constructor(
    private readonly sampler: StackSampler,
    pids: readonly number[],
    private readonly symbolizer: Symbolizer,
    private readonly payload: (stack: SymbolizedStack) => ProfilingPayload,
  ) {
    this.#pids = new Set(pids);
  }

  addProcess(pid: number): void {
    if (this.#pids.has(pid)) return;
    this.#pids.add(pid);
    this.#leaving.delete(pid);
    this.sampler.addTarget(pid);
  }

  removeProcess(pid: number): void {
    if (!this.#pids.delete(pid)) return;
    this.sampler.removeTarget(pid);
    this.#leaving.add(pid);
  }

  drain(): TargetDrain {
    return this.#report(this.sampler.drain());
  }

  stop(): TargetDrain {
    return this.#report(this.sampler.stop());
  }

  #report(result: DrainResult): TargetDrain {
    const byPid = new Map<number, ProfiledStack[]>();
    for (const s of result.stacks) {
      if (!this.#pids.has(s.tgid) && !this.#leaving.has(s.tgid)) continue;
      (byPid.get(s.tgid) ?? byPid.set(s.tgid, []).get(s.tgid)!).push(s);
    }
    const payloads = new Map<number, ProfilingPayload[]>();
    for (const [pid, stacks] of byPid) payloads.set(pid, symbolizeStacks(this.symbolizer, pid, stacks).map(this.payload));
    for (const pid of this.#leaving) this.symbolizer.forgetProcess(pid);
    this.#leaving.clear();
    return { payloads, samples: result.lost.samples, lost: lostTotal(result.lost), lostDetail: result.lost };
  }
}

export const stackTarget = (spec: StackTargetSpec): StackTargetModule => {
  const sampler = (config: ProfilingConfig, opts: UnwindOptions) => samplerForMode(spec.samplers(config), opts);
  return {
    sampler,
    create: (type, ctx: TargetContext): ProfilingTarget => {
      let refusal: string | null | undefined;
      return {
        type,
        continuousReport: spec.continuousReport,
        // What the kernel allows does not change while rover runs: probed once.
        unavailable: () => (refusal === undefined ? (refusal = kernelRefusal(spec.programTypes)) : refusal),
        start: (pids) => {
          const s = sampler(ctx.config, {
            unwind: ctx.config.unwind,
            symbolizer: ctx.symbolizer,
            onFallback: (err) => ctx.log.warn({ target: type, err: err.message }, 'stack snapshots unavailable; using frame-pointer stacks'),
          });
          s.start([...pids]);
          return new StackRun(s, pids, ctx.symbolizer, spec.payload);
        },
      };
    },
  };
};

export const isStackTargetModule = (module: TargetModule): module is StackTargetModule =>
  typeof (module as Partial<StackTargetModule>).sampler === 'function';
