// Attach with fallback for the off-CPU objects (progs/core/sched_switch.h): every one carries
// the same sched_switch logic as a tp_btf program and a classic tracepoint program. tp_btf is
// preferred (cheaper, typed arguments); when the kernel refuses it, the tracepoint is used and the
// refusal is kept for the log.
import { BpfError } from '@swlite/libbpf-ts';
import { LoadedObject, type LoadOptions } from './loaded-object.js';

export type SchedSwitchMode = 'tp_btf' | 'tracepoint';
type SchedSwitchObject = 'offcpu' | 'offcpu_snapshot';

const PROGRAMS: Record<SchedSwitchMode, string> = { tp_btf: 'sched_switch_btf', tracepoint: 'sched_switch_tp' };

export interface SchedSwitchAttachment<N extends SchedSwitchObject> {
  loaded: LoadedObject<N>;
  mode: SchedSwitchMode;
  /** Why tp_btf was not used, when the tracepoint replaced it. */
  fallbackReason?: string;
}

/** Errors that the other program cannot avoid: no permission, no object file. */
const hopeless = (e: unknown): boolean =>
  e instanceof BpfError && (e.code === 'EPERM' || (e.code === 'ENOENT' && e.op === 'bpf_object__open_file'));

/**
 * Loads `name` with only the program of `mode` (default: tp_btf, then the tracepoint), runs
 * `prepare` (targets, ring buffers: whatever must be ready before events arrive) and attaches.
 * Throws the last failure when no mode works; nothing stays open then.
 */
export function attachSchedSwitch<N extends SchedSwitchObject>(
  name: N,
  opts: LoadOptions<N>,
  mode: SchedSwitchMode | undefined,
  prepare: (loaded: LoadedObject<N>) => void,
): SchedSwitchAttachment<N> {
  const modes: SchedSwitchMode[] = mode ? [mode] : ['tp_btf', 'tracepoint'];
  let fallbackReason: string | undefined;
  let lastErr: unknown;
  for (const m of modes) {
    let loaded: LoadedObject<N> | undefined;
    try {
      const autoload = Object.fromEntries(Object.entries(PROGRAMS).map(([k, p]) => [p, k === m]));
      loaded = LoadedObject.load(name, { ...opts, autoload });
      prepare(loaded);
      loaded.attach(loaded.obj.program(PROGRAMS[m]).attach());
      return { loaded, mode: m, ...(fallbackReason !== undefined ? { fallbackReason } : {}) };
    } catch (e) {
      loaded?.close();
      lastErr = e;
      if (hopeless(e)) break;
      fallbackReason = `${m}: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  throw lastErr;
}
