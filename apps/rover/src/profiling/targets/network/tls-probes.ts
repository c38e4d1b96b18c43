/**
 * Where a task's processes run OpenSSL, for the TLS uprobes of network.bpf.o: the executable or a
 * mapped library that defines SSL_read and SSL_write (libssl.so.3 of nginx and curl; Node's own
 * binary, which links OpenSSL in). Uprobes are per file, so each file (device and inode) is
 * probed once for the whole run; the BPF side keeps to the task's processes. A process without
 * OpenSSL is simply not probed.
 */
import { readFileSync } from 'node:fs';
import { parseProcMaps, readElf, SHT_DYNSYM, SHT_SYMTAB, type ElfFile } from '@swlite/symbolizer';
import { TLS_FUNCTIONS, TLS_REQUIRED_FUNCTIONS, type TlsFunction } from '@swlite/bpf';

/** A file of a process that carries OpenSSL. */
export interface TlsFile {
  /** The file as this process sees it (through /proc/<pid>/root: other mount namespaces work). */
  path: string;
  /** `<dev>:<inode>` from the process's maps: the same file in every process. */
  id: string;
  /** The TLS_FUNCTIONS it defines. */
  functions: TlsFunction[];
}

/**
 * Functions of `wanted` that the file defines (imports do not count): .dynsym first, where a
 * library or an executable exporting OpenSSL (node) has them; .symtab only when that is not enough.
 */
export function definedFunctions(elf: ElfFile, wanted: readonly string[]): Set<string> {
  const want = wanted.map((w) => Buffer.from(`${w}\0`, 'latin1'));
  const found = new Set<string>();
  for (const type of [SHT_DYNSYM, SHT_SYMTAB]) {
    for (const sec of elf.sections) {
      if (sec.type !== type || sec.size === 0) continue;
      const strSec = elf.sections[sec.link];
      if (!strSec) continue;
      const { names, strtab } = elf.readSymbols(sec, strSec);
      for (const off of names) {
        for (let i = 0; i < want.length; i++) {
          const w = want[i]!;
          // first byte, then the whole name with its terminator
          if (strtab[off] === w[0] && strtab.compare(w, 0, w.length, off, off + w.length) === 0) found.add(wanted[i]!);
        }
      }
    }
    if (found.size === wanted.length) break;
  }
  return found;
}

/** Executable file mappings of /proc/<pid>/maps, one per file. */
const mappedFiles = (pid: number): Array<{ path: string; id: string }> => {
  const seen = new Map<string, { path: string; id: string }>();
  for (const m of parseProcMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'))) {
    if (!m.perms.includes('x') || m.inode === 0 || !m.path.startsWith('/') || m.deleted) continue;
    const id = `${m.dev}:${m.inode}`;
    if (!seen.has(id)) seen.set(id, { path: `/proc/${pid}/root${m.path}`, id });
  }
  return [...seen.values()];
};

/** Finds, per file, whether it carries OpenSSL; remembers the answer per file. */
export class TlsFileFinder {
  readonly #known = new Map<string, TlsFunction[] | null>();

  /** The files of `pid` that carry OpenSSL. Throws when its maps cannot be read (it exited). */
  files(pid: number): TlsFile[] {
    const out: TlsFile[] = [];
    for (const f of mappedFiles(pid)) {
      let functions = this.#known.get(f.id);
      if (functions === undefined) {
        functions = this.#inspect(f.path);
        this.#known.set(f.id, functions);
      }
      if (functions) out.push({ ...f, functions });
    }
    return out;
  }

  #inspect(path: string): TlsFunction[] | null {
    let found: Set<string>;
    try {
      found = definedFunctions(readElf(path), TLS_FUNCTIONS);
    } catch {
      return null; // not an ELF file we can read: nothing to probe there
    }
    if (!TLS_REQUIRED_FUNCTIONS.every((f) => found.has(f))) return null;
    return TLS_FUNCTIONS.filter((f) => found.has(f));
  }
}
