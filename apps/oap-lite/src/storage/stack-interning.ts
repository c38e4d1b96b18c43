/**
 * Stack interning, shared by every backend: a frame list is stored once under the sha1 of its
 * canonical JSON (stackHash), and records refer to it. Hashing every uploaded stack is the cost
 * the write path avoids: StackInterner numbers symbols and keys a frame list by those numbers,
 * so a stack seen before maps to its stored id with a few map lookups.
 */
import { createHash } from 'node:crypto';
import { canonicalFramesJson } from './profiling';
import type { StackFrame } from './types';

/** The canonical JSON of a frame list and its sha1 (hex): the id every backend stores it under. */
export const stackHash = (frames: readonly StackFrame[]): { json: string; hash: string } => {
  const json = canonicalFramesJson(frames);
  return { json, hash: createHash('sha1').update(json).digest('hex') };
};

export interface StackInternerLimits {
  /** Frame lists remembered before everything is forgotten. */
  stacks: number;
  /** Symbols numbered before everything is forgotten. */
  symbols: number;
}

export const DEFAULT_INTERNER_LIMITS: StackInternerLimits = { stacks: 200_000, symbols: 250_000 };

const isKernel = (f: StackFrame): boolean => f.stackType === 'KERNEL_SPACE';

/**
 * Frame lists seen by this process → the backend's id for each (V: a row id, a hash). Only ids
 * the backend has made durable may be remembered. Keys and codes use symbol numbers that live
 * as long as the interner is not reset, so whatever a caller keeps of them must go on reset.
 */
export class StackInterner<V> {
  private readonly symbolIds = new Map<string, number>();
  private readonly symbolNames: string[] = [];
  private readonly ids = new Map<string, V>();

  constructor(private readonly limits: StackInternerLimits = DEFAULT_INTERNER_LIMITS) {}

  /**
   * An injective key of a frame list: per frame "K" or "U", then the symbol's number in base 36
   * (digits and lower-case letters, so the capitals separate frames unambiguously). Numbers new
   * symbols.
   */
  key(frames: readonly StackFrame[]): string {
    let key = '';
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      key += (isKernel(f) ? 'K' : 'U') + this.symbolId(f.symbol).toString(36);
    }
    return key;
  }

  get(key: string): V | undefined {
    return this.ids.get(key);
  }

  /**
   * Remembers durable ids. When that would pass a limit, everything is forgotten instead
   * (the keys given used the old symbol numbers) and false is returned.
   */
  remember(entries: ReadonlyMap<string, V>): boolean {
    if (this.ids.size + entries.size > this.limits.stacks || this.symbolIds.size > this.limits.symbols) {
      this.reset();
      return false;
    }
    for (const [k, v] of entries) this.ids.set(k, v);
    return true;
  }

  /** A frame list as symbol number * 2 (+ 1 for a kernel frame); its symbols must have keys (key() ran). */
  codes(frames: readonly StackFrame[]): Int32Array {
    const codes = new Int32Array(frames.length);
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      codes[i] = this.symbolIds.get(f.symbol)! * 2 + (isKernel(f) ? 1 : 0);
    }
    return codes;
  }

  /** Whether codes (from codes()) name exactly these frames: compares the strings, no hashing. */
  matches(codes: Int32Array, frames: readonly StackFrame[]): boolean {
    if (codes.length !== frames.length) return false;
    for (let i = 0; i < codes.length; i++) {
      const f = frames[i]!;
      const code = codes[i]!;
      if ((code & 1) !== (isKernel(f) ? 1 : 0) || this.symbolNames[code >> 1] !== f.symbol) return false;
    }
    return true;
  }

  reset(): void {
    this.ids.clear();
    this.symbolIds.clear();
    this.symbolNames.length = 0;
  }

  private symbolId(symbol: string): number {
    let id = this.symbolIds.get(symbol);
    if (id === undefined) {
      id = this.symbolNames.length;
      this.symbolIds.set(symbol, id);
      this.symbolNames.push(symbol);
    }
    return id;
  }
}
