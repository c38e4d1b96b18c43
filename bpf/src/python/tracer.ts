// The user-space half of progs/core/python.h for one loaded object: registers Python processes
// (py_procs: where their runtime is, the offsets of their version) as targets are added, and
// names the frames of their samples (py_codes).
import type { BpfMap } from '@swlite/libbpf-ts';
import { u32Key } from '../layout.js';
import { PythonCodes, type PythonFrame } from './codes.js';
import { PY_PROC, type PyFrameRef } from './layout.js';
import { findPythonRuntime, type PythonRuntime, type RefusedPython } from './process.js';

/** What became of a target process: a Python runtime read, one refused, or not Python. */
export type PythonDetection = PythonRuntime | RefusedPython | undefined;

export interface PythonTracerOptions {
  /** Read Python frames (default true); false leaves py_procs empty. */
  enabled?: boolean;
  /** Called for each Python process added (found or refused), e.g. to log a refusal. */
  onPython?: (tgid: number, found: PythonRuntime | RefusedPython) => void;
  /** How a process's runtime is found (default findPythonRuntime: the ELF symbols and the table). */
  find?: (tgid: number) => PythonDetection;
}

export class PythonTracer {
  readonly #codes: PythonCodes;
  readonly #python = new Set<number>();

  constructor(
    private readonly procs: BpfMap,
    codes: BpfMap,
    private readonly opts: PythonTracerOptions = {},
  ) {
    this.#codes = new PythonCodes(codes);
  }

  /** Looks at a new target: a CPython of a known version is registered for the frame walk. */
  add(tgid: number): PythonDetection {
    if (this.opts.enabled === false || this.#python.has(tgid)) return undefined;
    const found = (this.opts.find ?? findPythonRuntime)(tgid);
    if (!found) return undefined;
    if (!('refused' in found)) {
      this.procs.update(
        u32Key(tgid),
        PY_PROC.encode({ runtime: found.runtime, codeType: found.codeType, off: found.offsets }),
      );
      this.#python.add(tgid);
    }
    this.opts.onPython?.(tgid, found);
    return found;
  }

  remove(tgid: number): void {
    if (!this.#python.delete(tgid)) return;
    this.procs.delete(u32Key(tgid));
    this.#codes.forget(tgid);
  }

  /** Names a sample's Python frames (innermost first). */
  name(tgid: number, refs: readonly PyFrameRef[]): PythonFrame[] {
    return refs.length ? this.#codes.name(tgid, refs) : [];
  }

  /** Frames whose code object could not be named, so far. */
  get unknownFrames(): number {
    return this.#codes.unknown;
  }
}
