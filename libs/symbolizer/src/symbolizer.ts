// The Symbolizer: runtime addresses of processes and of the kernel to names.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ByteLru } from './cache.js';
import { findDebugFile, findSupplementaryFile, DEFAULT_DEBUG_DIRS } from './debugfile.js';
import { DebuginfodClient, wantsDebuginfo, type DebuginfodOptions } from './debuginfod.js';
import { readElf, type ElfFile } from './elf.js';
import { loadKallsyms, type KernelSymbols } from './kallsyms.js';
import { findMapping, parseProcMaps, type MapEntry } from './maps.js';
import { PerfMap } from './perfmap.js';
import { SymbolTable } from './symtab.js';
import { demangleMany, isMangled } from './demangle.js';
import { CFA_SIGNAL, readUnwindTable, UnwindTable } from './cfi.js';
import { DwarfInlines, hasDwarf, type InlineFrame } from './dwarf.js';
import { unwindUser, type UnwindMaps, type UnwindOptions, type UserRegs } from './unwind.js';

export interface Frame {
  address: bigint;
  /** Function name (demangled), or `module+0xoffset` when unresolved. */
  name: string;
  /** Module basename ("libc.so.6", "[vdso]", "[kernel.kallsyms]", "[jit]", "[unknown]"). */
  module: string;
  /** Offset within the symbol when resolved; within the module file (or region) otherwise. */
  offset: bigint;
  resolved: boolean;
  /** Full path of the module as the process sees it, when file-backed. */
  path?: string;
  buildId?: string;
  /**
   * Functions the compiler inlined at this address (from DWARF), innermost first: the leaf-first
   * stack reads `...inlined, name`. Absent when nothing is inlined there or no DWARF is at hand.
   */
  inlined?: string[];
}

export interface SymbolizerOptions {
  /** Bound of the symbol-table cache, in bytes (default 256 MiB). */
  cacheBytes?: number;
  /** Directories with separate debug files (default ['/usr/lib/debug']). */
  debugDirs?: string[];
  /** Demangle C++ and Rust names (default true). */
  demangle?: boolean;
  /** Re-read /proc/PID/maps at most this often when all addresses hit known mappings (default 5000 ms). */
  mapsMaxAgeMs?: number;
  /**
   * Re-read /proc/PID/maps for an address outside every known mapping at most this often
   * (default 250 ms). Frame-pointer walks of binaries without frame pointers are full of such
   * addresses: re-reading for each stack made the maps file most of a flush's cost, while one
   * read per flush still finds a library loaded since the last one.
   */
  mapsRetryMs?: number;
  /** Procfs mount (default '/proc'); for tests. */
  procRoot?: string;
  /** kallsyms path (default '/proc/kallsyms'). */
  kallsymsPath?: string;
  /**
   * Fetch missing debug files from debuginfod servers in the background (default: off; see
   * `debuginfodOptionsFromEnv`). A client given here is shared and not closed by `close()`.
   */
  debuginfod?: DebuginfodClient | DebuginfodOptions;
  /**
   * Expand addresses into their inline chains (`Frame.inlined`) where DWARF is at hand: the
   * file's own .debug_info or its separate debug file (default true).
   */
  inlineFrames?: boolean;
}

export interface SymbolizeOptions {
  /**
   * Treat addrs[1..] as return addresses (stack samples): look them up at addr-1 so that a
   * call at the very end of a function names the caller, not the next function.
   */
  returnAddresses?: boolean;
}

/** What a loaded module needs to resolve addresses. */
interface ModuleInfo {
  key: string; // cache key: build-id or identity
  elf: ElfFile; // headers only
  path: string; // as the process sees it
  openPath: string; // path used to read it
  root: string;
}

interface ProcMapping extends MapEntry {
  kind: 'file' | 'vdso' | 'anon' | 'other';
  module?: ModuleInfo | null; // undefined: not tried yet; null: failed
  /** Unwind table and load bias of this mapping (undefined: not looked up yet; null: none). */
  unwind?: { table: UnwindTable; bias: bigint } | null;
  unwindN?: { table: UnwindTable; bias: number } | null;
  startN?: number;
  endN?: number;
}

interface ProcState {
  mapsText: string;
  mappings: ProcMapping[]; // executable mappings, sorted
  readAt: number;
  perfMap?: PerfMap;
  perfMapCheckedAt?: number; // last time a missing perf map was looked for
  perfMapSeq?: number; // symbolize call in which the perf map was last refreshed
  nspid?: number;
  /** Resolved frames of file-backed code by address (negated: looked up as a return address). */
  frames?: Map<bigint, Frame>;
}

/** Frames cached per process before the cache starts afresh (bounds memory for huge binaries). */
const FRAME_CACHE_MAX = 65536;

export class Symbolizer {
  readonly opts: Required<Omit<SymbolizerOptions, 'kallsymsPath' | 'debuginfod'>> & { kallsymsPath: string };
  /** The debuginfod client, when enabled. */
  readonly debuginfod?: DebuginfodClient;
  private readonly ownsDebuginfod: boolean = false;
  private readonly unsubscribe?: () => void;
  /** Tables built without a debug file that debuginfod may still bring: key → next re-ask time. */
  private readonly awaiting = new Map<string, { buildId: string; next: number }>();
  /** Date.now() at the start of the current symbolize call (one clock read per call, not per frame). */
  private clock = 0;
  /** Symbol, unwind and DWARF tables by module key; `null`: the module has no DWARF. */
  private readonly tables: ByteLru<SymbolTable | UnwindTable | DwarfInlines | null>;
  /** Bytes each DwarfInlines was last accounted with in `tables` (it grows as units are parsed). */
  private readonly dwarfBytes = new WeakMap<DwarfInlines, number>();
  private readonly modules = new Map<string, ModuleInfo>(); // identity → headers
  private readonly procs = new Map<number, ProcState>();
  private kernel?: KernelSymbols;
  /** Kernel frames by address (negated: looked up as a return address); kallsyms is read once. */
  private readonly kernelFrames = new Map<bigint, Frame>();
  private callSeq = 0;

  constructor(opts: SymbolizerOptions = {}) {
    this.opts = {
      cacheBytes: opts.cacheBytes ?? 256 * 1024 * 1024,
      debugDirs: opts.debugDirs ?? DEFAULT_DEBUG_DIRS,
      demangle: opts.demangle ?? true,
      mapsMaxAgeMs: opts.mapsMaxAgeMs ?? 5000,
      mapsRetryMs: opts.mapsRetryMs ?? 250,
      procRoot: opts.procRoot ?? '/proc',
      kallsymsPath: opts.kallsymsPath ?? '/proc/kallsyms',
      inlineFrames: opts.inlineFrames ?? true,
    };
    this.tables = new ByteLru(this.opts.cacheBytes);
    if (opts.debuginfod) {
      this.ownsDebuginfod = !(opts.debuginfod instanceof DebuginfodClient);
      this.debuginfod =
        opts.debuginfod instanceof DebuginfodClient ? opts.debuginfod : new DebuginfodClient(opts.debuginfod);
      // A debug file arrived: drop the table built without it; the next lookup rebuilds it.
      this.unsubscribe = this.debuginfod.onFile((buildId) => {
        this.tables.delete(`b:${buildId}`);
        this.tables.delete(`d:b:${buildId}`);
        this.awaiting.delete(`b:${buildId}`);
        for (const st of this.procs.values()) st.frames = undefined;
      });
    }
  }

  /** Stops background work (debuginfod downloads under way are aborted). */
  close(): void {
    this.unsubscribe?.();
    if (this.ownsDebuginfod) this.debuginfod?.close();
  }

  /** Bytes held by cached symbol tables, and how many. */
  cacheStats(): { bytes: number; tables: number; processes: number } {
    return { bytes: this.tables.bytes, tables: this.tables.size, processes: this.procs.size };
  }

  /** Drops the per-process state (call when a process exits). */
  forgetProcess(pid: number): void {
    this.procs.delete(pid);
  }

  /** Re-reads kallsyms on the next kernel lookup (e.g. after module loads). */
  reloadKernel(): void {
    this.kernel = undefined;
  }

  // ---- kernel ---------------------------------------------------------------------------

  /** Kernel frames of addresses. Frames are shared between calls: read-only. */
  symbolizeKernel(addrs: bigint[], o: SymbolizeOptions = {}): Frame[] {
    if (!this.kernel) {
      try {
        this.kernel = loadKallsyms(true, this.opts.kallsymsPath);
      } catch {
        this.kernel = { table: SymbolTable.build(0n, emptyInput(), { kind: 'strings', names: [] }), textStart: 0n };
      }
    }
    const table = this.kernel.table;
    const cache = this.kernelFrames;
    if (cache.size > FRAME_CACHE_MAX) cache.clear();
    return addrs.map((address, i) => {
      const ret = o.returnAddresses === true && i > 0 && address > 0n;
      const key = ret ? -address : address;
      const known = cache.get(key);
      if (known) return known;
      const look = ret ? address - 1n : address;
      const hit = table.lookup(look);
      const frame: Frame = hit
        ? {
            address,
            name: hit.name,
            module: hit.module ? `[${hit.module}]` : '[kernel.kallsyms]',
            offset: address - hit.start,
            resolved: true,
          }
        : unknown(address);
      cache.set(key, frame);
      return frame;
    });
  }

  // ---- user space -----------------------------------------------------------------------

  /** User frames of a process's addresses. Frames of file-backed code are shared between calls: read-only. */
  symbolizeUser(pid: number, addrs: bigint[], o: SymbolizeOptions = {}): Frame[] {
    this.callSeq++;
    let st = this.procs.get(pid);
    const now = Date.now();
    this.clock = now;
    if (!st || now - st.readAt > this.opts.mapsMaxAgeMs) st = this.refreshMaps(pid, st);
    else if (now - st.readAt > this.opts.mapsRetryMs && addrs.some((a) => !findMapping(st!.mappings, a))) {
      st = this.refreshMaps(pid, st);
    }
    // Frames of file-backed code are resolved once per process and mappings (the cache lives on
    // the maps' state, so changed maps start afresh); JIT and anonymous code is looked up each time.
    const cache = st ? (st.frames ??= new Map()) : undefined;
    if (cache && cache.size > FRAME_CACHE_MAX) cache.clear();
    const frames: Frame[] = [];
    let fresh: Frame[] | undefined;
    for (let i = 0; i < addrs.length; i++) {
      const address = addrs[i]!;
      const ret = o.returnAddresses === true && i > 0 && address > 0n;
      const look = ret ? address - 1n : address;
      const key = ret ? -address : address;
      let f = cache?.get(key);
      if (f === undefined) {
        const m = st ? findMapping(st.mappings, look) : undefined;
        f = this.resolveUser(pid, st, address, look, m);
        // A module still waiting for its debug file is looked up each time: lookups ask again.
        if (cache && m && (m.kind === 'file' || m.kind === 'vdso') && !(m.module && this.awaiting.has(m.module.key))) {
          cache.set(key, f);
          (fresh ??= []).push(f);
        } else if (this.opts.demangle) demangleFrames([f]);
      }
      frames.push(f);
    }
    if (fresh && this.opts.demangle) demangleFrames(fresh);
    return frames;
  }

  private refreshMaps(pid: number, prev: ProcState | undefined): ProcState | undefined {
    let text: string;
    try {
      text = readFileSync(`${this.opts.procRoot}/${pid}/maps`, 'latin1');
    } catch {
      // The process may have exited since the sample: keep what we knew.
      return prev;
    }
    if (prev && prev.mapsText === text) {
      prev.readAt = Date.now();
      return prev;
    }
    const mappings: ProcMapping[] = [];
    for (const m of parseProcMaps(text)) {
      if (m.perms[2] !== 'x') continue;
      let kind: ProcMapping['kind'];
      if (m.path === '[vdso]') kind = 'vdso';
      else if (
        m.path === '' ||
        m.path.startsWith('[anon') ||
        m.path.startsWith('//anon') ||
        m.path.startsWith('/memfd:')
      )
        kind = m.path.startsWith('/memfd:') ? 'other' : 'anon';
      else if (m.path.startsWith('[')) kind = 'other';
      else kind = 'file';
      mappings.push({ ...m, kind });
    }
    mappings.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    // Keep module info for mappings that did not change.
    if (prev) {
      const old = new Map(prev.mappings.map((p) => [`${p.start}-${p.end}-${p.offset}-${p.inode}-${p.path}`, p.module]));
      for (const m of mappings) {
        const mod = old.get(`${m.start}-${m.end}-${m.offset}-${m.inode}-${m.path}`);
        if (mod) m.module = mod;
      }
    }
    const st: ProcState = {
      mapsText: text,
      mappings,
      readAt: Date.now(),
      perfMap: prev?.perfMap,
      perfMapCheckedAt: prev?.perfMapCheckedAt,
      nspid: prev?.nspid,
    };
    this.procs.set(pid, st);
    return st;
  }

  private resolveUser(
    pid: number,
    st: ProcState | undefined,
    address: bigint,
    look: bigint,
    m: ProcMapping | undefined,
  ): Frame {
    if (!m) {
      const jit = st && this.perfLookup(pid, st, look, address);
      return jit ?? unknown(address);
    }
    if (m.kind === 'anon' || m.kind === 'other') {
      const jit = this.perfLookup(pid, st!, look, address);
      if (jit) return jit;
      const module = m.kind === 'anon' ? '[anon]' : basename(m.path) || m.path;
      const offset = address - m.start + m.offset;
      return { address, name: `${module}+0x${offset.toString(16)}`, module, offset, resolved: false };
    }
    if (m.module === undefined) m.module = this.openModule(pid, m);
    const fileOff = look - m.start + m.offset;
    const module = m.kind === 'vdso' ? '[vdso]' : basename(m.path);
    const unresolved = (): Frame => {
      const offset = address - m.start + m.offset;
      return {
        address,
        name: `${module}+0x${offset.toString(16)}`,
        module,
        offset,
        resolved: false,
        path: m.kind === 'file' ? m.path : undefined,
        buildId: m.module?.elf.buildId,
      };
    };
    const mod = m.module;
    if (!mod) return unresolved();
    const vaddr = mod.elf.fileOffsetToVaddr(fileOff);
    if (vaddr === undefined) return unresolved();
    let table: SymbolTable;
    try {
      table = this.symbolsFor(mod);
    } catch {
      return unresolved(); // the file went away (process exited before its symbols were loaded)
    }
    const hit = table.lookup(vaddr);
    if (!hit)
      return this.isSignalTrampoline(mod, vaddr)
        ? { ...unresolved(), name: SIGNAL_FRAME, resolved: true }
        : unresolved();
    const frame: Frame = {
      address,
      name: hit.name,
      module,
      offset: address - look + BigInt(hit.offset),
      resolved: true,
      path: m.kind === 'file' ? m.path : undefined,
      buildId: mod.elf.buildId,
    };
    this.applyDwarf(frame, mod, vaddr);
    return frame;
  }

  /**
   * Whether an address without a symbol is a signal trampoline (its CFI marks a signal frame):
   * glibc's __restore_rt has no dynamic symbol, yet every stack through a signal handler has it.
   */
  private isSignalTrampoline(mod: ModuleInfo, vaddr: bigint): boolean {
    const t = this.unwindFor(mod);
    const i = t.findIndex(Number(vaddr));
    return i >= 0 && (t.cfa[i]! & CFA_SIGNAL) !== 0;
  }

  /**
   * Where the module's DWARF knows the address: the frame takes the name of the function DWARF
   * places it in (as addr2line does: `foo`, where the symbol table says `foo.cold` or
   * `foo.isra.0`) and the functions inlined there, innermost first.
   */
  private applyDwarf(frame: Frame, mod: ModuleInfo, vaddr: bigint): void {
    const chain = this.inlineChain(mod, vaddr);
    if (!chain) return;
    if (chain[0]!.name !== undefined) frame.name = chain[0]!.name;
    if (chain.length < 2) return;
    const names: string[] = [];
    for (let i = chain.length - 1; i >= 1; i--) {
      const n = chain[i]!.name;
      if (n !== undefined) names.push(n);
    }
    if (names.length) frame.inlined = names;
  }

  private inlineChain(mod: ModuleInfo, vaddr: bigint): InlineFrame[] | undefined {
    if (!this.opts.inlineFrames || mod.path === '[vdso]') return undefined;
    const dwarf = this.dwarfFor(mod);
    if (!dwarf) return undefined;
    const chain = dwarf.lookup(Number(vaddr));
    if (dwarf.byteSize !== this.dwarfBytes.get(dwarf)) {
      this.dwarfBytes.set(dwarf, dwarf.byteSize);
      this.tables.set(`d:${mod.key}`, dwarf, dwarf.byteSize);
    }
    return chain;
  }

  /** The DWARF of a module (its own, or its debug file's), cached by build-id; null when none. */
  private dwarfFor(mod: ModuleInfo): DwarfInlines | null {
    const key = `d:${mod.key}`;
    const cached = this.tables.get(key);
    if (cached instanceof DwarfInlines || cached === null) return cached;
    let dwarf: DwarfInlines | null = null;
    try {
      const src = hasDwarf(mod.elf)
        ? mod.elf
        : findModuleDebugFile(mod.elf, {
            path: mod.path,
            root: mod.root,
            debugDirs: this.opts.debugDirs,
            debuginfod: this.debuginfod,
          });
      if (src && hasDwarf(src))
        dwarf = new DwarfInlines(src, findSupplementaryFile(src, { root: mod.root, debugDirs: this.opts.debugDirs }));
    } catch {
      dwarf = null; // unreadable or malformed DWARF: frames keep their symbol names
    }
    this.tables.set(key, dwarf, dwarf ? dwarf.byteSize : 64);
    if (dwarf) this.dwarfBytes.set(dwarf, dwarf.byteSize);
    return dwarf;
  }

  private perfLookup(pid: number, st: ProcState, look: bigint, address: bigint): Frame | undefined {
    // A perf map may appear after the process started: look again every 2 s while missing.
    if (!st.perfMap && (st.perfMapCheckedAt === undefined || Date.now() - st.perfMapCheckedAt > 2000)) {
      st.perfMapCheckedAt = Date.now();
      const nspid = st.nspid ?? nsPid(this.opts.procRoot, pid);
      st.nspid = nspid;
      // The map lives in the process's /tmp, named by its pid in its own namespace.
      for (const p of [`${this.opts.procRoot}/${pid}/root/tmp/perf-${nspid}.map`, `/tmp/perf-${pid}.map`]) {
        try {
          statSync(p);
          st.perfMap = new PerfMap(p);
          break;
        } catch {
          /* try next */
        }
      }
    }
    if (!st.perfMap) {
      return undefined;
    }
    if (st.perfMapSeq !== this.callSeq) {
      // Once per call: the file only grows, and reading the new tail is cheap.
      st.perfMapSeq = this.callSeq;
      st.perfMap.refresh();
    }
    const hit = st.perfMap.lookup(look);
    if (!hit) return undefined;
    return { address, name: hit.name, module: '[jit]', offset: address - hit.start, resolved: true };
  }

  /** Opens the ELF file behind a mapping (headers only), sharing identical files. */
  private openModule(pid: number, m: ProcMapping): ModuleInfo | null {
    const proc = `${this.opts.procRoot}/${pid}`;
    if (m.kind === 'vdso') return this.openVdso(proc, m);
    const root = `${proc}/root`;
    const candidates = m.deleted
      ? [`${proc}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`, root + m.path]
      : [root + m.path, `${proc}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`, m.path];
    for (const openPath of candidates) {
      let identity: string;
      try {
        const s = statSync(openPath, { bigint: true });
        identity = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
      } catch {
        continue;
      }
      const known = this.modules.get(identity);
      if (known) return { ...known, path: m.path };
      try {
        const elf = readElf(openPath, m.path);
        const info: ModuleInfo = {
          key: elf.buildId ? `b:${elf.buildId}` : `i:${identity}`,
          elf,
          path: m.path,
          openPath,
          root: m.deleted ? '' : root,
        };
        if (this.modules.size > 8192) this.modules.clear();
        this.modules.set(identity, info);
        return info;
      } catch {
        continue;
      }
    }
    return null;
  }

  private openVdso(proc: string, m: ProcMapping): ModuleInfo | null {
    try {
      const len = Number(m.end - m.start);
      const fd = openSync(`${proc}/mem`, 'r');
      const buf = Buffer.alloc(len);
      try {
        readSync(fd, buf, 0, len, m.start);
      } finally {
        closeSync(fd);
      }
      const elf = readElf(buf, '[vdso]');
      return { key: elf.buildId ? `b:${elf.buildId}` : `vdso:${len}`, elf, path: '[vdso]', openPath: '', root: '' };
    } catch {
      return null;
    }
  }

  /** Symbol table of a module: cached by build-id (or file identity), with debug files. */
  private symbolsFor(mod: ModuleInfo): SymbolTable {
    const cached = this.tables.get(mod.key);
    if (cached instanceof SymbolTable) {
      if (this.awaiting.size !== 0) this.askAgain(mod.key);
      return cached;
    }
    const { table, debugFile } = loadSymbolsAndSource(mod.elf, {
      path: mod.path,
      root: mod.root,
      debugDirs: this.opts.debugDirs,
      debuginfod: this.debuginfod,
    });
    this.tables.set(mod.key, table, table.byteSize);
    if (this.debuginfod && !debugFile && mod.path !== '[vdso]' && wantsDebuginfo(mod.elf)) {
      // Names come later: the download runs in the background, this lookup answers now.
      if (this.awaiting.size >= 4096) this.awaiting.delete(this.awaiting.keys().next().value!);
      this.awaiting.set(mod.key, { buildId: mod.elf.buildId!, next: Date.now() + ASK_AGAIN_MS });
      this.debuginfod.request(mod.elf.buildId!);
    }
    return table;
  }

  /** At most once a second per module still without its debug file: ask the client again (it knows when a miss may be retried). */
  private askAgain(key: string): void {
    const w = this.awaiting.get(key);
    if (w === undefined || this.clock < w.next) return;
    w.next = this.clock + ASK_AGAIN_MS;
    this.debuginfod!.request(w.buildId);
  }

  /** Unwind table of a module (from .eh_frame/.debug_frame), cached like symbol tables. */
  private unwindFor(mod: ModuleInfo): UnwindTable {
    const key = `u:${mod.key}`;
    const cached = this.tables.get(key);
    if (cached instanceof UnwindTable) return cached;
    let table: UnwindTable;
    try {
      table = readUnwindTable(mod.elf);
    } catch {
      table = new UnwindTable(
        new Float64Array(0),
        new Uint8Array(0),
        new Int32Array(0),
        new Int32Array(0),
        new Int32Array(0),
      );
    }
    this.tables.set(key, table, table.byteSize);
    return table;
  }

  /**
   * Unwind-table lookup for a process's executable mappings: pass it to `unwindUser`.
   * Anonymous (JIT) regions have no tables; there the walk falls back to frame pointers.
   */
  unwindMaps(pid: number): UnwindMaps {
    let st = this.procs.get(pid);
    if (!st || Date.now() - st.readAt > this.opts.mapsMaxAgeMs) st = this.refreshMaps(pid, st);
    const state = st;
    return {
      find: (pc: bigint) => {
        const m = state ? findMapping(state.mappings, pc) : undefined;
        if (!m || (m.kind !== 'file' && m.kind !== 'vdso')) return undefined;
        return this.mappingUnwind(pid, m, pc);
      },
      findNumber: (pc: number) => {
        if (!state) return undefined;
        const ms = state.mappings;
        let lo = 0;
        let hi = ms.length - 1;
        let m: ProcMapping | undefined;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          const c = ms[mid]!;
          c.startN ??= Number(c.start);
          c.endN ??= Number(c.end);
          if (pc < c.startN) hi = mid - 1;
          else if (pc >= c.endN) lo = mid + 1;
          else {
            m = c;
            break;
          }
        }
        if (!m || (m.kind !== 'file' && m.kind !== 'vdso')) return undefined;
        if (m.unwindN !== undefined) return m.unwindN ?? undefined;
        const u = this.mappingUnwind(pid, m, BigInt(pc));
        m.unwindN = u ? { table: u.table, bias: Number(u.bias) } : null;
        return m.unwindN ?? undefined;
      },
    };
  }

  /**
   * Unwind table and load bias of a mapping, cached on the mapping: the hot path of unwinding is
   * then one binary search per frame. (A mapping keeps its table alive until the maps are re-read,
   * even if the LRU evicts it.)
   */
  private mappingUnwind(pid: number, m: ProcMapping, pc: bigint): { table: UnwindTable; bias: bigint } | undefined {
    if (m.unwind !== undefined) return m.unwind ?? undefined;
    if (m.module === undefined) m.module = this.openModule(pid, m);
    if (!m.module) return undefined; // not cached: openModule is retried like symbolization's
    const vaddr = m.module.elf.fileOffsetToVaddr(pc - m.start + m.offset);
    if (vaddr === undefined) return undefined;
    m.unwind = { table: this.unwindFor(m.module), bias: pc - vaddr };
    // Load the symbols now too, while the file can still be opened: stacks are symbolized at
    // the next flush, when a short-lived process may be gone.
    try {
      this.symbolsFor(m.module);
    } catch {
      /* symbolization will show module+offset */
    }
    return m.unwind;
  }

  /** Unwinds a user stack sample of a process (registers + stack bytes copied from sp). */
  unwind(pid: number, regs: UserRegs, stack: Buffer, stackBase: bigint = regs.sp, opts?: UnwindOptions): bigint[] {
    return unwindUser(regs, stack, stackBase, this.unwindMaps(pid), opts);
  }

  /** Symbolizes ELF virtual addresses of a file (no process needed). */
  symbolizeFile(path: string, vaddrs: bigint[]): Frame[] {
    this.clock = Date.now();
    let elf: ElfFile;
    try {
      elf = readElf(path);
    } catch {
      return vaddrs.map(unknown);
    }
    const s = statSync(path, { bigint: true });
    const mod: ModuleInfo = {
      key: elf.buildId ? `b:${elf.buildId}` : `i:${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`,
      elf,
      path,
      openPath: path,
      root: '',
    };
    const table = this.symbolsFor(mod);
    const module = basename(path);
    const frames = vaddrs.map((address): Frame => {
      const hit = table.lookup(address);
      if (!hit) {
        const off = elf.vaddrToFileOffset(address) ?? address;
        return {
          address,
          name: `${module}+0x${off.toString(16)}`,
          module,
          offset: off,
          resolved: false,
          path,
          buildId: elf.buildId,
        };
      }
      const frame: Frame = {
        address,
        name: hit.name,
        module,
        offset: BigInt(hit.offset),
        resolved: true,
        path,
        buildId: elf.buildId,
      };
      this.applyDwarf(frame, mod, address);
      return frame;
    });
    if (this.opts.demangle) demangleFrames(frames);
    return frames;
  }
}

/**
 * Symbols for an ELF file: its own .symtab when present; else a separate debug file (by
 * build-id or .gnu_debuglink); else .dynsym merged with MiniDebugInfo, or the Go pclntab.
 */
export function loadModuleSymbols(
  elf: ElfFile,
  q: { path: string; root?: string; debugDirs?: string[]; debuginfod?: DebuginfodClient } = { path: elf.path },
): SymbolTable {
  return loadSymbolsAndSource(elf, q).table;
}

/** `loadModuleSymbols`, also saying which debug file the names came from (if any). */
function loadSymbolsAndSource(
  elf: ElfFile,
  q: { path: string; root?: string; debugDirs?: string[]; debuginfod?: DebuginfodClient },
): { table: SymbolTable; debugFile?: string } {
  if (!elf.hasSymtab) {
    const dbg = findModuleDebugFile(elf, q);
    if (dbg && dbg.hasSymtab) {
      const t = dbg.symbols({ cache: false, miniDebugInfo: false, goPclntab: false });
      if (t.length > 0) return { table: t, debugFile: dbg.path };
    }
    // A debug file without function symbols still counts as found: nothing better will come.
    if (dbg) return { table: elf.symbols({ cache: false }), debugFile: dbg.path };
  }
  return { table: elf.symbols({ cache: false }) };
}

/** The separate debug file of a module: by build-id or .gnu_debuglink, else one debuginfod brought. */
function findModuleDebugFile(
  elf: ElfFile,
  q: { path: string; root?: string; debugDirs?: string[]; debuginfod?: DebuginfodClient },
): ElfFile | undefined {
  return (
    findDebugFile({
      path: q.path,
      root: q.root,
      debugDirs: q.debugDirs,
      buildId: elf.buildId,
      debuglink: elf.debuglink,
    }) ?? (q.debuginfod && elf.buildId ? q.debuginfod.open(elf.buildId) : undefined)
  );
}

/** Demangles resolved frame names and inlined names in one batch. */
function demangleFrames(frames: Frame[]): void {
  const mangled: string[] = [];
  for (const f of frames) {
    if (f.resolved && isMangled(f.name)) mangled.push(f.name);
    if (f.inlined) for (const n of f.inlined) if (isMangled(n)) mangled.push(n);
  }
  if (mangled.length === 0) return;
  const plain = new Map<string, string>();
  const out = demangleMany(mangled);
  mangled.forEach((m, i) => plain.set(m, out[i]!));
  for (const f of frames) {
    if (f.resolved) f.name = plain.get(f.name) ?? f.name;
    if (f.inlined) f.inlined = f.inlined.map((n) => plain.get(n) ?? n);
  }
}

const ASK_AGAIN_MS = 1000;

/** The name of an unnamed signal trampoline (the frame the kernel's rt_sigframe returns to). */
export const SIGNAL_FRAME = '[signal frame]';

function nsPid(procRoot: string, pid: number): number {
  try {
    const status = readFileSync(`${procRoot}/${pid}/status`, 'latin1');
    const m = /^NSpid:\s*(.*)$/m.exec(status);
    if (m) {
      const ids = m[1]!.trim().split(/\s+/);
      const last = Number(ids[ids.length - 1]);
      if (Number.isFinite(last) && last > 0) return last;
    }
  } catch {
    /* gone */
  }
  return pid;
}

function unknown(address: bigint): Frame {
  return {
    address,
    name: `[unknown]+0x${address.toString(16)}`,
    module: '[unknown]',
    offset: address,
    resolved: false,
  };
}

function emptyInput() {
  return { starts: new Float64Array(0), sizes: new Float64Array(0), names: new Float64Array(0) };
}
