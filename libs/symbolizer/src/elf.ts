// A small ELF reader: headers, program and section headers, symbol tables, build-id,
// .gnu_debuglink and .gnu_debugdata (MiniDebugInfo). Reads only the parts it needs from
// files (positioned reads), or works on an in-memory Buffer.
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { SymbolTable, type SymbolInput } from './symtab.js';
import { parseGoPclntab } from './gopclntab.js';

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
export const ET_EXEC = 2;
export const ET_DYN = 3;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHF_EXECINSTR = 4;

export interface ElfSegment {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: number;
}

export interface ElfSection {
  name: string;
  type: number;
  flags: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

interface Reader {
  read(offset: number, length: number): Buffer;
  readonly size: number;
}

class BufferReader implements Reader {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  read(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.buf.length) throw new Error('ELF read out of range');
    return this.buf.subarray(offset, offset + length);
  }
}

/** Opens the file for each read: ElfFile objects never hold descriptors. */
class FileReader implements Reader {
  constructor(
    private readonly path: string,
    readonly size: number,
  ) {}
  read(offset: number, length: number): Buffer {
    if (offset < 0 || offset + length > this.size) throw new Error('ELF read out of range');
    const fd = openSync(this.path, 'r');
    try {
      const out = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, out, got, length - got, offset + got);
        if (n <= 0) throw new Error(`short read in ${this.path}`);
        got += n;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }
}

export class ElfFile {
  readonly path: string;
  readonly is64: boolean;
  readonly littleEndian: boolean;
  readonly type: number;
  readonly machine: number;
  readonly entry: bigint;
  readonly segments: ElfSegment[];
  readonly sections: ElfSection[];
  readonly buildId?: string;
  readonly debuglink?: { file: string; crc: number };
  private readonly reader: Reader;
  private symCache?: SymbolTable;

  constructor(reader: Reader, path: string) {
    this.reader = reader;
    this.path = path;
    const ident = reader.read(0, 64 > reader.size ? reader.size : 64);
    if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) throw new Error(`not an ELF file: ${path}`);
    this.is64 = ident[4] === 2;
    this.littleEndian = ident[5] === 1;
    const h = ident;
    const u16 = (o: number) => (this.littleEndian ? h.readUInt16LE(o) : h.readUInt16BE(o));
    const u32 = (o: number) => (this.littleEndian ? h.readUInt32LE(o) : h.readUInt32BE(o));
    const u64 = (o: number) => (this.littleEndian ? h.readBigUInt64LE(o) : h.readBigUInt64BE(o));
    this.type = u16(16);
    this.machine = u16(18);
    let phoff: number,
      shoff: number,
      phentsize: number,
      phnum: number,
      shentsize: number,
      shnum: number,
      shstrndx: number;
    if (this.is64) {
      this.entry = u64(24);
      phoff = Number(u64(32));
      shoff = Number(u64(40));
      phentsize = u16(54);
      phnum = u16(56);
      shentsize = u16(58);
      shnum = u16(60);
      shstrndx = u16(62);
    } else {
      this.entry = BigInt(u32(24));
      phoff = u32(28);
      shoff = u32(32);
      phentsize = u16(42);
      phnum = u16(44);
      shentsize = u16(46);
      shnum = u16(48);
      shstrndx = u16(50);
    }
    this.segments = [];
    if (phoff && phnum) {
      const ph = reader.read(phoff, phentsize * phnum);
      for (let i = 0; i < phnum; i++) this.segments.push(this.parsePhdr(ph, i * phentsize));
    }
    this.sections = [];
    if (shoff && shoff + shentsize < reader.size) {
      let sh = reader.read(shoff, shentsize);
      if (shnum === 0) shnum = Number(this.parseShdrRaw(sh, 0).size); // extended numbering
      if (shstrndx === 0xffff) shstrndx = this.parseShdrRaw(sh, 0).link;
      if (shoff + shentsize * shnum <= reader.size) {
        sh = reader.read(shoff, shentsize * shnum);
        const raw = [];
        for (let i = 0; i < shnum; i++) raw.push(this.parseShdrRaw(sh, i * shentsize));
        const strSec = raw[shstrndx];
        let names: Buffer | undefined;
        if (strSec && strSec.type !== SHT_NOBITS && strSec.offset + strSec.size <= reader.size) {
          names = reader.read(strSec.offset, strSec.size);
        }
        for (const r of raw) {
          let name = '';
          if (names && r.nameOff < names.length) {
            const end = names.indexOf(0, r.nameOff);
            name = names.toString('latin1', r.nameOff, end < 0 ? names.length : end);
          }
          this.sections.push({ ...r, name });
        }
      }
    }
    this.buildId = this.findBuildId();
    this.debuglink = this.findDebuglink();
  }

  private parsePhdr(b: Buffer, o: number): ElfSegment {
    const le = this.littleEndian;
    const u32 = (x: number) => (le ? b.readUInt32LE(o + x) : b.readUInt32BE(o + x));
    const u64 = (x: number) => (le ? b.readBigUInt64LE(o + x) : b.readBigUInt64BE(o + x));
    if (this.is64) {
      return {
        type: u32(0),
        flags: u32(4),
        offset: Number(u64(8)),
        vaddr: u64(16),
        filesz: Number(u64(32)),
        memsz: Number(u64(40)),
      };
    }
    return {
      type: u32(0),
      offset: u32(4),
      vaddr: BigInt(u32(8)),
      filesz: u32(16),
      memsz: u32(20),
      flags: u32(24),
    };
  }

  private parseShdrRaw(b: Buffer, o: number): Omit<ElfSection, 'name'> & { nameOff: number } {
    const le = this.littleEndian;
    const u32 = (x: number) => (le ? b.readUInt32LE(o + x) : b.readUInt32BE(o + x));
    const u64 = (x: number) => (le ? b.readBigUInt64LE(o + x) : b.readBigUInt64BE(o + x));
    if (this.is64) {
      return {
        nameOff: u32(0),
        type: u32(4),
        flags: Number(u64(8)),
        addr: u64(16),
        offset: Number(u64(24)),
        size: Number(u64(32)),
        link: u32(40),
        info: u32(44),
        entsize: Number(u64(56)),
      };
    }
    return {
      nameOff: u32(0),
      type: u32(4),
      flags: u32(8),
      addr: BigInt(u32(12)),
      offset: u32(16),
      size: u32(20),
      link: u32(24),
      info: u32(28),
      entsize: u32(36),
    };
  }

  get fileSize(): number {
    return this.reader.size;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** Section contents (empty for NOBITS). */
  readSection(sec: ElfSection): Buffer {
    if (sec.type === SHT_NOBITS || sec.size === 0) return Buffer.alloc(0);
    return this.reader.read(sec.offset, sec.size);
  }

  /** Reads bytes at a file offset. */
  read(offset: number, length: number): Buffer {
    return this.reader.read(offset, length);
  }

  /** Loadable segments. */
  get loads(): ElfSegment[] {
    return this.segments.filter((s) => s.type === PT_LOAD);
  }

  /** Converts a file offset to an ELF virtual address through the PT_LOAD containing it. */
  fileOffsetToVaddr(off: bigint): bigint | undefined {
    const o = Number(off);
    let best: ElfSegment | undefined;
    for (const s of this.segments) {
      if (s.type !== PT_LOAD) continue;
      if (o >= s.offset && o < s.offset + Math.max(s.filesz, 1)) {
        // Prefer the executable segment when segments share a page.
        if (!best || (s.flags & PF_X && !(best.flags & PF_X))) best = s;
      }
    }
    if (!best) return undefined;
    return off - BigInt(best.offset) + best.vaddr;
  }

  /** Converts an ELF virtual address to a file offset. */
  vaddrToFileOffset(vaddr: bigint): bigint | undefined {
    for (const s of this.segments) {
      if (s.type !== PT_LOAD) continue;
      if (vaddr >= s.vaddr && vaddr < s.vaddr + BigInt(s.filesz)) return vaddr - s.vaddr + BigInt(s.offset);
    }
    return undefined;
  }

  private findBuildId(): string | undefined {
    const notes: { offset: number; size: number }[] = [];
    for (const s of this.sections) if (s.type === SHT_NOTE) notes.push({ offset: s.offset, size: s.size });
    if (notes.length === 0)
      for (const p of this.segments) if (p.type === PT_NOTE) notes.push({ offset: p.offset, size: p.filesz });
    for (const n of notes) {
      if (n.size > 1 << 16 || n.offset + n.size > this.reader.size) continue;
      const b = this.reader.read(n.offset, n.size);
      let o = 0;
      while (o + 12 <= b.length) {
        const u32 = (x: number) => (this.littleEndian ? b.readUInt32LE(x) : b.readUInt32BE(x));
        const namesz = u32(o);
        const descsz = u32(o + 4);
        const type = u32(o + 8);
        const nameStart = o + 12;
        const descStart = nameStart + ((namesz + 3) & ~3);
        if (descStart + descsz > b.length) break;
        const name = b.toString('latin1', nameStart, nameStart + Math.max(0, namesz - 1));
        if (type === 3 && name === 'GNU') return b.toString('hex', descStart, descStart + descsz);
        o = descStart + ((descsz + 3) & ~3);
      }
    }
    return undefined;
  }

  /**
   * The supplementary debug file that dwz moved shared DWARF into (`.gnu_debugaltlink`: its path
   * and build-id), or undefined. Names in DWARF that use DW_FORM_GNU_strp_alt/ref_alt live there.
   */
  get debugAltLink(): { file: string; buildId: string } | undefined {
    const sec = this.section('.gnu_debugaltlink');
    if (!sec || sec.size < 2 || sec.type === 8) return undefined;
    const b = this.readSection(sec);
    const end = b.indexOf(0);
    if (end <= 0) return undefined;
    return { file: b.toString('latin1', 0, end), buildId: b.toString('hex', end + 1) };
  }

  private findDebuglink(): { file: string; crc: number } | undefined {
    const sec = this.section('.gnu_debuglink');
    if (!sec || sec.size < 8) return undefined;
    const b = this.readSection(sec);
    const end = b.indexOf(0);
    if (end <= 0) return undefined;
    const crcOff = (end + 4) & ~3;
    if (crcOff + 4 > b.length) return undefined;
    const crc = this.littleEndian ? b.readUInt32LE(crcOff) : b.readUInt32BE(crcOff);
    return { file: b.toString('latin1', 0, end), crc };
  }

  get hasSymtab(): boolean {
    return this.sections.some((s) => s.type === SHT_SYMTAB && s.size > 0);
  }

  /** Bounds of executable sections (vaddr range), for size-0 fallback limits. */
  private textLimit(): number {
    let end = 0;
    for (const s of this.sections) if (s.flags & SHF_EXECINSTR) end = Math.max(end, Number(s.addr) + s.size);
    if (end === 0)
      for (const p of this.segments)
        if (p.type === PT_LOAD && p.flags & PF_X) end = Math.max(end, Number(p.vaddr) + p.memsz);
    return end || Number.POSITIVE_INFINITY;
  }

  /**
   * ELF addresses of the named symbols of any type (data too), from .dynsym, then .symtab for
   * those not found there; a name absent from both is absent from the result.
   */
  symbolAddresses(names: readonly string[]): Map<string, bigint> {
    const want = new Set(names);
    const out = new Map<string, bigint>();
    const tables = [...this.sections.filter((s) => s.type === SHT_DYNSYM), ...this.sections.filter((s) => s.type === SHT_SYMTAB)];
    const entsize = this.is64 ? 24 : 16;
    for (const sec of tables) {
      const strSec = this.sections[sec.link];
      if (!strSec || sec.size === 0 || out.size === want.size) continue;
      const data = this.readSection(sec);
      const strtab = this.readSection(strSec);
      const step = sec.entsize || entsize;
      for (let o = 0; o + step <= data.length; o += step) {
        const le = this.littleEndian;
        const nameOff = le ? data.readUInt32LE(o) : data.readUInt32BE(o);
        const at = this.is64 ? o + 6 : o + 14;
        const shndx = le ? data.readUInt16LE(at) : data.readUInt16BE(at);
        if (nameOff === 0 || shndx === 0 || nameOff >= strtab.length) continue;
        const end = strtab.indexOf(0, nameOff);
        const name = strtab.toString('latin1', nameOff, end < 0 ? strtab.length : end);
        if (!want.has(name) || out.has(name)) continue;
        if (this.is64) out.set(name, le ? data.readBigUInt64LE(o + 8) : data.readBigUInt64BE(o + 8));
        else out.set(name, BigInt(le ? data.readUInt32LE(o + 4) : data.readUInt32BE(o + 4)));
      }
    }
    return out;
  }

  /**
   * Function symbols of this file, from .symtab and .dynsym merged (and, when there is no
   * .symtab, from .gnu_debugdata or .gopclntab). Cached on the object.
   */
  symbols(opts: { miniDebugInfo?: boolean; goPclntab?: boolean; cache?: boolean } = {}): SymbolTable {
    if (this.symCache) return this.symCache;
    const parts: RawSymbols[] = [];
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const strSec = this.sections[s.link];
      if (!strSec || s.size === 0) continue;
      parts.push(this.readSymbols(s, strSec));
    }
    if (!this.hasSymtab && opts.miniDebugInfo !== false) {
      const mini = this.miniDebugInfo();
      if (mini)
        for (const s of mini.sections) {
          if (s.type !== SHT_SYMTAB) continue;
          const strSec = mini.sections[s.link];
          if (strSec) parts.push(mini.readSymbols(s, strSec));
        }
    }
    const limit = this.textLimit();
    let table = mergeRaw(parts, limit);
    if (!this.hasSymtab && opts.goPclntab !== false) {
      const go = this.goSymbols();
      if (go && go.length > table.length) table = go;
    }
    if (opts.cache !== false) this.symCache = table;
    return table;
  }

  /** Go function table from .gopclntab, if present. */
  goSymbols(): SymbolTable | undefined {
    const sec = this.section('.gopclntab');
    if (!sec) return undefined;
    try {
      return parseGoPclntab(this.readSection(sec), this.section('.text')?.addr ?? 0n, this.littleEndian);
    } catch {
      return undefined;
    }
  }

  /** Raw symbol arrays from one symbol table section (functions only). */
  readSymbols(sec: ElfSection, strSec: ElfSection): RawSymbols {
    const data = this.readSection(sec);
    const strtab = this.readSection(strSec);
    const entsize = sec.entsize || (this.is64 ? 24 : 16);
    const count = Math.floor(data.length / entsize);
    const starts = new Float64Array(count);
    const sizes = new Float64Array(count);
    const names = new Float64Array(count);
    const rank = new Uint8Array(count);
    const le = this.littleEndian;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const o = i * entsize;
      let nameOff: number, info: number, shndx: number, value: number, size: number;
      if (this.is64) {
        nameOff = le ? data.readUInt32LE(o) : data.readUInt32BE(o);
        info = data[o + 4]!;
        shndx = le ? data.readUInt16LE(o + 6) : data.readUInt16BE(o + 6);
        // Two 32-bit halves: faster than readBigUInt64 and exact below 2^53.
        value = le
          ? data.readUInt32LE(o + 8) + data.readUInt32LE(o + 12) * 4294967296
          : data.readUInt32BE(o + 12) + data.readUInt32BE(o + 8) * 4294967296;
        size = le
          ? data.readUInt32LE(o + 16) + data.readUInt32LE(o + 20) * 4294967296
          : data.readUInt32BE(o + 20) + data.readUInt32BE(o + 16) * 4294967296;
      } else {
        nameOff = le ? data.readUInt32LE(o) : data.readUInt32BE(o);
        value = le ? data.readUInt32LE(o + 4) : data.readUInt32BE(o + 4);
        size = le ? data.readUInt32LE(o + 8) : data.readUInt32BE(o + 8);
        info = data[o + 12]!;
        shndx = le ? data.readUInt16LE(o + 14) : data.readUInt16BE(o + 14);
      }
      const type = info & 0xf;
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0 || value === 0 || nameOff === 0) continue;
      const bind = info >> 4;
      starts[n] = value;
      sizes[n] = size;
      names[n] = nameOff;
      rank[n] = bind === 1 ? 3 : bind === 2 ? 2 : 1;
      n++;
    }
    return {
      starts: starts.subarray(0, n),
      sizes: sizes.subarray(0, n),
      names: names.subarray(0, n),
      rank: rank.subarray(0, n),
      strtab,
    };
  }

  /** The MiniDebugInfo ELF embedded (xz-compressed) in .gnu_debugdata, if any. */
  miniDebugInfo(): ElfFile | undefined {
    const sec = this.section('.gnu_debugdata');
    if (!sec || sec.size === 0) return undefined;
    const out = xzDecompress(this.readSection(sec));
    if (!out) return undefined;
    try {
      return readElf(out, `${this.path}[.gnu_debugdata]`);
    } catch {
      return undefined;
    }
  }
}

export interface RawSymbols {
  starts: Float64Array;
  sizes: Float64Array;
  names: Float64Array;
  rank: Uint8Array;
  strtab: Buffer;
}

function mergeRaw(parts: RawSymbols[], limit: number): SymbolTable {
  let total = 0;
  for (const p of parts) total += p.starts.length;
  const input: SymbolInput = {
    starts: new Float64Array(total),
    sizes: new Float64Array(total),
    names: new Float64Array(total),
    rank: new Uint8Array(total),
  };
  const buffers: Buffer[] = [];
  const bufferBase: number[] = [];
  let at = 0;
  let strBase = 0;
  for (const p of parts) {
    input.starts.set(p.starts, at);
    input.sizes.set(p.sizes, at);
    input.rank!.set(p.rank, at);
    for (let i = 0; i < p.names.length; i++) input.names[at + i] = p.names[i]! + strBase;
    buffers.push(p.strtab);
    bufferBase.push(strBase);
    strBase += p.strtab.length;
    at += p.starts.length;
  }
  // Symbols with the highest rank survive de-duplication; .symtab entries come first, so
  // among equal ranks the first part wins (stable by index).
  return SymbolTable.build(0n, input, { kind: 'cstr', buffers, bufferBase }, limit);
}

/**
 * xz decompression by `xz -dc`. The npm choices are a native addon (lzma-native: no native
 * addons here), or WebAssembly streaming decoders with async-only web-stream APIs
 * (xz-decompress), which do not fit a synchronous ELF reader; .gnu_debugdata is small and
 * rare (Fedora-style MiniDebugInfo), so one short-lived process per file is acceptable.
 */
export function xzDecompress(data: Buffer): Buffer | undefined {
  const r = spawnSync('xz', ['-dc'], { input: data, maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0 || !r.stdout || r.stdout.length === 0) return undefined;
  return r.stdout;
}

/** Reads an ELF file (path) or an in-memory image (Buffer). */
export function readElf(src: string | Buffer, name?: string): ElfFile {
  if (typeof src === 'string') {
    const fd = openSync(src, 'r');
    let size: number;
    try {
      size = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
    return new ElfFile(new FileReader(src, size), name ?? src);
  }
  return new ElfFile(new BufferReader(src), name ?? '<memory>');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (the one .gnu_debuglink uses), incrementally over chunks. */
export function crc32(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of a whole file, read in chunks. */
export function fileCrc32(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let crc = 0;
    let pos = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      if (n <= 0) break;
      crc = crc32(chunk.subarray(0, n), crc);
      pos += n;
    }
    return crc;
  } finally {
    closeSync(fd);
  }
}
