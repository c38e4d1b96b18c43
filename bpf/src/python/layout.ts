// The structs of include/pyframes.h (Python frames read at sample time), described once;
// layout.test.ts checks them against the BTF of the snapshot objects.
import { bytes, cStruct, padding, s32, u16, u32, u64, u8 } from '../c-layout.js';

export const PY_MAX_FRAMES = 64;
export const PY_NAME_BYTES = 128;
export const PY_FILE_BYTES = 256;
export const PY_LINETABLE_BYTES = 512;
/** A frame's instr carries this bit on the first frame of an eval-loop call. */
export const PY_FRAME_ENTRY = 0x8000_0000;
/** py_offsets.cframe_current_frame when the thread state points at the frame itself. */
export const PY_NO_OFFSET = 0xffff;

/** py_offsets.entry_kind */
export enum PyEntryKind {
  /** 3.11: the frame's is_entry bool. */
  Flag = 0,
  /** 3.12+: a shim frame owned by the C stack precedes each eval call's first frame. */
  Shim = 1,
}

export const PY_OFFSETS = cStruct('py_offsets', {
  runtimeInterpretersHead: u16,
  interpNext: u16,
  interpThreadsHead: u16,
  tstateNext: u16,
  tstateNativeThreadId: u16,
  tstateFrame: u16,
  cframeCurrentFrame: u16,
  frameCode: u16,
  framePrevious: u16,
  frameInstr: u16,
  frameEntry: u16,
  frameOwner: u16,
  objectType: u16,
  codeFirstlineno: u16,
  codeFilename: u16,
  codeQualname: u16,
  codeLinetable: u16,
  codeBytecode: u16,
  unicodeLength: u16,
  unicodeState: u16,
  unicodeAsciiData: u16,
  unicodeCompactData: u16,
  bytesSize: u16,
  bytesData: u16,
  entryKind: u8,
  cstackOwner: u8,
  pad: padding(2),
});
export type PyOffsets = ReturnType<typeof PY_OFFSETS.decode>;

export const PY_PROC = cStruct('py_proc', { runtime: u64, codeType: u64, off: PY_OFFSETS, pad: padding(4) });
export const PY_FRAME = cStruct('py_frame', { code: u64, tag: u32, instr: u32 });
export const PY_CODE_KEY = cStruct('py_code_key', { tgid: u32, tag: u32, code: u64 });
export const PY_CODE = cStruct('py_code', {
  firstLine: s32,
  linetableLen: u32,
  nameLen: u32,
  fileLen: u32,
  nameKind: u8,
  fileKind: u8,
  pad: padding(2),
  name: bytes(PY_NAME_BYTES),
  file: bytes(PY_FILE_BYTES),
  linetable: bytes(PY_LINETABLE_BYTES),
});
export type PyCode = ReturnType<typeof PY_CODE.decode>;

/** A Python frame as the kernel recorded it. */
export interface PyFrameRef {
  code: bigint;
  tag: number;
  /** Byte offset of the current instruction in the code object's bytecode. */
  instr: number;
  /** The first frame of an eval-loop call (one _PyEval_EvalFrameDefault on the native stack). */
  entry: boolean;
}

/** Decodes `n` struct py_frame at `offset`. */
export function decodePyFrames(rec: Buffer, offset: number, n: number): PyFrameRef[] {
  const out: PyFrameRef[] = [];
  for (let i = 0; i < n; i++) {
    const f = PY_FRAME.decode(rec, offset + i * PY_FRAME.size);
    out.push({
      code: f.code,
      tag: f.tag,
      instr: (f.instr & ~PY_FRAME_ENTRY) >>> 0,
      entry: (f.instr & PY_FRAME_ENTRY) !== 0,
    });
  }
  return out;
}
