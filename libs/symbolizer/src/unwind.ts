// Table-driven user stack unwinding (x86-64) from a copy of the stack, as perf's DWARF
// mode gives it: registers at the sample and the bytes from sp upward.
import { CFA_PLT, CFA_RBP, CFA_RSP, RULE_UNCHANGED, RULE_UNDEFINED, type UnwindTable } from './cfi.js';

export interface UserRegs {
  ip: bigint;
  sp: bigint;
  bp: bigint;
}

/** Finds the unwind table of the module containing a runtime pc; vaddr = pc - bias. */
export interface UnwindMaps {
  find(pc: bigint): { table: UnwindTable; bias: bigint } | undefined;
  /**
   * Optional fast path with addresses as Numbers (x86-64 user addresses are below 2^47, exact
   * in a double): lets the walk run without BigInt arithmetic.
   */
  findNumber?(pc: number): { table: UnwindTable; bias: number } | undefined;
}

export interface UnwindOptions {
  maxFrames?: number;
  /** Use rbp chains where no CFI covers a pc (default true). */
  framePointerFallback?: boolean;
}

/**
 * Walks the stack. `stack` holds memory from `stackBase` upward (normally stackBase = sp).
 * Returns the pcs, leaf first: [ip, return address, ...]. Stops at the outermost frame
 * (RA undefined), on a read outside the copied stack, or when no rule applies.
 */
export function unwindUser(regs: UserRegs, stack: Buffer, stackBase: bigint, maps: UnwindMaps, opts: UnwindOptions = {}): bigint[] {
  if (maps.findNumber && regs.sp < 2n ** 53n && stackBase < 2n ** 53n && regs.ip < 2n ** 53n)
    return unwindNumbers(regs, stack, stackBase, maps, opts);
  const max = opts.maxFrames ?? 127;
  const fpFallback = opts.framePointerFallback ?? true;
  const end = stackBase + BigInt(stack.length);
  const read = (addr: bigint): bigint | undefined => {
    if (addr < stackBase || addr + 8n > end) return undefined;
    return stack.readBigUInt64LE(Number(addr - stackBase));
  };
  let { ip, sp, bp } = regs;
  const pcs: bigint[] = [ip];
  for (let depth = 0; pcs.length < max; depth++) {
    // Return addresses point after the call: look up the call instruction itself.
    const lookPc = depth === 0 ? ip : ip - 1n;
    const mod = maps.find(lookPc);
    const i = mod ? mod.table.findIndex(Number(lookPc - mod.bias)) : -1;
    let cfa: bigint;
    let ra: bigint | undefined;
    let newBp = bp;
    if (i >= 0) {
      const t = mod!.table;
      const kind = t.cfa[i]!;
      const off = BigInt(t.cfaOffset[i]!);
      if (kind === CFA_RSP) cfa = sp + off;
      else if (kind === CFA_RBP) cfa = bp + off;
      else if (kind === CFA_PLT) cfa = sp + 8n + ((ip & 15n) >= off ? 8n : 0n);
      else break;
      const raOff = t.raOffset[i]!;
      if (raOff === RULE_UNDEFINED) break; // outermost frame
      ra = read(cfa + BigInt(raOff));
      const rbpOff = t.rbpOffset[i]!;
      if (rbpOff !== RULE_UNCHANGED) {
        const v = read(cfa + BigInt(rbpOff));
        if (v === undefined) break;
        newBp = v;
      }
    } else {
      if (!fpFallback || bp === 0n) break;
      // Frame pointer: [rbp] = caller's rbp, [rbp+8] = return address.
      const savedBp = read(bp);
      ra = read(bp + 8n);
      if (savedBp === undefined) break;
      cfa = bp + 16n;
      newBp = savedBp;
    }
    if (ra === undefined || ra === 0n) break;
    if (cfa <= sp && depth > 0) break; // the stack must grow towards higher addresses
    ip = ra;
    sp = cfa;
    bp = newBp;
    pcs.push(ip);
  }
  return pcs;
}

const TWO32 = 4294967296;

/** unwindUser with Number arithmetic (same rules; see UnwindMaps.findNumber). */
function unwindNumbers(regs: UserRegs, stack: Buffer, stackBase: bigint, maps: UnwindMaps, opts: UnwindOptions): bigint[] {
  const max = opts.maxFrames ?? 127;
  const fpFallback = opts.framePointerFallback ?? true;
  const find = maps.findNumber!;
  const base = Number(stackBase);
  const len = stack.length;
  // Values read from the stack above 2^53 lose precision: they are not user addresses anyway.
  const read = (addr: number): number => {
    const o = addr - base;
    if (o < 0 || o + 8 > len) return -1;
    return stack.readUInt32LE(o) + stack.readUInt32LE(o + 4) * TWO32;
  };
  let ip = Number(regs.ip);
  let sp = Number(regs.sp);
  // bp may hold any value (it is a general register without frame pointers).
  let bp = regs.bp < 2n ** 53n ? Number(regs.bp) : -1;
  const pcs: bigint[] = [regs.ip];
  for (let depth = 0; pcs.length < max; depth++) {
    const lookPc = depth === 0 ? ip : ip - 1;
    const mod = find(lookPc);
    const i = mod ? mod.table.findIndex(lookPc - mod.bias) : -1;
    let cfa: number;
    let ra: number;
    let newBp = bp;
    if (i >= 0) {
      const t = mod!.table;
      const kind = t.cfa[i]!;
      const off = t.cfaOffset[i]!;
      if (kind === CFA_RSP) cfa = sp + off;
      else if (kind === CFA_RBP) {
        if (bp < 0) break;
        cfa = bp + off;
      } else if (kind === CFA_PLT) cfa = sp + 8 + (ip % 16 >= off ? 8 : 0);
      else break;
      const raOff = t.raOffset[i]!;
      if (raOff === RULE_UNDEFINED) break; // outermost frame
      ra = read(cfa + raOff);
      const rbpOff = t.rbpOffset[i]!;
      if (rbpOff !== RULE_UNCHANGED) {
        const v = read(cfa + rbpOff);
        if (v < 0) break;
        newBp = v;
      }
    } else {
      if (!fpFallback || bp <= 0) break;
      // Frame pointer: [rbp] = caller's rbp, [rbp+8] = return address.
      const savedBp = read(bp);
      ra = read(bp + 8);
      if (savedBp < 0) break;
      cfa = bp + 16;
      newBp = savedBp;
    }
    if (ra <= 0 || ra >= 2 ** 53) break;
    if (cfa <= sp && depth > 0) break; // the stack must grow towards higher addresses
    ip = ra;
    sp = cfa;
    bp = newBp;
    pcs.push(BigInt(ip));
  }
  return pcs;
}
