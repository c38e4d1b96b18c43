// Where CPython keeps what the frame walk reads, per minor version (x86-64, default build: not
// free-threaded, not Py_DEBUG). Read from the interpreters' DWARF with gdb (`ptype/o`): 3.11 from
// Debian's python3.11-dbg (3.11.2), 3.12 and 3.13 from CPython builds with debug info (3.12.1,
// 3.13.0); versions.test.ts compares this table with the DWARF of whichever of them it finds.
// These structs are internal: a minor version not listed here is refused (reported, never guessed).
import { PY_NO_OFFSET, PyEntryKind, type PyOffsets } from './layout.js';

const V3_11: PyOffsets = {
  runtimeInterpretersHead: 40,
  interpNext: 0,
  interpThreadsHead: 16,
  tstateNext: 8,
  tstateNativeThreadId: 160,
  tstateFrame: 56, // cframe
  cframeCurrentFrame: 8,
  frameCode: 32,
  framePrevious: 48,
  frameInstr: 56, // prev_instr
  frameEntry: 68, // is_entry
  frameOwner: 69,
  objectType: 8,
  codeFirstlineno: 72,
  codeFilename: 112,
  codeQualname: 128,
  codeLinetable: 136,
  codeBytecode: 184,
  unicodeLength: 16,
  unicodeState: 32,
  unicodeAsciiData: 48,
  unicodeCompactData: 72,
  bytesSize: 16,
  bytesData: 32,
  entryKind: PyEntryKind.Flag,
  cstackOwner: 0,
};

// Later versions: what differs from the previous one.
const V3_12: PyOffsets = {
  ...V3_11,
  interpThreadsHead: 72,
  tstateNativeThreadId: 144,
  cframeCurrentFrame: 0,
  frameCode: 0,
  framePrevious: 8,
  frameEntry: PY_NO_OFFSET,
  frameOwner: 70,
  codeFirstlineno: 68,
  codeBytecode: 192,
  unicodeAsciiData: 40, // wstr is gone
  unicodeCompactData: 56,
  entryKind: PyEntryKind.Shim,
  cstackOwner: 3, // FRAME_OWNED_BY_CSTACK
};

const V3_13: PyOffsets = {
  ...V3_12,
  runtimeInterpretersHead: 632,
  interpNext: 7264,
  interpThreadsHead: 7344,
  tstateNativeThreadId: 160,
  tstateFrame: 72, // current_frame: no _PyCFrame any more
  cframeCurrentFrame: PY_NO_OFFSET,
  frameCode: 0, // f_executable: the code object for Python frames (checked by type)
  frameInstr: 56, // instr_ptr
  codeBytecode: 200,
};

/** Layouts by "major.minor". */
export const PYTHON_LAYOUTS: Readonly<Record<string, PyOffsets>> = { '3.11': V3_11, '3.12': V3_12, '3.13': V3_13 };

/** The layout of a version (PY_VERSION_HEX), or why there is none. */
export function layoutFor(
  versionHex: number,
): { version: string; offsets: PyOffsets } | { version: string; refused: string } {
  const version = `${versionHex >>> 24}.${(versionHex >>> 16) & 0xff}`;
  const offsets = PYTHON_LAYOUTS[version];
  if (offsets) return { version, offsets };
  return {
    version,
    refused: `CPython ${version} is not in the frame layout table (${Object.keys(PYTHON_LAYOUTS).join(', ')})`,
  };
}
