// DWARF call frame information (.eh_frame, or .debug_frame) for x86-64, compiled into a
// compact table for unwinding binaries without frame pointers.
//
// For each address range the table holds just what a stack walker needs:
//   CFA = rsp+off | rbp+off | PLT rule (rsp+8, +8 more when (ip & 15) >= threshold)
//         | DWARF expression (index into the table's expressions)
//   RA  = [CFA + raOff]     (normally -8; "undefined" marks the outermost frame)
//         | [expression] | expression (DW_CFA_expression / DW_CFA_val_expression)
//   rbp = [CFA + rbpOff]    (or unchanged, or an expression rule like RA's)
// plus a mark on rows of signal frames (CIE augmentation 'S': glibc's __restore_rt), after
// which the next pc is the interrupted one, not a return address. A CFA in another register
// is stored as "unknown", where unwinding stops (or falls back to the frame pointer).
import type { ElfFile } from './elf.js';
import { ByteCursor } from './byte-cursor';

export const CFA_NONE = 0;
export const CFA_RSP = 1;
export const CFA_RBP = 2;
export const CFA_PLT = 3;
export const CFA_UNKNOWN = 4;
/** CFA computed by the table's expression number `cfaOffset`. */
export const CFA_EXPR = 5;
/** Bit set in a row's CFA kind when the row belongs to a signal frame (CIE augmentation 'S'). */
export const CFA_SIGNAL = 0x80;
export const RULE_UNCHANGED = 0x7fffffff;
export const RULE_UNDEFINED = -0x80000000;
/**
 * Register rules by expression are encoded below this value (real CFA offsets are far smaller):
 * RULE_EXPR_BASE - (2 * index + (value rule ? 1 : 0)).
 */
const RULE_EXPR_BASE = -0x40000000;

/** The rule of a register saved by expression: at the address it computes, or (val) its value. */
export function exprRule(index: number, isValue: boolean): number {
  return RULE_EXPR_BASE - (2 * index + (isValue ? 1 : 0));
}

/** Decodes an expression rule, or undefined for an offset/unchanged/undefined rule. */
export function decodeExprRule(rule: number): { index: number; isValue: boolean } | undefined {
  if (rule > RULE_EXPR_BASE || rule === RULE_UNDEFINED) return undefined;
  const k = RULE_EXPR_BASE - rule;
  return { index: k >> 1, isValue: (k & 1) === 1 };
}

const REG_RBP = 6;
const REG_RSP = 7;

export interface UnwindRow {
  pc: bigint;
  cfa: number; // CFA_*
  cfaOffset: number;
  rbpOffset: number; // RULE_UNCHANGED or offset from CFA
  raOffset: number; // RULE_UNDEFINED or offset from CFA
}

/** Sorted unwind rows of one binary, in ELF virtual addresses. */
export class UnwindTable {
  constructor(
    readonly starts: Float64Array,
    readonly cfa: Uint8Array,
    readonly cfaOffset: Int32Array,
    readonly rbpOffset: Int32Array,
    readonly raOffset: Int32Array,
    /** DWARF expressions the rows refer to (CFA_EXPR, expression rules). */
    readonly exprs: readonly Buffer[] = [],
  ) {}

  get length(): number {
    return this.starts.length;
  }

  get byteSize(): number {
    let n = this.starts.byteLength + this.cfa.byteLength + this.cfaOffset.byteLength * 3 + 64;
    for (const e of this.exprs) n += e.length + 32;
    return n;
  }

  /** Index of the row covering `vaddr`, or -1 (no CFI there). */
  findIndex(vaddr: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    if (hi < 0 || vaddr < s[0]!) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid]! <= vaddr) lo = mid;
      else hi = mid - 1;
    }
    return this.cfa[lo] === CFA_NONE ? -1 : lo;
  }

  row(vaddr: bigint | number): UnwindRow | undefined {
    const i = this.findIndex(Number(vaddr));
    if (i < 0) return undefined;
    return {
      pc: BigInt(this.starts[i]!),
      cfa: this.cfa[i]!,
      cfaOffset: this.cfaOffset[i]!,
      rbpOffset: this.rbpOffset[i]!,
      raOffset: this.raOffset[i]!,
    };
  }
}

interface State {
  cfa: number;
  cfaReg: number;
  cfaOffset: number;
  rbp: number;
  ra: number;
}

interface Cie {
  /** Augmentation 'S': the FDEs of this CIE describe signal frames. */
  signal: boolean;
  codeAlign: number;
  dataAlign: number;
  raReg: number;
  fdeEnc: number;
  hasAug: boolean;
  initial: { start: number; end: number };
  init?: State;
  addrSize: number;
}

const DW_EH_PE_omit = 0xff;

/** Reads an encoded pointer; `fieldAddr` is the vaddr of the field (for pcrel). */
function readEncoded(c: ByteCursor, enc: number, fieldAddr: number, addrSize = 8): number {
  if (enc === DW_EH_PE_omit) return 0;
  let v: number;
  switch (enc & 0x0f) {
    case 0x00:
      v = addrSize === 4 ? c.u32() : c.u64();
      break;
    case 0x01:
      v = c.uleb();
      break;
    case 0x02:
      v = c.u16();
      break;
    case 0x03:
      v = c.u32();
      break;
    case 0x04:
      v = c.u64();
      break;
    case 0x09:
      v = c.sleb();
      break;
    case 0x0a:
      v = c.b.readInt16LE(c.pos);
      c.pos += 2;
      break;
    case 0x0b:
      v = c.b.readInt32LE(c.pos);
      c.pos += 4;
      break;
    case 0x0c:
      v = c.s64();
      break;
    default:
      throw new Error(`unsupported pointer encoding 0x${enc.toString(16)}`);
  }
  if ((enc & 0x70) === 0x10) v += fieldAddr;
  return v;
}

/** Recognizes the PLT CFA expression; returns the (ip & 15) threshold or -1. */
function pltThreshold(expr: Buffer): number {
  // DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litN; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
  if (
    expr.length === 11 &&
    expr[0] === 0x77 &&
    expr[1] === 0x08 &&
    expr[2] === 0x80 &&
    expr[3] === 0x00 &&
    expr[4] === 0x3f &&
    expr[5] === 0x1a &&
    expr[6]! >= 0x30 &&
    expr[6]! <= 0x4f &&
    expr[7] === 0x2a &&
    expr[8] === 0x33 &&
    expr[9] === 0x24 &&
    expr[10] === 0x22
  )
    return expr[6]! - 0x30;
  return -1;
}

/** DWARF expressions of one table, each stored once. */
class ExprPool {
  readonly list: Buffer[] = [];
  private readonly index = new Map<string, number>();
  add(expr: Buffer): number {
    const key = expr.toString('latin1');
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(Buffer.from(expr)); // a copy: the section buffer is not kept
      this.index.set(key, i);
    }
    return i;
  }
}

class RowSink {
  n = 0;
  readonly exprs = new ExprPool();
  /** Index of the first row of each FDE (rows of one FDE are in pc order). */
  fdeFirst: number[] = [];
  pcs = new Float64Array(1024);
  cfa = new Uint8Array(1024);
  cfaOff = new Int32Array(1024);
  rbp = new Int32Array(1024);
  ra = new Int32Array(1024);
  private grow(): void {
    const cap = this.pcs.length * 2;
    const f = new Float64Array(cap);
    f.set(this.pcs);
    this.pcs = f;
    const k = new Uint8Array(cap);
    k.set(this.cfa);
    this.cfa = k;
    for (const name of ['cfaOff', 'rbp', 'ra'] as const) {
      const a = new Int32Array(cap);
      a.set(this[name]);
      this[name] = a;
    }
  }
  push(pc: number, cfa: number, cfaOff: number, rbp: number, ra: number): void {
    if (this.n === this.pcs.length) this.grow();
    const i = this.n++;
    this.pcs[i] = pc;
    this.cfa[i] = cfa;
    this.cfaOff[i] = cfaOff;
    this.rbp[i] = rbp;
    this.ra[i] = ra;
  }
  pushEnd(pc: number): void {
    this.push(pc, CFA_NONE, 0, RULE_UNCHANGED, RULE_UNDEFINED);
  }
}

function cfaKind(reg: number): number {
  return reg === REG_RSP ? CFA_RSP : reg === REG_RBP ? CFA_RBP : CFA_UNKNOWN;
}

/**
 * Runs CFA instructions from the cursor to `end`, starting from `init`. Emits a row at
 * every location change when `sink` is given; returns the final state and location.
 * (No closures here: this runs once per FDE, ~10^5 times for a large binary.)
 */
function execute(
  c: ByteCursor,
  end: number,
  cie: Cie,
  init: State,
  pc0: number,
  sink: RowSink | undefined,
  fieldBase: number,
  pool: ExprPool,
): { state: State; pc: number } {
  const sig = cie.signal ? CFA_SIGNAL : 0;
  let cfa = init.cfa;
  let cfaReg = init.cfaReg;
  let cfaOffset = init.cfaOffset;
  let rbp = init.rbp;
  let ra = init.ra;
  const cieInit = cie.init ?? init;
  const raReg = cie.raReg;
  let stack: number[] | undefined;
  let pc = pc0;
  let delta = 0;
  while (c.pos < end) {
    const op = c.u8();
    const hi = op & 0xc0;
    const low = op & 0x3f;
    delta = 0;
    if (hi === 0x40) delta = low * cie.codeAlign;
    else if (hi === 0x80) {
      const v = c.uleb() * cie.dataAlign;
      if (low === REG_RBP) rbp = v;
      else if (low === raReg) ra = v;
    } else if (hi === 0xc0) {
      if (low === REG_RBP) rbp = cieInit.rbp;
      else if (low === raReg) ra = cieInit.ra;
    } else {
      switch (op) {
        case 0x00:
          break;
        case 0x01: {
          const at = fieldBase + c.pos;
          delta = readEncoded(c, cie.fdeEnc, at, cie.addrSize) - pc;
          break;
        }
        case 0x02:
          delta = c.u8() * cie.codeAlign;
          break;
        case 0x03:
          delta = c.u16() * cie.codeAlign;
          break;
        case 0x04:
          delta = c.u32() * cie.codeAlign;
          break;
        case 0x05:
        case 0x11:
        case 0x2f: {
          const r = c.uleb();
          const v =
            op === 0x05 ? c.uleb() * cie.dataAlign : op === 0x11 ? c.sleb() * cie.dataAlign : -c.uleb() * cie.dataAlign;
          if (r === REG_RBP) rbp = v;
          else if (r === raReg) ra = v;
          break;
        }
        case 0x06: {
          const r = c.uleb();
          if (r === REG_RBP) rbp = cieInit.rbp;
          else if (r === raReg) ra = cieInit.ra;
          break;
        }
        case 0x10: // expression: saved at the address it computes
        case 0x16: {
          // val_expression: the value it computes
          const r = c.uleb();
          const len = c.uleb();
          const rule = exprRule(pool.add(c.b.subarray(c.pos, c.pos + len)), op === 0x16);
          c.pos += len;
          if (r === raReg) ra = rule;
          else if (r === REG_RBP) rbp = rule;
          break;
        }
        case 0x07: // undefined
        case 0x08: // same value
        case 0x09: // in another register (not tracked)
        case 0x14: // val_offset (value, not a slot)
        case 0x15: {
          const r = c.uleb();
          if (op === 0x09 || op === 0x14) c.uleb();
          else if (op === 0x15) c.sleb();
          if (r === raReg) ra = op === 0x08 ? ra : RULE_UNDEFINED;
          else if (r === REG_RBP) rbp = RULE_UNCHANGED;
          break;
        }
        case 0x0a:
          (stack ??= []).push(cfa, cfaReg, cfaOffset, rbp, ra);
          break;
        case 0x0b:
          if (stack && stack.length >= 5) {
            ra = stack.pop()!;
            rbp = stack.pop()!;
            cfaOffset = stack.pop()!;
            cfaReg = stack.pop()!;
            cfa = stack.pop()!;
          }
          break;
        case 0x0c:
          cfaReg = c.uleb();
          cfaOffset = c.uleb();
          cfa = cfaKind(cfaReg);
          break;
        case 0x0d:
          cfaReg = c.uleb();
          cfa = cfaKind(cfaReg);
          break;
        case 0x0e:
          cfaOffset = c.uleb();
          if (cfa === CFA_PLT || cfa === CFA_EXPR) cfa = cfaKind(cfaReg);
          break;
        case 0x0f: {
          const len = c.uleb();
          const expr = c.b.subarray(c.pos, c.pos + len);
          const thr = pltThreshold(expr);
          c.pos += len;
          if (thr >= 0) {
            cfa = CFA_PLT; // the common PLT rule without the evaluator
            cfaOffset = thr;
          } else {
            cfa = CFA_EXPR;
            cfaOffset = pool.add(expr);
          }
          break;
        }
        case 0x12:
          cfaReg = c.uleb();
          cfaOffset = c.sleb() * cie.dataAlign;
          cfa = cfaKind(cfaReg);
          break;
        case 0x13:
          cfaOffset = c.sleb() * cie.dataAlign;
          if (cfa === CFA_EXPR) cfa = cfaKind(cfaReg);
          break;
        case 0x2e:
          c.uleb();
          break;
        default:
          // Unknown opcode: the rest of this program cannot be decoded.
          c.pos = end;
          cfa = CFA_UNKNOWN;
      }
    }
    if (delta !== 0) {
      if (sink && delta > 0) sink.push(pc, cfa | sig, cfaOffset, rbp, ra);
      pc += delta;
    }
  }
  return { state: { cfa, cfaReg, cfaOffset, rbp, ra }, pc };
}

/**
 * Parses one CFI section. `isEh` selects .eh_frame conventions (CIE id 0, relative CIE
 * pointers, pointer encodings); otherwise .debug_frame. `vaddr` is the section address.
 */
export function parseCfiSection(data: Buffer, vaddr: number, isEh: boolean, sink: RowSink = new RowSink()): RowSink {
  const cies = new Map<number, Cie>();
  const base: State = { cfa: CFA_UNKNOWN, cfaReg: -1, cfaOffset: 0, rbp: RULE_UNCHANGED, ra: RULE_UNDEFINED };

  const parseCie = (off: number): Cie | undefined => {
    const cached = cies.get(off);
    if (cached) return cached;
    const c = new ByteCursor(data, off);
    let len = c.u32();
    let is64 = false;
    if (len === 0xffffffff) {
      len = c.u64();
      is64 = true;
    }
    const end = c.pos + len;
    if (is64) c.u64();
    else c.u32();
    const version = c.u8();
    const aug = c.cstr();
    let addrSize = 8;
    if (aug.includes('eh')) c.pos += 8;
    if (!isEh && version >= 4) {
      addrSize = c.u8();
      c.u8();
    }
    const codeAlign = c.uleb();
    const dataAlign = c.sleb();
    const raReg = version === 1 ? c.u8() : c.uleb();
    let fdeEnc = 0;
    const hasAug = aug.startsWith('z');
    if (hasAug) {
      const augLen = c.uleb();
      const augEnd = c.pos + augLen;
      for (const ch of aug.slice(1)) {
        if (ch === 'R') fdeEnc = c.u8();
        else if (ch === 'L') c.u8();
        else if (ch === 'P') {
          const enc = c.u8();
          readEncoded(c, enc & 0x7f, vaddr + c.pos, addrSize);
        } else if (ch === 'S' || ch === 'B' || ch === 'G') continue;
        else break;
      }
      c.pos = augEnd;
    }
    const cie: Cie = {
      signal: hasAug && aug.includes('S'),
      codeAlign,
      dataAlign,
      raReg,
      fdeEnc,
      hasAug,
      initial: { start: c.pos, end },
      addrSize,
    };
    cie.init = execute(new ByteCursor(data, c.pos), end, cie, base, 0, undefined, vaddr, sink.exprs).state;
    cies.set(off, cie);
    return cie;
  };

  let off = 0;
  while (off + 4 <= data.length) {
    const c = new ByteCursor(data, off);
    let len = c.u32();
    if (len === 0) {
      // Terminator in .eh_frame (may be followed by more in concatenated sections).
      off += 4;
      continue;
    }
    let is64 = false;
    if (len === 0xffffffff) {
      len = c.u64();
      is64 = true;
    }
    const end = c.pos + len;
    if (end > data.length) break;
    const idPos = c.pos;
    const id = is64 ? c.u64() : c.u32();
    const isCie = isEh ? id === 0 : is64 ? id === 0xffffffffffffffff : id === 0xffffffff;
    if (!isCie) {
      try {
        const cieOff = isEh ? idPos - id : id;
        const cie = parseCie(cieOff);
        if (cie) {
          const enc = isEh ? cie.fdeEnc : 0;
          const pcBegin = readEncoded(c, enc, vaddr + c.pos, cie.addrSize);
          const pcRange = isEh ? readEncoded(c, enc & 0x0f, 0, cie.addrSize) : cie.addrSize === 4 ? c.u32() : c.u64();
          if (cie.hasAug) {
            const augLen = c.uleb();
            c.pos += augLen;
          }
          if (pcBegin !== 0 || !isEh) {
            sink.fdeFirst.push(sink.n);
            const final = execute(c, end, cie, cie.init!, pcBegin, sink, vaddr, sink.exprs);
            const f = final.state;
            if (final.pc < pcBegin + pcRange)
              sink.push(final.pc, f.cfa | (cie.signal ? CFA_SIGNAL : 0), f.cfaOffset, f.rbp, f.ra);
            sink.pushEnd(pcBegin + pcRange);
          }
        }
      } catch {
        /* malformed FDE: skip */
      }
    }
    off = end;
  }
  return sink;
}

/** Sorts rows into an UnwindTable: ties keep the later row, FDE-end markers lose to starts. */
export function buildUnwindTable(sink: RowSink): UnwindTable {
  const n = sink.n;
  const pcs = sink.pcs;
  const cfa = sink.cfa;
  const byFde = orderByFde(sink);
  if (byFde) return compact(byFde, sink);
  let order: Uint32Array = new Uint32Array(n);
  let maxPc = 0;
  for (let i = 0; i < n; i++) if (pcs[i]! > maxPc) maxPc = pcs[i]!;
  const idxBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (maxPc * 2 ** (idxBits + 1) < 2 ** 53) {
    // Packed keys (pc, start-over-marker, index) sorted natively: far faster than a comparator.
    const keys = new Float64Array(n);
    const mul = 2 ** (idxBits + 1);
    const markerBit = 2 ** idxBits;
    for (let i = 0; i < n; i++) keys[i] = pcs[i]! * mul + (cfa[i] === CFA_NONE ? 0 : markerBit) + i;
    keys.sort();
    for (let j = 0; j < n; j++) order[j] = keys[j]! % markerBit;
  } else order = sortByComparator(n, pcs, cfa);
  return compact(order, sink);
}

/**
 * Rows within an FDE are already in pc order: sorting the FDEs by start and concatenating
 * them is much cheaper than sorting all rows. Returns undefined when FDEs overlap (then
 * the caller sorts all rows).
 */
function orderByFde(sink: RowSink): Uint32Array | undefined {
  const f = sink.fdeFirst.length;
  if (f === 0 || f > 2 ** 24) return undefined;
  const pcs = sink.pcs;
  let maxPc = 0;
  for (let i = 0; i < f; i++) if (pcs[sink.fdeFirst[i]!]! > maxPc) maxPc = pcs[sink.fdeFirst[i]!]!;
  const bits = Math.max(1, Math.ceil(Math.log2(f + 1)));
  if (maxPc * 2 ** bits >= 2 ** 53) return undefined;
  const keys = new Float64Array(f);
  for (let i = 0; i < f; i++) keys[i] = pcs[sink.fdeFirst[i]!]! * 2 ** bits + i;
  keys.sort();
  const order = new Uint32Array(sink.n);
  let m = 0;
  const mod = 2 ** bits;
  for (let k = 0; k < f; k++) {
    const fi = keys[k]! % mod;
    const from = sink.fdeFirst[fi]!;
    const to = fi + 1 < f ? sink.fdeFirst[fi + 1]! : sink.n;
    for (let r = from; r < to; r++) {
      if (m > 0 && pcs[r]! < pcs[order[m - 1]!]!) return undefined; // overlap
      order[m++] = r;
    }
  }
  return m === sink.n ? order : undefined;
}

function sortByComparator(n: number, pcs: Float64Array, cfa: Uint8Array): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => {
    const d = pcs[a]! - pcs[b]!;
    if (d !== 0) return d;
    const ma = cfa[a] === CFA_NONE ? 0 : 1;
    const mb = cfa[b] === CFA_NONE ? 0 : 1;
    if (ma !== mb) return ma - mb;
    return a - b;
  });
  return order;
}

function compact(order: Uint32Array, sink: RowSink): UnwindTable {
  const n = order.length;
  const pcs = sink.pcs;
  const starts = new Float64Array(n);
  const k = new Uint8Array(n);
  const co = new Int32Array(n);
  const rb = new Int32Array(n);
  const ra = new Int32Array(n);
  let m = 0;
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    const pc = pcs[i]!;
    if (m > 0 && starts[m - 1] === pc) m--; // same pc: the later row wins
    // Merge with the previous row when the rules are identical.
    if (
      m > 0 &&
      k[m - 1] === sink.cfa[i] &&
      co[m - 1] === sink.cfaOff[i] &&
      rb[m - 1] === sink.rbp[i] &&
      ra[m - 1] === sink.ra[i]
    )
      continue;
    starts[m] = pc;
    k[m] = sink.cfa[i]!;
    co[m] = sink.cfaOff[i]!;
    rb[m] = sink.rbp[i]!;
    ra[m] = sink.ra[i]!;
    m++;
  }
  return new UnwindTable(
    starts.slice(0, m),
    k.slice(0, m),
    co.slice(0, m),
    rb.slice(0, m),
    ra.slice(0, m),
    sink.exprs.list,
  );
}

/** Builds the unwind table of an ELF file from .eh_frame and .debug_frame. */
export function readUnwindTable(elf: ElfFile): UnwindTable {
  const sink = new RowSink();
  const debug = elf.section('.debug_frame');
  if (debug && debug.size > 0 && debug.type !== 8) {
    try {
      parseCfiSection(elf.readSection(debug), 0, false, sink);
    } catch {
      /* ignore */
    }
  }
  const eh = elf.section('.eh_frame');
  if (eh && eh.size > 0 && eh.type !== 8) {
    // .eh_frame after .debug_frame: on equal pcs the later (.eh_frame) rows win.
    parseCfiSection(elf.readSection(eh), Number(eh.addr), true, sink);
  }
  return buildUnwindTable(sink);
}

export { RowSink };
