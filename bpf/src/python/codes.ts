// Names the Python frames of samples: each frame's code object was read by the kernel into the
// py_codes map when first sampled (name, file, first line, location table); here it is decoded
// once per (process, code object, tag) and kept until the process is forgotten.
import type { BpfMap } from '@swlite/libbpf-ts';
import { lineAt } from './linetable.js';
import { PY_CODE, PY_CODE_KEY, type PyCode, type PyFrameRef } from './layout.js';

/** A named Python frame. */
export interface PythonFrame {
  /** co_qualname, e.g. "Worker.run". */
  name: string;
  /** co_filename as the interpreter has it. */
  file: string;
  /** The line being run; undefined when the location table does not say (or was cut). */
  line?: number;
  /** The first frame of an eval-loop call (see PyFrameRef.entry). */
  entry: boolean;
}

interface CodeInfo {
  name: string;
  file: string;
  firstLine: number;
  linetable: Buffer;
}

/** How a Python frame shows in a stack: "qualname (file:line)". */
export const pythonFrameName = (f: PythonFrame): string =>
  `${f.name} (${f.file}${f.line !== undefined ? `:${f.line}` : ''})`;

/** The characters of a PyUnicode's bytes of the given kind (1: latin-1, 2: UCS-2, 4: UCS-4). */
function decodeKind(b: Buffer, kind: number): string {
  if (kind === 1) return b.toString('latin1');
  if (kind === 2) return b.subarray(0, b.length & ~1).toString('utf16le');
  let s = '';
  for (let i = 0; i + 4 <= b.length; i += 4) s += String.fromCodePoint(Math.min(b.readUInt32LE(i), 0x10ffff));
  return s;
}

function codeInfo(c: PyCode): CodeInfo {
  const nameBytes = Math.min(c.nameLen, c.name.length);
  const fileBytes = Math.min(c.fileLen, c.file.length);
  const name = c.nameKind
    ? decodeKind(c.name.subarray(0, nameBytes), c.nameKind) + (c.nameLen > nameBytes ? '…' : '')
    : '<unnamed>';
  // The kernel keeps the end of a long file name (where the base name is).
  const file = c.fileKind
    ? (c.fileLen > fileBytes ? '…' : '') + decodeKind(c.file.subarray(0, fileBytes), c.fileKind)
    : '<unknown>';
  return {
    name,
    file,
    firstLine: c.firstLine,
    linetable: Buffer.from(c.linetable.subarray(0, Math.min(c.linetableLen, c.linetable.length))),
  };
}

/** Frames whose code object the kernel could not name (evicted before it was read here). */
const UNKNOWN: CodeInfo = {
  name: '<unknown python code>',
  file: '<unknown>',
  firstLine: 0,
  linetable: Buffer.alloc(0),
};

const MAX_CODES_PER_PROCESS = 50_000;

export class PythonCodes {
  readonly #byProcess = new Map<number, Map<string, CodeInfo>>();
  /** Frames named "<unknown python code>" so far. */
  unknown = 0;

  constructor(private readonly codes: BpfMap) {}

  #info(tgid: number, ref: PyFrameRef): CodeInfo {
    let known = this.#byProcess.get(tgid);
    if (!known) this.#byProcess.set(tgid, (known = new Map()));
    const k = `${ref.code.toString(36)}:${ref.tag}`;
    let info = known.get(k);
    if (info) return info;
    const raw = this.codes.lookup(PY_CODE_KEY.encode({ tgid, tag: ref.tag, code: ref.code }));
    if (!raw || raw.length < PY_CODE.size) {
      this.unknown++;
      return UNKNOWN;
    }
    info = codeInfo(PY_CODE.decode(raw));
    if (known.size >= MAX_CODES_PER_PROCESS) known.clear(); // a process that keeps making code (exec, eval)
    known.set(k, info);
    return info;
  }

  /** Names a sample's frames (innermost first, as recorded). */
  name(tgid: number, refs: readonly PyFrameRef[]): PythonFrame[] {
    return refs.map((ref) => {
      const info = this.#info(tgid, ref);
      const line = lineAt(info.linetable, info.firstLine, ref.instr);
      return { name: info.name, file: info.file, ...(line !== undefined ? { line } : {}), entry: ref.entry };
    });
  }

  /** Drops what is known of a process (it left the profile). */
  forget(tgid: number): void {
    this.#byProcess.delete(tgid);
  }
}
