// A bounded evaluator of DWARF expressions as call frame information uses them
// (DW_CFA_def_cfa_expression, DW_CFA_expression, DW_CFA_val_expression) on x86-64: the PLT's
// CFA rule, glibc's signal trampoline (__restore_rt: registers saved in the kernel's
// rt_sigframe), hand-written assembly. Registers other than rsp, rbp and rip are not known
// during a stack walk; an expression that needs one, or runs past the op limit, has no value.

/** Registers known to the walk, by DWARF number (x86-64: 6 rbp, 7 rsp, 16 rip). */
export interface ExprRegs {
  rsp: bigint;
  rbp: bigint | undefined;
  rip: bigint;
}

/** Reads 8 bytes of the stack snapshot, or undefined outside it. */
export type ExprRead = (addr: bigint) => bigint | undefined;

/** Ops executed at most per evaluation (loops through DW_OP_bra/skip are bounded by it). */
export const MAX_EXPR_OPS = 64;
const MAX_STACK = 32;
const U64 = (v: bigint) => BigInt.asUintN(64, v);
const S64 = (v: bigint) => BigInt.asIntN(64, v);

function reg(regs: ExprRegs, n: number): bigint | undefined {
  return n === 7 ? regs.rsp : n === 6 ? regs.rbp : n === 16 ? regs.rip : undefined;
}

/**
 * Evaluates `expr` with `initial` pushed first (the CFA, for register rules); returns the top of
 * the stack as an unsigned 64-bit value, or undefined when the expression cannot be evaluated.
 */
export function evalCfiExpression(expr: Uint8Array, regs: ExprRegs, read: ExprRead, initial?: bigint): bigint | undefined {
  const st: bigint[] = initial === undefined ? [] : [initial];
  let pc = 0;
  let ops = 0;
  const u8 = () => expr[pc++]!;
  const uleb = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pc >= expr.length) throw new RangeError('truncated');
      const b = expr[pc++]!;
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (!(b & 0x80)) return result;
    }
  };
  const sleb = (): bigint => {
    let result = 0n;
    let shift = 0n;
    let b: number;
    do {
      if (pc >= expr.length) throw new RangeError('truncated');
      b = expr[pc++]!;
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    if (b & 0x40) result -= 1n << shift;
    return result;
  };
  const fixed = (n: number, signed: boolean): bigint => {
    if (pc + n > expr.length) throw new RangeError('truncated');
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(expr[pc + i]!);
    pc += n;
    return signed ? BigInt.asIntN(n * 8, v) : v;
  };
  const pop = (): bigint => {
    const v = st.pop();
    if (v === undefined) throw new RangeError('stack underflow');
    return v;
  };
  const push = (v: bigint) => {
    if (st.length >= MAX_STACK) throw new RangeError('stack overflow');
    st.push(U64(v));
  };
  try {
    while (pc < expr.length) {
      if (++ops > MAX_EXPR_OPS) return undefined;
      const op = u8();
      if (op >= 0x30 && op <= 0x4f) {
        push(BigInt(op - 0x30)); // DW_OP_lit0..31
        continue;
      }
      if (op >= 0x70 && op <= 0x8f) {
        const r = reg(regs, op - 0x70); // DW_OP_breg0..31
        const off = sleb();
        if (r === undefined) return undefined;
        push(r + off);
        continue;
      }
      switch (op) {
        case 0x03: // addr
          push(fixed(8, false));
          break;
        case 0x06: {
          // deref
          const v = read(pop());
          if (v === undefined) return undefined;
          push(v);
          break;
        }
        case 0x94: {
          // deref_size
          const size = u8();
          const v = read(pop());
          if (v === undefined || size > 8) return undefined;
          push(size === 8 ? v : v & ((1n << BigInt(size * 8)) - 1n));
          break;
        }
        case 0x08:
          push(fixed(1, false));
          break;
        case 0x09:
          push(fixed(1, true));
          break;
        case 0x0a:
          push(fixed(2, false));
          break;
        case 0x0b:
          push(fixed(2, true));
          break;
        case 0x0c:
          push(fixed(4, false));
          break;
        case 0x0d:
          push(fixed(4, true));
          break;
        case 0x0e:
          push(fixed(8, false));
          break;
        case 0x0f:
          push(fixed(8, true));
          break;
        case 0x10:
          push(uleb());
          break;
        case 0x11:
          push(sleb());
          break;
        case 0x12: {
          const v = pop();
          push(v);
          push(v);
          break;
        }
        case 0x13:
          pop();
          break;
        case 0x14: {
          if (st.length < 2) return undefined;
          push(st[st.length - 2]!);
          break;
        }
        case 0x15: {
          const i = u8();
          if (i >= st.length) return undefined;
          push(st[st.length - 1 - i]!);
          break;
        }
        case 0x16: {
          const a = pop();
          const b = pop();
          push(a);
          push(b);
          break;
        }
        case 0x17: {
          const a = pop();
          const b = pop();
          const c = pop();
          push(a);
          push(c);
          push(b);
          break;
        }
        case 0x19: {
          const v = S64(pop());
          push(v < 0n ? -v : v);
          break;
        }
        case 0x1f:
          push(-S64(pop()));
          break;
        case 0x20:
          push(~pop());
          break;
        case 0x23:
          push(pop() + uleb());
          break;
        case 0x28: {
          // bra
          const off = Number(fixed(2, true));
          if (pop() !== 0n) pc += off;
          if (pc < 0 || pc > expr.length) return undefined;
          break;
        }
        case 0x2f: {
          // skip
          const off = Number(fixed(2, true));
          pc += off;
          if (pc < 0 || pc > expr.length) return undefined;
          break;
        }
        case 0x90: {
          // regx: a register location, not a value: not valid in CFI expressions
          return undefined;
        }
        case 0x92: {
          // bregx
          const r = reg(regs, Number(uleb()));
          const off = sleb();
          if (r === undefined) return undefined;
          push(r + off);
          break;
        }
        case 0x96: // nop
          break;
        default: {
          // Binary operators: b (top) op'd into a (below it).
          const b = pop();
          const a = pop();
          const v = binary(op, a, b);
          if (v === undefined) return undefined;
          push(v);
        }
      }
    }
  } catch {
    return undefined; // truncated expression, stack under- or overflow
  }
  return st.length ? st[st.length - 1] : undefined;
}

function binary(op: number, a: bigint, b: bigint): bigint | undefined {
  switch (op) {
    case 0x1a:
      return a & b;
    case 0x1b:
      return b === 0n ? undefined : S64(a) / S64(b);
    case 0x1c:
      return a - b;
    case 0x1d:
      return b === 0n ? undefined : a % b;
    case 0x1e:
      return a * b;
    case 0x21:
      return a | b;
    case 0x22:
      return a + b;
    case 0x24:
      return b >= 64n ? 0n : a << b;
    case 0x25:
      return b >= 64n ? 0n : a >> b;
    case 0x26:
      return S64(a) >> (b >= 64n ? 63n : b);
    case 0x27:
      return a ^ b;
    case 0x29:
      return a === b ? 1n : 0n;
    case 0x2a:
      return S64(a) >= S64(b) ? 1n : 0n;
    case 0x2b:
      return S64(a) > S64(b) ? 1n : 0n;
    case 0x2c:
      return S64(a) <= S64(b) ? 1n : 0n;
    case 0x2d:
      return S64(a) < S64(b) ? 1n : 0n;
    case 0x2e:
      return a !== b ? 1n : 0n;
    default:
      return undefined; // an op this evaluator does not know
  }
}
