// Can this process use BPF at all? (for tests and for the agent's startup diagnostics)
import { native } from './native.js';
import { call } from './log.js';
import { BpfError } from './errors.js';
import { ProgramType } from './constants.js';

export type BpfAvailability = { ok: true } | { ok: false; reason: string; error?: BpfError };

/**
 * Loads a trivial program of `type` (default perf_event) through libbpf's feature probe.
 * Never throws: returns the reason when BPF is refused.
 */
export function bpfAvailable(type: ProgramType = ProgramType.PERF_EVENT): BpfAvailability {
  try {
    const r = call('libbpf_probe_bpf_prog_type', () => native().probeProgType(type), null);
    return r === 1
      ? { ok: true }
      : { ok: false, reason: `kernel does not support BPF program type ${ProgramType[type] ?? type}` };
  } catch (e) {
    if (e instanceof BpfError) return { ok: false, reason: `${e.message}`, error: e };
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
