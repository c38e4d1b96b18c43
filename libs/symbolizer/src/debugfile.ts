// Separate debug files: by build-id (<debugdir>/.build-id/ab/cdef....debug) and by
// .gnu_debuglink (next to the binary, in its .debug/ subdirectory, and under
// <debugdir>/<binary's dir>/), with the debuglink CRC-32 checked; and the supplementary file a
// debug file names in .gnu_debugaltlink (dwz -m), matched by its build-id.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readElf, fileCrc32, type ElfFile } from './elf.js';

export interface DebugLookup {
  /** The binary's path as the process sees it (inside its mount namespace). */
  path: string;
  buildId?: string;
  debuglink?: { file: string; crc: number };
  /** Prefix to reach the process's filesystem, e.g. /proc/PID/root ('' for the host). */
  root?: string;
  debugDirs?: string[];
}

export const DEFAULT_DEBUG_DIRS = ['/usr/lib/debug'];

/** Candidate paths, most specific first (build-id before debuglink). */
export function debugCandidates(q: DebugLookup): { path: string; via: 'build-id' | 'debuglink' }[] {
  const dirs = q.debugDirs ?? DEFAULT_DEBUG_DIRS;
  const roots = q.root ? [q.root, ''] : [''];
  const out: { path: string; via: 'build-id' | 'debuglink' }[] = [];
  if (q.buildId && q.buildId.length > 2) {
    for (const r of roots)
      for (const d of dirs)
        out.push({ path: `${r}${d}/.build-id/${q.buildId.slice(0, 2)}/${q.buildId.slice(2)}.debug`, via: 'build-id' });
  }
  if (q.debuglink) {
    const dir = dirname(q.path);
    for (const r of roots) {
      out.push({ path: r + join(dir, q.debuglink.file), via: 'debuglink' });
      out.push({ path: r + join(dir, '.debug', q.debuglink.file), via: 'debuglink' });
      for (const d of dirs) out.push({ path: r + join(d, dir, q.debuglink.file), via: 'debuglink' });
    }
  }
  return out;
}

/**
 * The supplementary file of a debug file (`.gnu_debugaltlink`), or undefined. Its path is
 * usually absolute under /usr/lib/debug (`/usr/lib/debug/.dwz/<triplet>/<pkg>.debug`): it is
 * looked for as written (under the process's root, then the host's), relative to the debug
 * file, with /usr/lib/debug replaced by each debug directory (a debug tree unpacked elsewhere),
 * and by its build-id. Only a file with the build-id the link names is taken.
 */
export function findSupplementaryFile(
  debugFile: ElfFile,
  q: { root?: string; debugDirs?: string[] } = {},
): ElfFile | undefined {
  const link = debugFile.debugAltLink;
  if (!link) return undefined;
  const dirs = q.debugDirs ?? DEFAULT_DEBUG_DIRS;
  const roots = q.root ? [q.root, ''] : [''];
  const candidates: string[] = [];
  if (link.file.startsWith('/')) {
    for (const r of roots) candidates.push(r + link.file);
    const rest = link.file.startsWith(`${DEFAULT_DEBUG_DIRS[0]}/`)
      ? link.file.slice(DEFAULT_DEBUG_DIRS[0]!.length)
      : undefined;
    if (rest) for (const d of dirs) candidates.push(d + rest);
  } else candidates.push(join(dirname(debugFile.path), link.file));
  if (link.buildId.length > 2)
    for (const r of roots)
      for (const d of dirs)
        candidates.push(`${r}${d}/.build-id/${link.buildId.slice(0, 2)}/${link.buildId.slice(2)}.debug`);
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const elf = readElf(path);
      if (elf.buildId === link.buildId) return elf;
    } catch {
      /* unreadable: try the next */
    }
  }
  return undefined;
}

/** Finds and opens a matching debug file, or undefined. */
export function findDebugFile(q: DebugLookup): ElfFile | undefined {
  for (const c of debugCandidates(q)) {
    if (!existsSync(c.path)) continue;
    if (c.via === 'debuglink' && (c.path === q.path || c.path === (q.root ?? '') + q.path)) continue;
    let elf: ElfFile;
    try {
      elf = readElf(c.path);
    } catch {
      continue;
    }
    if (q.buildId && elf.buildId) {
      if (elf.buildId === q.buildId) return elf;
      continue;
    }
    if (c.via === 'build-id') return elf;
    // debuglink without build-ids on both sides: the CRC decides.
    try {
      if (fileCrc32(c.path) === q.debuglink!.crc) return elf;
    } catch {
      /* unreadable */
    }
  }
  return undefined;
}
