// Go function table from .gopclntab (Go 1.18+ layout: magic 0xfffffff0 for 1.18/1.19,
// 0xfffffff1 for 1.20 and later). Stripped Go binaries (-ldflags=-s -w) lose .symtab but
// keep this table, which the Go runtime itself needs for tracebacks.
import { SymbolTable } from './symtab.js';

export const GO_MAGIC_118 = 0xfffffff0;
export const GO_MAGIC_120 = 0xfffffff1;

/**
 * Parses a pclntab. `textFallback` is used as the text start when the header's textStart
 * is 0 (it is filled in by relocation at run time in some link modes).
 */
export function parseGoPclntab(data: Buffer, textFallback: bigint = 0n, littleEndian = true): SymbolTable {
  if (data.length < 8) throw new Error('pclntab too short');
  const u32 = (o: number) => (littleEndian ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const magic = u32(0);
  if (magic !== GO_MAGIC_118 && magic !== GO_MAGIC_120) {
    throw new Error(`unsupported pclntab magic 0x${magic.toString(16)}`);
  }
  const ptrSize = data[7]!;
  if (ptrSize !== 4 && ptrSize !== 8) throw new Error('bad pclntab pointer size');
  const word = (i: number): number => {
    const o = 8 + i * ptrSize;
    if (ptrSize === 4) return u32(o);
    return littleEndian
      ? data.readUInt32LE(o) + data.readUInt32LE(o + 4) * 4294967296
      : data.readUInt32BE(o + 4) + data.readUInt32BE(o) * 4294967296;
  };
  const nfunc = word(0);
  let textStart = word(2);
  const funcnameOffset = word(3);
  const pclnOffset = word(7);
  if (textStart === 0) textStart = Number(textFallback);
  const functab = pclnOffset;
  if (functab + (nfunc * 2 + 1) * 4 > data.length) throw new Error('pclntab functab out of range');
  const starts = new Float64Array(nfunc);
  const sizes = new Float64Array(nfunc);
  const names = new Float64Array(nfunc);
  const funcnames = data.subarray(funcnameOffset);
  for (let i = 0; i < nfunc; i++) {
    const entry = u32(functab + i * 8);
    const funcOff = u32(functab + i * 8 + 4);
    const next = u32(functab + (i + 1) * 8);
    starts[i] = textStart + entry;
    sizes[i] = next > entry ? next - entry : 0;
    const f = functab + funcOff;
    names[i] = f + 8 <= data.length ? (littleEndian ? data.readInt32LE(f + 4) : data.readInt32BE(f + 4)) : 0;
  }
  return SymbolTable.build(0n, { starts, sizes, names }, { kind: 'cstr', buffers: [funcnames], bufferBase: [0] });
}
