// Finds the CPython runtime of a process: the mapped interpreter binary or libpython that defines
// _PyRuntime, its version (the Py_Version constant, 3.11+, read from the file) and the load bias,
// giving the addresses the kernel's frame walk starts from.
import { readFileSync } from 'node:fs';
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
  let elf;
  try {
    elf = readElf(`${procRoot}/${pid}/root${path}`, path);
  } catch {
    return undefined;
  }
  const syms = elf.symbolAddresses(['_PyRuntime', 'Py_Version', 'PyCode_Type']);
  const runtime = syms.get('_PyRuntime');
  const codeType = syms.get('PyCode_Type');
  if (runtime === undefined || codeType === undefined) return undefined;
  const versionAt = syms.get('Py_Version');
  const off = versionAt === undefined ? undefined : elf.vaddrToFileOffset(versionAt);
  if (off === undefined)
    return { version: '<3.11', path, refused: 'CPython before 3.11 (no Py_Version): its frames are not read' };
  const hex = elf.read(Number(off), 4).readUInt32LE(0);
  const layout = layoutFor(hex);
  if ('refused' in layout) return { version: layout.version, path, refused: layout.refused };
  // Load bias: where the mapping of the file's first bytes landed, minus the ELF address there.
  const first = maps.find((m) => m.path === path && m.offset === 0n);
  const base = first ? elf.fileOffsetToVaddr(0n) : undefined;
  if (!first || base === undefined) return undefined;
  const bias = first.start - base;
  return { version: layout.version, path, runtime: runtime + bias, codeType: codeType + bias, offsets: layout.offsets };
}
