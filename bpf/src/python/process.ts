// Finds the CPython runtime of a process: the mapped interpreter binary or libpython that defines
// _PyRuntime, its version (the Py_Version constant, 3.11+, read from the file) and the load bias,
// giving the addresses the kernel's frame walk starts from.
import { readFileSync, statSync } from 'node:fs';
import { parseProcMaps, readElf, type MapEntry } from '@swlite/symbolizer';
import { layoutFor } from './versions.js';
import type { PyOffsets } from './layout.js';

export interface PythonRuntime {
  /** "3.11" */
  version: string;
  /** The file that holds the runtime (executable or libpython). */
  path: string;
  /** Address of _PyRuntime in the process. */
  runtime: bigint;
  /** Address of PyCode_Type in the process. */
  codeType: bigint;
  offsets: PyOffsets;
}

/** A Python process whose version the table does not know: reported, not read. */
export interface RefusedPython {
  version: string;
  path: string;
  refused: string;
}

/** Files worth opening: an interpreter or its shared library (others never define _PyRuntime). */
const PYTHON_FILE = /(^|\/)(lib)?python\d(\.\d+)?[a-z]*(\.so[.\d]*)?$/;

/** The runtime of process `pid`, what refused it, or undefined when it is not CPython. */
export function findPythonRuntime(pid: number, procRoot = '/proc'): PythonRuntime | RefusedPython | undefined {
  let maps: MapEntry[];
  try {
    maps = parseProcMaps(readFileSync(`${procRoot}/${pid}/maps`, 'utf8'));
  } catch {
    return undefined;
  }
  const seen = new Set<string>();
  for (const m of maps) {
    if (!m.path.startsWith('/') || seen.has(m.path) || !PYTHON_FILE.test(m.path)) continue;
    seen.add(m.path);
    const found = runtimeIn(pid, m.path, maps, procRoot);
    if (found) return found;
  }
  return undefined;
}

function runtimeIn(
  pid: number,
  path: string,
  maps: MapEntry[],
  procRoot: string,
): PythonRuntime | RefusedPython | undefined {
  const info = interpreterFile(`${procRoot}/${pid}/root${path}`);
  if (!info) return undefined;
  if ('refused' in info) return { version: info.version, path, refused: info.refused };
  // Load bias: where the mapping of the file's first bytes landed, minus the ELF address there.
  const first = maps.find((m) => m.path === path && m.offset === 0n);
  if (!first) return undefined;
  const bias = first.start - info.base;
  return {
    version: info.version,
    path,
    runtime: info.runtime + bias,
    codeType: info.codeType + bias,
    offsets: info.offsets,
  };
}

/** What an interpreter file says about its runtime, in ELF addresses (before the load bias). */
type FileInfo =
  | { version: string; runtime: bigint; codeType: bigint; base: bigint; offsets: PyOffsets }
  | { version: string; refused: string };

/** Files read, by identity (inode, size, mtime): every process of one interpreter shares one read. */
const files = new Map<string, FileInfo | null>();
const MAX_FILES = 64;

function interpreterFile(file: string): FileInfo | undefined {
  let id: string;
  try {
    const st = statSync(file);
    id = `${file}\u0000${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  let info = files.get(id);
  if (info === undefined) {
    info = readInterpreterFile(file);
    if (files.size >= MAX_FILES) files.clear();
    files.set(id, info);
  }
  return info ?? undefined;
}

function readInterpreterFile(file: string): FileInfo | null {
  let elf;
  try {
    elf = readElf(file);
  } catch {
    return null;
  }
  const syms = elf.symbolAddresses(['_PyRuntime', 'Py_Version', 'PyCode_Type']);
  const runtime = syms.get('_PyRuntime');
  const codeType = syms.get('PyCode_Type');
  if (runtime === undefined || codeType === undefined) return null;
  const versionAt = syms.get('Py_Version');
  const off = versionAt === undefined ? undefined : elf.vaddrToFileOffset(versionAt);
  if (off === undefined)
    return { version: '<3.11', refused: 'CPython before 3.11 (no Py_Version): its frames are not read' };
  const layout = layoutFor(elf.read(Number(off), 4).readUInt32LE(0));
  if ('refused' in layout) return layout;
  const base = elf.fileOffsetToVaddr(0n);
  if (base === undefined) return null;
  return { version: layout.version, runtime, codeType, base, offsets: layout.offsets };
}
