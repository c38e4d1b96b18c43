/**
 * Turns the profilers' raw address stacks into EBPFProfilingData messages: symbolized leaf
 * first (as upstream rover sends them), stacks that symbolize identically merged, and stack ids
 * unique within one upload (the backend keys a record by schedule, stack ids and upload time).
 */
import type { EBPFProfilingData } from '@swlite/protocol';
import type { ProfiledStack } from '@swlite/bpf';
import { stackSymbols, type Symbolizer } from '@swlite/symbolizer';

export interface UploadTarget {
  taskId: string;
  processId: string;
  /** When this rover started profiling the process for the task (ms). */
  profilingStartTime: number;
}

interface Merged {
  user: string[];
  kernel: string[];
  count: number;
  durationNs: number;
}

export const toProfilingData = (
  symbolizer: Symbolizer,
  target: UploadTarget,
  pid: number,
  stacks: ProfiledStack[],
  kind: 'ON_CPU' | 'OFF_CPU',
  now: number,
): EBPFProfilingData[] => {
  const merged = new Map<string, Merged>();
  for (const stack of stacks) {
    // Past the leaf, every frame (frame-pointer or CFI walk) is a return address: look it up at
    // addr-1 so that a call at the very end of a function names its caller. Inlined functions
    // (from DWARF) become frames of their own, marked ' (inlined)'.
    const user = stack.userStack.length
      ? stackSymbols(symbolizer.symbolizeUser(pid, stack.userStack, { returnAddresses: true }))
      : [];
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
  const messages: EBPFProfilingData[] = [];
  let stackId = 0;
  for (const m of merged.values()) {
    stackId++;
    const parts = [
      ...(m.kernel.length ? [{ stackType: 'PROCESS_KERNEL_SPACE' as const, stackId, stackSymbols: m.kernel }] : []),
      ...(m.user.length ? [{ stackType: 'PROCESS_USER_SPACE' as const, stackId, stackSymbols: m.user }] : []),
    ];
    const message: EBPFProfilingData =
      kind === 'ON_CPU'
        ? { onCPU: { stacks: parts, dumpCount: m.count } }
        : { offCPU: { stacks: parts, switchCount: m.count, duration: m.durationNs } };
    // Every message carries its task: the backend then needs no state across messages.
    message.task = {
      taskId: target.taskId,
      processId: target.processId,
      profilingStartTime: target.profilingStartTime,
      currentTime: now,
    };
    messages.push(message);
  }
  return messages;
};
