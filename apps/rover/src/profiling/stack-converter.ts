/**
 * Turns the samplers' raw address stacks into symbolized stacks as upstream rover sends them:
 * symbolized leaf first, stacks that symbolize identically merged, and stack ids unique within
 * the result (one upload per process and flush: the backend keys a record by schedule, stack ids
 * and upload time). Which message carries them is the target's business (its `payload`).
 */
import type { EBPFProfilingStackMetadata } from '@swlite/protocol';
import { splicePythonFrames, type ProfiledStack } from '@swlite/bpf';
import { stackSymbols, type Symbolizer } from '@swlite/symbolizer';

export interface SymbolizedStack {
  /** The kernel part, then the user part (each present only when it has frames). */
  parts: EBPFProfilingStackMetadata[];
  /** Samples (on-CPU) or switches (off-CPU) of every raw stack merged here. */
  count: number;
  /** Blocked time of every raw stack merged here (ns; off-CPU). */
  durationNs: number;
}

interface Merged {
  user: string[];
  kernel: string[];
  count: number;
  durationNs: number;
}

export const symbolizeStacks = (symbolizer: Symbolizer, pid: number, stacks: ProfiledStack[]): SymbolizedStack[] => {
  const merged = new Map<string, Merged>();
  for (const stack of stacks) {
    // Past the leaf, every frame (frame-pointer or CFI walk) is a return address: look it up at
    // addr-1 so that a call at the very end of a function names its caller. Inlined functions
    // (from DWARF) become frames of their own, marked ' (inlined)'.
    const native = stack.userStack.length
      ? stackSymbols(symbolizer.symbolizeUser(pid, stack.userStack, { returnAddresses: true }))
      : [];
    // Python frames replace the interpreter's eval-loop frames that ran them.
    const user = stack.python?.length ? splicePythonFrames(native, stack.python) : native;
    const kernel = stack.kernelStack.length
      ? symbolizer.symbolizeKernel(stack.kernelStack, { returnAddresses: true }).map((f) => f.name)
      : [];
    if (user.length === 0 && kernel.length === 0) continue;
    const key = `${user.join('\u0001')}\u0000${kernel.join('\u0001')}`;
    const known = merged.get(key);
    if (known) {
      known.count += stack.count;
      known.durationNs += stack.durationNs ?? 0;
    } else {
      merged.set(key, { user, kernel, count: stack.count, durationNs: stack.durationNs ?? 0 });
    }
  }
  const out: SymbolizedStack[] = [];
  let stackId = 0;
  for (const m of merged.values()) {
    stackId++;
    out.push({
      parts: [
        ...(m.kernel.length ? [{ stackType: 'PROCESS_KERNEL_SPACE' as const, stackId, stackSymbols: m.kernel }] : []),
        ...(m.user.length ? [{ stackType: 'PROCESS_USER_SPACE' as const, stackId, stackSymbols: m.user }] : []),
      ],
      count: m.count,
      durationNs: m.durationNs,
    });
  }
  return out;
};
