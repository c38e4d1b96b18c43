// Table-driven user stack unwinding (x86-64) from a copy of the stack, as perf's DWARF
// mode gives it: registers at the sample and the bytes from sp upward.
import { CFA_EXPR, CFA_PLT, CFA_RBP, CFA_RSP, CFA_SIGNAL, RULE_UNCHANGED, RULE_UNDEFINED, decodeExprRule, type UnwindTable } from './cfi.js';
import { evalCfiExpression, type ExprRead } from './dwarf-expr.js';

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
  let interrupted = true; // the sampled pc, or one a signal frame restored: not a return address
  for (let depth = 0; pcs.length < max; depth++) {
    // Return addresses point after the call: look up the call instruction itself.
    const lookPc: bigint = interrupted ? ip : ip - 1n;
    const mod = maps.find(lookPc);
    const i: number = mod ? mod.table.findIndex(Number(lookPc - mod.bias)) : -1;
    let cfa: bigint;
    let ra: bigint | undefined;
    let newBp = bp;
    interrupted = false;
    if (i >= 0 && needsEvaluator(mod!.table, i)) {
      const r = exprStep(mod!.table, i, ip, sp, bp, read);
      if (!r) break;
      ({ cfa, ra } = r);
      newBp = r.bp ?? bp;
      interrupted = (mod!.table.cfa[i]! & CFA_SIGNAL) !== 0;
    } else if (i >= 0) {
      const t = mod!.table;
      const kind = t.cfa[i]! & ~CFA_SIGNAL;
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
  let interrupted = true; // the sampled pc, or one a signal frame restored: not a return address
  for (let depth = 0; pcs.length < max; depth++) {
    const lookPc: number = interrupted ? ip : ip - 1;
    const mod = find(lookPc);
    const i: number = mod ? mod.table.findIndex(lookPc - mod.bias) : -1;
    let cfa: number;
    let ra: number;
    let newBp = bp;
    interrupted = false;
    if (i >= 0 && needsEvaluator(mod!.table, i)) {
      const r = exprStep(mod!.table, i, BigInt(ip), BigInt(sp), bp < 0 ? undefined : BigInt(bp), (a) => {
        const v = a < 2n ** 53n ? read(Number(a)) : -1;
        return v < 0 ? undefined : BigInt(v);
      });
      if (!r || r.cfa >= 2n ** 53n) break;
      cfa = Number(r.cfa);
      ra = r.ra === undefined || r.ra >= 2n ** 53n ? -1 : Number(r.ra);
      if (r.bp !== undefined) newBp = r.bp < 2n ** 53n ? Number(r.bp) : -1;
      interrupted = (mod!.table.cfa[i]! & CFA_SIGNAL) !== 0;
    } else if (i >= 0) {
      const t = mod!.table;
      const kind = t.cfa[i]! & ~CFA_SIGNAL;
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

/** Whether a row needs the expression evaluator (CFA or a register rule by DWARF expression). */
function needsEvaluator(t: UnwindTable, i: number): boolean {
  return (t.cfa[i]! & ~CFA_SIGNAL) === CFA_EXPR || decodeExprRule(t.raOffset[i]!) !== undefined || decodeExprRule(t.rbpOffset[i]!) !== undefined;
}

/**
 * One frame by the general rules: CFA by offset or expression, RA and rbp by offset or
 * expression. Returns the caller's CFA (its sp), return address and rbp (undefined: unchanged),
 * or undefined when a rule cannot be evaluated.
 */
function exprStep(
  t: UnwindTable,
  i: number,
  ip: bigint,
  sp: bigint,
  bp: bigint | undefined,
  read: ExprRead,
): { cfa: bigint; ra: bigint | undefined; bp: bigint | undefined } | undefined {
  const regs = { rsp: sp, rbp: bp, rip: ip };
  const kind = t.cfa[i]! & ~CFA_SIGNAL;
  const off = BigInt(t.cfaOffset[i]!);
  let cfa: bigint | undefined;
  if (kind === CFA_RSP) cfa = sp + off;
  else if (kind === CFA_RBP) cfa = bp === undefined ? undefined : bp + off;
  else if (kind === CFA_PLT) cfa = sp + 8n + ((ip & 15n) >= off ? 8n : 0n);
  else if (kind === CFA_EXPR) cfa = evalCfiExpression(t.exprs[t.cfaOffset[i]!]!, regs, read);
  if (cfa === undefined) return undefined;
  const rule = (r: number): bigint | undefined => {
    const e = decodeExprRule(r);
    if (!e) return read(cfa + BigInt(r));
    const v = evalCfiExpression(t.exprs[e.index]!, regs, read, cfa);
    return v === undefined || e.isValue ? v : read(v);
  };
  const raRule = t.raOffset[i]!;
  if (raRule === RULE_UNDEFINED) return undefined; // outermost frame
  const ra = rule(raRule);
  const rbpRule = t.rbpOffset[i]!;
  let newBp: bigint | undefined;
  if (rbpRule !== RULE_UNCHANGED) {
    newBp = rule(rbpRule);
    if (newBp === undefined) return undefined;
  }
  return { cfa, ra, bp: newBp };
}
