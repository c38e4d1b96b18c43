/**
 * What the stack targets (on- and off-CPU) share: a sampler chosen by unwind mode, drained into
 * symbolized stacks per process, each stack one upload payload of the target's shape. A target
 * folder gives its samplers, payload and program types; this module makes them a ProfilingTarget.
 * The kernel sampler is one per target, shared by all its runs (shared-sampler.ts).
 */
import type { DrainResult, LostCounters, ProfiledStack, PythonTracerOptions } from '@swlite/bpf';
import { bpfAvailable, ProgramType } from '@swlite/libbpf-ts';
import type { Symbolizer } from '@swlite/symbolizer';
import type { ProfilingConfig } from '../../config';
import type { StackSampler } from '../stack-sampler';
import { symbolizeStacks, type SymbolizedStack } from '../stack-converter';
import { SharedStackSampler, type SharedSamplerView } from './shared-sampler';
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
  /** The target's samplers for these settings (`onPython`: told of each CPython process). */
  samplers(config: ProfilingConfig, onPython?: PythonTracerOptions['onPython']): SamplerPair;
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

/** A run is a view of its target's shared sampler, its stacks symbolized into payloads per process. */
class StackRun implements TargetRun {
  /** Removed processes: their last stacks come with the next drain, then the symbolizer forgets them. */
  readonly #leaving = new Set<number>();

  constructor(
    private readonly view: SharedSamplerView,
    private readonly symbolizer: Symbolizer,
    private readonly payload: (stack: SymbolizedStack) => ProfilingPayload,
  ) {}

  addProcess(pid: number): void {
    this.view.addTarget(pid);
    this.#leaving.delete(pid);
  }

  removeProcess(pid: number): void {
    if (this.view.removeTarget(pid)) this.#leaving.add(pid);
  }

  drain(): TargetDrain {
    return this.#report(this.view.drain());
  }

  stop(): TargetDrain {
    return this.#report(this.view.stop());
  }

  #report(result: DrainResult): TargetDrain {
    const byPid = new Map<number, ProfiledStack[]>();
    for (const s of result.stacks) (byPid.get(s.tgid) ?? byPid.set(s.tgid, []).get(s.tgid)!).push(s);
    const payloads = new Map<number, ProfilingPayload[]>();
    for (const [pid, stacks] of byPid)
      payloads.set(pid, symbolizeStacks(this.symbolizer, pid, stacks).map(this.payload));
    // Another run may still profile the process: its symbol tables stay until that run lets go too.
    for (const pid of this.#leaving) if (!this.view.sharedWithOthers(pid)) this.symbolizer.forgetProcess(pid);
    this.#leaving.clear();
    return { payloads, samples: result.lost.samples, lost: lostTotal(result.lost), lostDetail: result.lost };
  }
}

export const stackTarget = (spec: StackTargetSpec): StackTargetModule => {
  const sampler = (config: ProfilingConfig, opts: UnwindOptions) =>
    samplerForMode(spec.samplers(config, opts.onPython), opts);
  return {
    sampler,
    create: (type, ctx: TargetContext): ProfilingTarget => {
      let refusal: string | null | undefined;
      // rover's unwind mode is fixed for its life: one kernel sampler per target type serves every run.
      const shared = new SharedStackSampler(() =>
        sampler(ctx.config, {
          unwind: ctx.config.unwind,
          symbolizer: ctx.symbolizer,
          onFallback: (err) =>
            ctx.log.warn({ target: type, err: err.message }, 'stack snapshots unavailable; using frame-pointer stacks'),
          onPython: (pid, found) =>
            'refused' in found
              ? ctx.log.warn(
                  { target: type, pid, version: found.version, path: found.path, reason: found.refused },
                  'Python frames not read',
                )
              : ctx.log.info({ target: type, pid, version: found.version, path: found.path }, 'Python frames read'),
        }),
      );
      return {
        type,
        continuousReport: spec.continuousReport,
        // What the kernel allows does not change while rover runs: probed once.
        unavailable: () => (refusal === undefined ? (refusal = kernelRefusal(spec.programTypes)) : refusal),
        start: (pids) => new StackRun(shared.join(pids), ctx.symbolizer, spec.payload),
      };
    },
  };
};

export const isStackTargetModule = (module: TargetModule): module is StackTargetModule =>
  typeof (module as Partial<StackTargetModule>).sampler === 'function';
