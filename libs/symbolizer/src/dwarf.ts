// DWARF debugging information (.debug_info, DWARF 2 to 5) read for one purpose: which
// functions were inlined at an address. An address in a function is expanded into its inline
// chain: the function whose code it is (DW_TAG_subprogram), then each DW_TAG_inlined_subroutine
// whose ranges hold it, outermost caller first.
//
// Lazy and compact: opening a file reads the unit headers and the root DIE of each compile unit
// (its address ranges); a unit's functions are parsed on the first lookup that falls in it,
// into a tree of ranges with names resolved only for the chains that are asked for. dwz-style
// partial units (DW_FORM_ref_addr across units) are followed, and so are references into the
// supplementary file dwz -m writes (.gnu_debugaltlink: DW_FORM_GNU_ref_alt/strp_alt, DWARF 5's
// ref_sup/strp_sup) when it is given; without it such names come out as undefined.
import { inflateSync } from 'node:zlib';
import type { ElfFile, ElfSection } from './elf.js';
import { ByteCursor } from './byte-cursor';

const SHF_COMPRESSED = 0x800;
const ELFCOMPRESS_ZLIB = 1;

// Tags
const TAG_compile_unit = 0x11;
const TAG_skeleton_unit = 0x4a;
const TAG_subprogram = 0x2e;
const TAG_inlined_subroutine = 0x1d;

// Attributes
const AT_name = 0x03;
const AT_low_pc = 0x11;
const AT_high_pc = 0x12;
const AT_abstract_origin = 0x31;
const AT_specification = 0x47;
const AT_ranges = 0x55;
const AT_call_file = 0x58;
const AT_call_line = 0x59;
const AT_linkage_name = 0x6e;
const AT_MIPS_linkage_name = 0x2007;
const AT_str_offsets_base = 0x72;
const AT_addr_base = 0x73;
const AT_rnglists_base = 0x74;
const AT_GNU_addr_base = 0x2133;

/** One function of an inline chain. */
export interface InlineFrame {
  /** Linkage name when there is one (mangled C++/Rust), else the plain name; undefined when unknown. */
  name: string | undefined;
  /** For an inlined function: where its caller called it (file index in the caller's unit line table, line). */
  callFile?: number;
  callLine?: number;
}

interface Abbrev {
  tag: number;
  children: boolean;
  /** attribute, form pairs */
  specs: Int32Array;
  /** DW_FORM_implicit_const values, by spec index */
  consts?: Map<number, number>;
}

interface Unit {
  offset: number; // of the unit header in .debug_info
  end: number;
  version: number;
  unitType: number;
  addrSize: number;
  offSize: number;
  abbrevOffset: number;
  firstDie: number;
  // From the root DIE:
  rootTag: number;
  lowPc: number;
  strOffsetsBase: number;
  addrBase: number;
  rnglistsBase: number;
  /**
   * Whether the root DIE (bases, low_pc) has been read: at open only for units .debug_aranges
   * does not cover, otherwise on the unit's first lookup. false after a malformed root.
   */
  root: 'unread' | 'read' | 'bad';
  /** Functions of the unit, parsed on first use. */
  funcs?: FuncIndex;
}

/** A subprogram or inlined subroutine with code. */
interface Node {
  ranges: number[]; // lo, hi pairs
  die: number; // global .debug_info offset
  callFile: number;
  callLine: number;
  children?: Node[];
}

/** Top-level functions of a unit sorted by range start (one entry per range). */
interface FuncIndex {
  lo: Float64Array;
  hi: Float64Array;
  node: Node[];
  bytes: number;
}

/** A reference to a DIE of the supplementary file (by its .debug_info offset). */
class SupRef {
  constructor(readonly offset: number) {}
}

type Value = number | string | SupRef | undefined;

/** Section contents, inflated when SHF_COMPRESSED (zlib) or a legacy `.zdebug_*` section. */
export function readDebugSection(elf: ElfFile, name: string): Buffer | undefined {
  const sec = elf.section(name) ?? elf.section(name.replace(/^\.debug_/, '.zdebug_'));
  if (!sec || sec.size === 0 || sec.type === 8) return undefined;
  return decompressSection(elf, sec);
}

function decompressSection(elf: ElfFile, sec: ElfSection): Buffer {
  const raw = elf.readSection(sec);
  if (sec.flags & SHF_COMPRESSED) {
    // Elf64_Chdr (24 bytes) or Elf32_Chdr (12 bytes): type, [reserved], size, alignment.
    const type = raw.readUInt32LE(0);
    if (type !== ELFCOMPRESS_ZLIB) throw new Error(`${sec.name}: compression type ${type} is not supported`);
    return inflateSync(raw.subarray(elf.is64 ? 24 : 12));
  }
  if (sec.name.startsWith('.zdebug_') && raw.toString('latin1', 0, 4) === 'ZLIB') return inflateSync(raw.subarray(12));
  return raw;
}

/** Whether a file carries DWARF function information. */
export function hasDwarf(elf: ElfFile): boolean {
  const s = elf.section('.debug_info') ?? elf.section('.zdebug_info');
  return !!s && s.size > 0 && s.type !== 8;
}

/**
 * The inline information of one ELF file's DWARF. `lookup(vaddr)` gives the chain of functions
 * at an ELF virtual address, outermost first (length 1 when nothing is inlined there), or
 * undefined when no function of the DWARF covers it.
 */
export class DwarfInlines {
  private readonly info: Buffer;
  private readonly abbrev: Buffer;
  private readonly str?: Buffer;
  private readonly lineStr?: Buffer;
  private readonly strOffsets?: Buffer;
  private readonly addr?: Buffer;
  private readonly ranges?: Buffer;
  private readonly rnglists?: Buffer;
  private readonly aranges?: Buffer;
  private readonly abbrevs = new Map<number, Map<number, Abbrev>>();
  private readonly units: Unit[] = [];
  /** Address ranges of the compile units: sorted starts, ends, unit index. */
  private cuLo = new Float64Array(0);
  private cuHi = new Float64Array(0);
  private cuUnit = new Int32Array(0);
  private readonly names = new Map<number, string | undefined>();
  private readonly chains = new Map<number, InlineFrame[] | undefined>();
  private parsedBytes = 0;
  /** The supplementary file's DWARF (dwz's common DIEs and strings), when one was given. */
  private readonly sup?: DwarfInlines;

  /** `supplementary`: the file `.gnu_debugaltlink` names (see findSupplementaryFile). */
  constructor(elf: ElfFile, supplementary?: ElfFile) {
    if (!elf.littleEndian) throw new Error(`${elf.path}: big-endian DWARF is not supported`);
    const info = readDebugSection(elf, '.debug_info');
    const abbrev = readDebugSection(elf, '.debug_abbrev');
    if (!info || !abbrev) throw new Error(`${elf.path}: no .debug_info/.debug_abbrev`);
    this.info = info;
    this.abbrev = abbrev;
    this.str = readDebugSection(elf, '.debug_str');
    this.lineStr = readDebugSection(elf, '.debug_line_str');
    this.strOffsets = readDebugSection(elf, '.debug_str_offsets');
    this.addr = readDebugSection(elf, '.debug_addr');
    this.ranges = readDebugSection(elf, '.debug_ranges');
    this.rnglists = readDebugSection(elf, '.debug_rnglists');
    this.aranges = readDebugSection(elf, '.debug_aranges');
    if (supplementary && hasDwarf(supplementary)) this.sup = new DwarfInlines(supplementary);
    this.readUnits();
  }

  /** Bytes held: section copies and the parsed units. */
  get byteSize(): number {
    let n = this.info.length + this.abbrev.length;
    for (const b of [this.str, this.lineStr, this.strOffsets, this.addr, this.ranges, this.rnglists, this.aranges])
      n += b?.length ?? 0;
    return (
      n +
      this.cuLo.byteLength * 2 +
      this.cuUnit.byteLength +
      this.units.length * 96 +
      this.parsedBytes +
      this.chains.size * 64 +
      (this.sup?.byteSize ?? 0)
    );
  }

  get unitCount(): number {
    return this.units.length;
  }

  /** The inline chain at `vaddr`, outermost function first; cached per address. */
  lookup(vaddr: number): InlineFrame[] | undefined {
    if (this.chains.has(vaddr)) return this.chains.get(vaddr);
    const chain = this.computeChain(vaddr);
    if (this.chains.size >= 65536) this.chains.clear();
    this.chains.set(vaddr, chain);
    return chain;
  }

  private computeChain(vaddr: number): InlineFrame[] | undefined {
    for (const u of this.unitsAt(vaddr)) {
      if (!this.rootRead(u)) continue;
      const funcs = this.funcsOf(u);
      const top = findTop(funcs, vaddr);
      if (!top) continue;
      const path: Node[] = [top];
      let cur: Node | undefined = top;
      while (cur?.children) {
        cur = cur.children.find((c) => covers(c.ranges, vaddr));
        if (cur) path.push(cur);
      }
      return path.map((n, i) => {
        const f: InlineFrame = { name: this.nameOf(n.die) };
        if (i > 0) {
          f.callFile = n.callFile;
          f.callLine = n.callLine;
        }
        return f;
      });
    }
    return undefined;
  }

  /** Units whose ranges hold `vaddr` (normally one). */
  private unitsAt(vaddr: number): Unit[] {
    const lo = this.cuLo;
    let a = 0;
    let b = lo.length - 1;
    let last = -1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      if (lo[m]! <= vaddr) {
        last = m;
        a = m + 1;
      } else b = m - 1;
    }
    const out: Unit[] = [];
    // Ranges of different units rarely overlap; look back a little in case they do.
    for (let i = last; i >= 0 && i > last - 8; i--) {
      if (vaddr < this.cuHi[i]!) {
        const u = this.units[this.cuUnit[i]!]!;
        if (!out.includes(u)) out.push(u);
      }
    }
    return out;
  }

  // ---- unit headers and root DIEs -------------------------------------------------------

  /**
   * Reads the unit headers, and the address ranges of the compile units: from .debug_aranges when
   * the file has it (no DIE is read: libc's 2,063 root DIEs were most of the open), else, and for
   * any unit .debug_aranges leaves out, from the unit's root DIE.
   */
  private readUnits(): void {
    this.readUnitHeaders();
    const lo: number[] = [];
    const hi: number[] = [];
    const idx: number[] = [];
    const covered = this.readAranges(lo, hi, idx);
    for (let i = 0; i < this.units.length; i++) {
      const unit = this.units[i]!;
      if (covered?.has(unit.offset)) continue;
      let ranges: number[];
      try {
        ranges = this.readRoot(unit);
        unit.root = 'read';
      } catch {
        unit.root = 'bad'; // a malformed unit: its addresses stay without inline information
        continue;
      }
      for (let j = 0; j < ranges.length; j += 2) {
        if (ranges[j + 1]! <= ranges[j]!) continue;
        lo.push(ranges[j]!);
        hi.push(ranges[j + 1]!);
        idx.push(i);
      }
    }
    const order = lo.map((_, i) => i).sort((a, b) => lo[a]! - lo[b]!);
    this.cuLo = Float64Array.from(order, (i) => lo[i]!);
    this.cuHi = Float64Array.from(order, (i) => hi[i]!);
    this.cuUnit = Int32Array.from(order, (i) => idx[i]!);
  }

  /**
   * Pushes the ranges .debug_aranges gives each unit (by index in `units`) and returns the offsets
   * of the units it covers; undefined (nothing pushed) when the section is absent or malformed,
   * so the root DIEs are read instead.
   */
  private readAranges(lo: number[], hi: number[], idx: number[]): Set<number> | undefined {
    const b = this.aranges;
    if (!b) return undefined;
    const byOffset = new Map<number, number>();
    for (let i = 0; i < this.units.length; i++) byOffset.set(this.units[i]!.offset, i);
    const covered = new Set<number>();
    const n0 = lo.length;
    const r = new ByteCursor(b);
    const fail = (): undefined => {
      lo.length = hi.length = idx.length = n0;
      return undefined;
    };
    while (r.pos + 4 <= b.length) {
      const setStart = r.pos;
      let len = r.u32();
      let offSize = 4;
      if (len === 0xffffffff) {
        len = r.u64();
        offSize = 8;
      }
      const end = r.pos + len;
      if (len === 0 || end > b.length) return fail();
      const version = r.u16();
      const infoOffset = r.uN(offSize);
      const addrSize = r.u8();
      const segSize = r.u8();
      const unit = byOffset.get(infoOffset);
      if (version !== 2 || (addrSize !== 4 && addrSize !== 8) || segSize !== 0 || unit === undefined) return fail();
      // Tuples start at a multiple of twice the address size from the set's start.
      const tuple = 2 * addrSize;
      r.pos = setStart + Math.ceil((r.pos - setStart) / tuple) * tuple;
      while (r.pos + tuple <= end) {
        const start = r.uN(addrSize);
        const length = r.uN(addrSize);
        if (start === 0 && length === 0) break;
        if (length === 0) continue;
        lo.push(start);
        hi.push(start + length);
        idx.push(unit);
      }
      covered.add(infoOffset);
      r.pos = end;
    }
    return covered;
  }

  /** Reads the unit's root DIE if not yet done; false when it is malformed. */
  private rootRead(u: Unit): boolean {
    if (u.root === 'unread') {
      try {
        this.readRoot(u);
        u.root = 'read';
      } catch {
        u.root = 'bad';
      }
    }
    return u.root === 'read';
  }

  private readUnitHeaders(): void {
    const r = new ByteCursor(this.info);
    while (r.pos + 11 <= this.info.length) {
      const offset = r.pos;
      let len = r.u32();
      let offSize = 4;
      if (len === 0xffffffff) {
        len = r.u64();
        offSize = 8;
      }
      const end = r.pos + len;
      if (len === 0 || end > this.info.length) break;
      const version = r.u16();
      let unitType = 1;
      let addrSize: number;
      let abbrevOffset: number;
      if (version >= 5) {
        unitType = r.u8();
        addrSize = r.u8();
        abbrevOffset = r.uN(offSize);
        if (unitType === 4 || unitType === 5)
          r.pos += 8; // dwo_id
        else if (unitType === 2 || unitType === 6) r.pos += 8 + offSize; // type signature, offset
      } else {
        abbrevOffset = r.uN(offSize);
        addrSize = r.u8();
      }
      const unit: Unit = {
        offset,
        end,
        version,
        unitType,
        addrSize,
        offSize,
        abbrevOffset,
        firstDie: r.pos,
        rootTag: 0,
        lowPc: 0,
        strOffsetsBase: 8,
        addrBase: 8,
        rnglistsBase: 12,
        root: 'unread',
      };
      r.pos = end;
      if (version < 2 || version > 5) continue;
      this.units.push(unit);
    }
  }

  /** Reads the root DIE's bases and returns the unit's address ranges (compile units only). */
  private readRoot(u: Unit): number[] {
    const r = new ByteCursor(this.info);
    r.pos = u.firstDie;
    const code = r.uleb();
    if (code === 0) return [];
    // Only the root's entry: parsing each unit's whole table here (libc: 2,063 tables, 1 MB)
    // cost more than the rest of opening the file; a unit's table is read on its first lookup.
    const ab = this.abbrevs.get(u.abbrevOffset)?.get(code) ?? this.abbrevEntry(u.abbrevOffset, code);
    if (!ab) throw new Error('bad abbreviation');
    u.rootTag = ab.tag;
    // Bases first (their attributes may come after the ones that use them).
    const vals = this.readAttrs(r, u, ab, true);
    const base = vals.get(AT_str_offsets_base);
    if (typeof base === 'number') u.strOffsetsBase = base;
    const ab2 = vals.get(AT_addr_base) ?? vals.get(AT_GNU_addr_base);
    if (typeof ab2 === 'number') u.addrBase = ab2;
    const rb = vals.get(AT_rnglists_base);
    if (typeof rb === 'number') u.rnglistsBase = rb;
    if (ab.tag !== TAG_compile_unit && ab.tag !== TAG_skeleton_unit) return [];
    const again = new ByteCursor(this.info);
    again.pos = u.firstDie;
    again.uleb();
    const attrs = this.readAttrs(again, u, ab, false);
    const low = attrs.get(AT_low_pc);
    if (typeof low === 'number') u.lowPc = low;
    return this.rangesOf(attrs, u, isOffsetHighPc(ab)) ?? [];
  }

  private abbrevTable(offset: number): Map<number, Abbrev> {
    const known = this.abbrevs.get(offset);
    if (known) return known;
    const table = new Map<number, Abbrev>();
    this.scanAbbrevs(offset, (code, ab) => void table.set(code, ab));
    this.abbrevs.set(offset, table);
    return table;
  }

  /** One entry of the table at `offset`, read up to it (the entries before it are only skipped). */
  private abbrevEntry(offset: number, code: number): Abbrev | undefined {
    let found: Abbrev | undefined;
    this.scanAbbrevs(offset, (c, ab) => void (found = ab), code);
    return found;
  }

  /** Reads the entries of the table at `offset`, or only the one with code `only`. */
  private scanAbbrevs(offset: number, take: (code: number, ab: Abbrev) => void, only?: number): void {
    const r = new ByteCursor(this.abbrev);
    r.pos = offset;
    while (r.pos < this.abbrev.length) {
      const code = r.uleb();
      if (code === 0) break;
      const tag = r.uleb();
      const children = r.u8() === 1;
      if (only !== undefined && code !== only) {
        for (;;) {
          const at = r.uleb();
          const form = r.uleb();
          if (at === 0 && form === 0) break;
          if (form === 0x21) r.sleb();
        }
        continue;
      }
      const specs: number[] = [];
      let consts: Map<number, number> | undefined;
      for (;;) {
        const at = r.uleb();
        const form = r.uleb();
        if (at === 0 && form === 0) break;
        if (form === 0x21) (consts ??= new Map()).set(specs.length / 2, r.sleb());
        specs.push(at, form);
      }
      take(code, { tag, children, specs: Int32Array.from(specs), consts });
      if (only !== undefined) return;
    }
  }

  // ---- attribute values -----------------------------------------------------------------

  /**
   * Reads a DIE's attributes (the reader is past its abbreviation code). With `raw`, forms
   * that need a unit base (strx, addrx, rnglistx) are skipped: used to read the bases.
   * References come out as global .debug_info offsets; strings as strings; addresses as numbers;
   * DW_AT_ranges as `-(1 + offset)` when it is a list index (resolved by rangesOf).
   */
  private readAttrs(
    r: ByteCursor,
    u: Unit,
    ab: Abbrev,
    raw: boolean,
    want?: (at: number) => boolean,
  ): Map<number, Value> {
    const out = new Map<number, Value>();
    const s = ab.specs;
    for (let i = 0; i < s.length; i += 2) {
      const at = s[i]!;
      let form = s[i + 1]!;
      if (form === 0x16) form = r.uleb(); // indirect
      if (want && !want(at)) {
        this.skipForm(r, u, form);
        continue;
      }
      if (form === 0x21) {
        out.set(at, ab.consts?.get(i / 2));
        continue;
      }
      out.set(at, this.readForm(r, u, form, raw));
    }
    return out;
  }

  private readForm(r: ByteCursor, u: Unit, form: number, raw: boolean): Value {
    switch (form) {
      case 0x01:
        return r.uN(u.addrSize);
      case 0x0b:
        return r.u8();
      case 0x05:
        return r.u16();
      case 0x06:
        return r.u32();
      case 0x07:
        return r.u64();
      case 0x0d:
        return r.sleb();
      case 0x0f:
        return r.uleb();
      case 0x0c:
        return r.u8();
      case 0x19:
        return 1;
      case 0x08:
        return r.cstr();
      case 0x0e:
        return this.cstrAt(this.str, r.uN(u.offSize));
      case 0x1f:
        return this.cstrAt(this.lineStr, r.uN(u.offSize));
      case 0x1a:
      case 0x25:
      case 0x26:
      case 0x27:
      case 0x28:
      case 0x1f02: {
        const i =
          form === 0x25
            ? r.u8()
            : form === 0x26
              ? r.u16()
              : form === 0x27
                ? r.u24()
                : form === 0x28
                  ? r.u32()
                  : r.uleb();
        return raw ? undefined : this.strx(u, i);
      }
      case 0x1b:
      case 0x29:
      case 0x2a:
      case 0x2b:
      case 0x2c:
      case 0x1f01: {
        const i =
          form === 0x29
            ? r.u8()
            : form === 0x2a
              ? r.u16()
              : form === 0x2b
                ? r.u24()
                : form === 0x2c
                  ? r.u32()
                  : r.uleb();
        return raw ? undefined : this.addrx(u, i);
      }
      case 0x17:
        return r.uN(u.offSize);
      case 0x23: {
        const i = r.uleb();
        return raw ? undefined : -(1 + this.rnglistx(u, i));
      }
      case 0x22:
        return r.uleb();
      case 0x1f21: // GNU_strp_alt
      case 0x1d: {
        // strp_sup; read the offset whether or not the file is at hand (`?.` would skip it)
        const off = r.uN(u.offSize);
        return this.sup?.stringAt(off);
      }
      case 0x1f20: // GNU_ref_alt
        return new SupRef(r.uN(u.offSize));
      case 0x1c: // ref_sup4
        return new SupRef(r.u32());
      case 0x24: // ref_sup8
        return new SupRef(r.u64());
      case 0x10:
        return r.uN(u.version <= 2 ? u.addrSize : u.offSize);
      case 0x11:
        return u.offset + r.u8();
      case 0x12:
        return u.offset + r.u16();
      case 0x13:
        return u.offset + r.u32();
      case 0x14:
        return u.offset + r.u64();
      case 0x15:
        return u.offset + r.uleb();
      default:
        // Blocks or a type signature: not needed here.
        this.skipForm(r, u, form);
        return undefined;
    }
  }

  private skipForm(r: ByteCursor, u: Unit, form: number): void {
    switch (form) {
      case 0x19:
      case 0x21:
        return;
      case 0x0b:
      case 0x0c:
      case 0x11:
      case 0x25:
      case 0x29:
        r.pos += 1;
        return;
      case 0x05:
      case 0x12:
      case 0x26:
      case 0x2a:
        r.pos += 2;
        return;
      case 0x27:
      case 0x2b:
        r.pos += 3;
        return;
      case 0x06:
      case 0x13:
      case 0x1c:
      case 0x28:
      case 0x2c:
        r.pos += 4;
        return;
      case 0x07:
      case 0x14:
      case 0x20:
      case 0x24:
        r.pos += 8;
        return;
      case 0x1e:
        r.pos += 16;
        return;
      case 0x01:
        r.pos += u.addrSize;
        return;
      case 0x10:
        r.pos += u.version <= 2 ? u.addrSize : u.offSize;
        return;
      case 0x0e:
      case 0x17:
      case 0x1d:
      case 0x1f:
      case 0x1f20:
      case 0x1f21:
        r.pos += u.offSize;
        return;
      case 0x0d:
        r.sleb();
        return;
      case 0x0f:
      case 0x15:
      case 0x1a:
      case 0x1b:
      case 0x22:
      case 0x23:
      case 0x1f01:
      case 0x1f02:
        r.uleb();
        return;
      case 0x08: {
        const end = this.info.indexOf(0, r.pos);
        r.pos = end < 0 ? this.info.length : end + 1;
        return;
      }
      case 0x09:
      case 0x18: {
        const len = r.uleb(); // read before pos: `r.pos += r.uleb()` would add to the old pos
        r.pos += len;
        return;
      }
      case 0x0a:
        r.pos += 1 + r.b[r.pos]!;
        return;
      case 0x03:
        r.pos += 2 + r.b.readUInt16LE(r.pos);
        return;
      case 0x04:
        r.pos += 4 + r.b.readUInt32LE(r.pos);
        return;
      case 0x16:
        this.skipForm(r, u, r.uleb());
        return;
      default:
        throw new Error(`unknown DWARF form 0x${form.toString(16)}`);
    }
  }

  private cstrAt(b: Buffer | undefined, off: number): string | undefined {
    if (!b || off >= b.length) return undefined;
    let end = b.indexOf(0, off);
    if (end < 0) end = b.length;
    return b.toString('utf8', off, end);
  }

  /** A string of .debug_str (the supplementary file's strings are read this way). */
  stringAt(off: number): string | undefined {
    return this.cstrAt(this.str, off);
  }

  private strx(u: Unit, i: number): string | undefined {
    const so = this.strOffsets;
    const at = u.strOffsetsBase + i * u.offSize;
    if (!so || at + u.offSize > so.length) return undefined;
    const off = u.offSize === 8 ? so.readUInt32LE(at) + so.readUInt32LE(at + 4) * 4294967296 : so.readUInt32LE(at);
    return this.cstrAt(this.str, off);
  }

  private addrx(u: Unit, i: number): number | undefined {
    const a = this.addr;
    const at = u.addrBase + i * u.addrSize;
    if (!a || at + u.addrSize > a.length) return undefined;
    return u.addrSize === 8 ? a.readUInt32LE(at) + a.readUInt32LE(at + 4) * 4294967296 : a.readUInt32LE(at);
  }

  private rnglistx(u: Unit, i: number): number {
    const rl = this.rnglists;
    const at = u.rnglistsBase + i * u.offSize;
    if (!rl || at + u.offSize > rl.length) return -1;
    const rel = u.offSize === 8 ? rl.readUInt32LE(at) + rl.readUInt32LE(at + 4) * 4294967296 : rl.readUInt32LE(at);
    return u.rnglistsBase + rel;
  }

  /** The DIE's code ranges as lo, hi pairs (low_pc/high_pc or DW_AT_ranges), or undefined. */
  private rangesOf(attrs: Map<number, Value>, u: Unit, highIsOffset?: boolean): number[] | undefined {
    const low = attrs.get(AT_low_pc);
    const high = attrs.get(AT_high_pc);
    if (typeof low === 'number' && typeof high === 'number') {
      const hi = highIsOffset ? low + high : high;
      return low === 0 && hi <= low ? undefined : [low, hi];
    }
    const rg = attrs.get(AT_ranges);
    if (typeof rg !== 'number') return undefined;
    if (u.version >= 5) {
      const off = rg < 0 ? -rg - 1 : rg;
      return off >= 0 ? this.readRnglist(off, u) : undefined;
    }
    return this.readRanges(rg, u);
  }

  private readRanges(off: number, u: Unit): number[] {
    const b = this.ranges;
    const out: number[] = [];
    if (!b) return out;
    const r = new ByteCursor(b);
    r.pos = off;
    let base = u.lowPc;
    const max = u.addrSize === 8 ? 0xffffffffffffffff : 0xffffffff;
    while (r.pos + 2 * u.addrSize <= b.length) {
      const s = r.uN(u.addrSize);
      const e = r.uN(u.addrSize);
      if (s === 0 && e === 0) break;
      if (s === max) base = e;
      else out.push(base + s, base + e);
    }
    return out;
  }

  private readRnglist(off: number, u: Unit): number[] {
    const b = this.rnglists;
    const out: number[] = [];
    if (!b) return out;
    const r = new ByteCursor(b);
    r.pos = off;
    let base = u.lowPc;
    while (r.pos < b.length) {
      const kind = r.u8();
      if (kind === 0) break;
      switch (kind) {
        case 1:
          base = this.addrx(u, r.uleb()) ?? 0;
          break;
        case 2: {
          const s = this.addrx(u, r.uleb()) ?? 0;
          const e = this.addrx(u, r.uleb()) ?? 0;
          out.push(s, e);
          break;
        }
        case 3: {
          const s = this.addrx(u, r.uleb()) ?? 0;
          out.push(s, s + r.uleb());
          break;
        }
        case 4: {
          const s = r.uleb();
          const e = r.uleb();
          out.push(base + s, base + e);
          break;
        }
        case 5:
          base = r.uN(u.addrSize);
          break;
        case 6: {
          const s = r.uN(u.addrSize);
          out.push(s, r.uN(u.addrSize));
          break;
        }
        case 7: {
          const s = r.uN(u.addrSize);
          out.push(s, s + r.uleb());
          break;
        }
        default:
          return out;
      }
    }
    return out;
  }

  // ---- functions of a unit --------------------------------------------------------------

  private funcsOf(u: Unit): FuncIndex {
    if (u.funcs) return u.funcs;
    const table = this.abbrevTable(u.abbrevOffset);
    const r = new ByteCursor(this.info);
    r.pos = u.firstDie;
    const tops: Node[] = [];
    // Enclosing function node per DIE depth (undefined where the DIE is not a function with code).
    const stack: (Node | undefined)[] = [];
    let bytes = 0;
    let depth = 0;
    const wanted = (at: number) =>
      at === AT_low_pc || at === AT_high_pc || at === AT_ranges || at === AT_call_file || at === AT_call_line;
    while (r.pos < u.end) {
      const dieOff = r.pos;
      const code = r.uleb();
      if (code === 0) {
        depth--;
        stack.pop();
        if (depth <= 0) break;
        continue;
      }
      const ab = table.get(code);
      if (!ab) break; // malformed: keep what was read
      let node: Node | undefined;
      if (ab.tag === TAG_subprogram || ab.tag === TAG_inlined_subroutine) {
        const highIsOffset = isOffsetHighPc(ab);
        const attrs = this.readAttrs(r, u, ab, false, wanted);
        const ranges = this.rangesOf(attrs, u, highIsOffset);
        if (ranges && ranges.length) {
          node = {
            ranges,
            die: dieOff,
            callFile: num(attrs.get(AT_call_file)),
            callLine: num(attrs.get(AT_call_line)),
          };
          bytes += 64 + ranges.length * 8;
          const parent = enclosing(stack);
          if (parent) (parent.children ??= []).push(node);
          else if (ab.tag === TAG_subprogram) tops.push(node);
        }
      } else {
        for (let i = 0; i < ab.specs.length; i += 2) {
          let form = ab.specs[i + 1]!;
          if (form === 0x16) form = r.uleb();
          this.skipForm(r, u, form);
        }
      }
      if (ab.children) {
        depth++;
        stack.push(node);
      } else if (depth === 0) break; // a root without children
    }
    const entries: { lo: number; hi: number; node: Node }[] = [];
    for (const n of tops)
      for (let i = 0; i < n.ranges.length; i += 2) entries.push({ lo: n.ranges[i]!, hi: n.ranges[i + 1]!, node: n });
    entries.sort((a, b) => a.lo - b.lo);
    u.funcs = {
      lo: Float64Array.from(entries, (e) => e.lo),
      hi: Float64Array.from(entries, (e) => e.hi),
      node: entries.map((e) => e.node),
      bytes: bytes + entries.length * 24,
    };
    this.parsedBytes += u.funcs.bytes;
    return u.funcs;
  }

  // ---- names ----------------------------------------------------------------------------

  /** Unit holding a .debug_info offset. */
  private unitAt(off: number): Unit | undefined {
    const us = this.units;
    let a = 0;
    let b = us.length - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const u = us[m]!;
      if (off < u.offset) b = m - 1;
      else if (off >= u.end) a = m + 1;
      else return u;
    }
    return undefined;
  }

  /**
   * A function's name: linkage name, else name, following abstract_origin/specification (into
   * the supplementary file too).
   */
  nameOf(die: number): string | undefined {
    if (this.names.has(die)) return this.names.get(die);
    let name: string | undefined;
    let at = die;
    let fallback: string | undefined;
    for (let hop = 0; hop < 8 && name === undefined; hop++) {
      const u = this.unitAt(at);
      if (!u || !this.rootRead(u)) break;
      const r = new ByteCursor(this.info);
      r.pos = at;
      const ab = this.abbrevTable(u.abbrevOffset).get(r.uleb());
      if (!ab) break;
      const attrs = this.readAttrs(
        r,
        u,
        ab,
        false,
        (a) =>
          a === AT_name ||
          a === AT_linkage_name ||
          a === AT_MIPS_linkage_name ||
          a === AT_abstract_origin ||
          a === AT_specification,
      );
      const linkage = attrs.get(AT_linkage_name) ?? attrs.get(AT_MIPS_linkage_name);
      if (typeof linkage === 'string') name = linkage;
      else {
        const plain = attrs.get(AT_name);
        if (typeof plain === 'string') fallback ??= plain;
        const next = attrs.get(AT_abstract_origin) ?? attrs.get(AT_specification);
        if (next instanceof SupRef) {
          name = this.sup?.nameOf(next.offset);
          break;
        }
        if (typeof next !== 'number') break;
        at = next;
      }
    }
    name ??= fallback;
    if (this.names.size >= 262144) this.names.clear();
    this.names.set(die, name);
    return name;
  }
}

function isOffsetHighPc(ab: Abbrev): boolean {
  for (let i = 0; i < ab.specs.length; i += 2)
    if (ab.specs[i] === AT_high_pc)
      return (
        ab.specs[i + 1] !== 0x01 && ab.specs[i + 1] !== 0x1b && !(ab.specs[i + 1]! >= 0x29 && ab.specs[i + 1]! <= 0x2c)
      );
  return false;
}

const num = (v: Value): number => (typeof v === 'number' ? v : 0);

function enclosing(stack: (Node | undefined)[]): Node | undefined {
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i]) return stack[i];
  return undefined;
}

function covers(ranges: number[], a: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (a >= ranges[i]! && a < ranges[i + 1]!) return true;
  return false;
}

function findTop(f: FuncIndex, vaddr: number): Node | undefined {
  let a = 0;
  let b = f.lo.length - 1;
  let last = -1;
  while (a <= b) {
    const m = (a + b) >>> 1;
    if (f.lo[m]! <= vaddr) {
      last = m;
      a = m + 1;
    } else b = m - 1;
  }
  for (let i = last; i >= 0 && i > last - 16; i--) if (vaddr < f.hi[i]!) return f.node[i];
  return undefined;
}
