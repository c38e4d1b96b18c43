// Table-driven user stack unwinding (x86-64) from a copy of the stack, as perf's DWARF
// mode gives it: registers at the sample and the bytes from sp upward.
import {
  CFA_EXPR,
  CFA_PLT,
  CFA_RBP,
  CFA_RSP,
  CFA_SIGNAL,
  RULE_UNCHANGED,
  RULE_UNDEFINED,
  decodeExprRule,
  type UnwindTable,
} from './cfi.js';
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
  /** Filled with how the walk ended and how much of the copy it read (see UnwindReach). */
  reach?: UnwindReach;
}

/**
 * How far a walk got into the stack copy, for sizing the copy: a walk reads the same bytes, and
 * finds the same frames, from any copy at least `used` bytes long.
 */
export interface UnwindReach {
  /**
   * root: the outermost frame (return address undefined by CFI, or 0: the end-of-stack marker);
   * short: it needed a word above the end of the copy; frames: maxFrames reached; other: no rule
   * for a pc, an address below the copy, or a frame that did not move up the stack.
   */
  end: 'root' | 'short' | 'frames' | 'other';
  /** Bytes from stackBase up to the end of the highest word read. */
  used: number;
  /** short: offset from stackBase of the first word read above the copy (else -1). */
  shortAt: number;
}

/**
 * Walks the stack. `stack` holds memory from `stackBase` upward (normally stackBase = sp).
 * Returns the pcs, leaf first: [ip, return address, ...]. Stops at the outermost frame
 * (RA undefined), on a read outside the copied stack, or when no rule applies.
 */
export function unwindUser(
  regs: UserRegs,
  stack: Buffer,
  stackBase: bigint,
  maps: UnwindMaps,
  opts: UnwindOptions = {},
): bigint[] {
  if (maps.findNumber && regs.sp < 2n ** 53n && stackBase < 2n ** 53n && regs.ip < 2n ** 53n)
    return unwindNumbers(regs, stack, stackBase, maps, opts);
  const max = opts.maxFrames ?? 127;
  const fpFallback = opts.framePointerFallback ?? true;
  const end = stackBase + BigInt(stack.length);
  let used = 0;
  let shortAt = -1;
  const read = (addr: bigint): bigint | undefined => {
    if (addr < stackBase) return undefined;
    if (addr + 8n > end) {
      if (shortAt < 0) shortAt = Number(addr - stackBase);
      return undefined;
    }
    const o = Number(addr - stackBase);
    if (o + 8 > used) used = o + 8;
    return stack.readBigUInt64LE(o);
  };
  let { ip, sp, bp } = regs;
  const pcs: bigint[] = [ip];
  let interrupted = true; // the sampled pc, or one a signal frame restored: not a return address
  let root = false;
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
      if (!r) {
        root = mod!.table.raOffset[i] === RULE_UNDEFINED;
        break;
      }
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
      if (raOff === RULE_UNDEFINED) {
        root = true; // outermost frame
        break;
      }
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
    if (ra === undefined || ra === 0n) {
      root = ra === 0n;
      break;
    }
    if (cfa <= sp && depth > 0) break; // the stack must grow towards higher addresses
    ip = ra;
    sp = cfa;
    bp = newBp;
    pcs.push(ip);
  }
  if (opts.reach) setReach(opts.reach, root, pcs.length >= max, used, shortAt);
  return pcs;
}

function setReach(reach: UnwindReach, root: boolean, full: boolean, used: number, shortAt: number): void {
  reach.end = root ? 'root' : shortAt >= 0 ? 'short' : full ? 'frames' : 'other';
  reach.used = used;
  reach.shortAt = shortAt;
}

const TWO32 = 4294967296;

/** unwindUser with Number arithmetic (same rules; see UnwindMaps.findNumber). */
function unwindNumbers(
  regs: UserRegs,
  stack: Buffer,
  stackBase: bigint,
  maps: UnwindMaps,
  opts: UnwindOptions,
): bigint[] {
  const max = opts.maxFrames ?? 127;
  const fpFallback = opts.framePointerFallback ?? true;
  const find = maps.findNumber!;
  const base = Number(stackBase);
  const len = stack.length;
  let used = 0;
  let shortAt = -1;
  // Values read from the stack above 2^53 lose precision: they are not user addresses anyway.
  const read = (addr: number): number => {
    const o = addr - base;
    if (o < 0) return -1;
    if (o + 8 > len) {
      if (shortAt < 0) shortAt = o;
      return -1;
    }
    if (o + 8 > used) used = o + 8;
    return stack.readUInt32LE(o) + stack.readUInt32LE(o + 4) * TWO32;
  };
  let ip = Number(regs.ip);
  let sp = Number(regs.sp);
  // bp may hold any value (it is a general register without frame pointers).
  let bp = regs.bp < 2n ** 53n ? Number(regs.bp) : -1;
  const pcs: bigint[] = [regs.ip];
  let interrupted = true; // the sampled pc, or one a signal frame restored: not a return address
  let root = false;
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
      if (!r || r.cfa >= 2n ** 53n) {
        root = !r && mod!.table.raOffset[i] === RULE_UNDEFINED;
        break;
      }
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
      if (raOff === RULE_UNDEFINED) {
        root = true; // outermost frame
        break;
      }
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
    if (ra <= 0 || ra >= 2 ** 53) {
      root = ra === 0;
      break;
    }
    if (cfa <= sp && depth > 0) break; // the stack must grow towards higher addresses
    ip = ra;
    sp = cfa;
    bp = newBp;
    pcs.push(BigInt(ip));
  }
  if (opts.reach) setReach(opts.reach, root, pcs.length >= max, used, shortAt);
  return pcs;
}

/** Whether a row needs the expression evaluator (CFA or a register rule by DWARF expression). */
function needsEvaluator(t: UnwindTable, i: number): boolean {
  return (
    (t.cfa[i]! & ~CFA_SIGNAL) === CFA_EXPR ||
    decodeExprRule(t.raOffset[i]!) !== undefined ||
    decodeExprRule(t.rbpOffset[i]!) !== undefined
  );
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
