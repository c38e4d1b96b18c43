// @swlite/symbolizer: runtime addresses to names (ELF, kernel, JIT perf maps, Go).
export { Symbolizer, loadModuleSymbols, SIGNAL_FRAME } from './symbolizer.js';
export type { Frame, SymbolizerOptions, SymbolizeOptions } from './symbolizer.js';
export { readElf, ElfFile, crc32, fileCrc32, xzDecompress, SHT_SYMTAB, SHT_DYNSYM } from './elf.js';
export type { ElfSection, ElfSegment } from './elf.js';
export { parseProcMaps, findMapping } from './maps.js';
export type { MapEntry } from './maps.js';
export { loadKallsyms, parseKallsyms } from './kallsyms.js';
export type { KernelSymbols } from './kallsyms.js';
export { PerfMap, parsePerfMap } from './perfmap.js';
export type { PerfMapEntry } from './perfmap.js';
export { parseGoPclntab } from './gopclntab.js';
export { demangle, demangleMany } from './demangle.js';
export { cleanElfName } from './names.js';
export { stackSymbols, parseInlinedSymbol, INLINED_SUFFIX } from './stack-symbols.js';
export { DwarfInlines, hasDwarf, readDebugSection } from './dwarf.js';
export type { InlineFrame } from './dwarf.js';
export { findDebugFile, findSupplementaryFile, debugCandidates } from './debugfile.js';
export { DebuginfodClient, debuginfodOptionsFromEnv, defaultCachePath, wantsDebuginfo } from './debuginfod.js';
export type { DebuginfodOptions, DebuginfodLogger, DebuginfodStats } from './debuginfod.js';
export { SymbolTable } from './symtab.js';
export type { SymbolHit } from './symtab.js';
export { ByteLru } from './cache.js';
export {
  readUnwindTable,
  parseCfiSection,
  buildUnwindTable,
  UnwindTable,
  CFA_NONE,
  CFA_RSP,
  CFA_RBP,
  CFA_PLT,
  CFA_UNKNOWN,
  CFA_EXPR,
  CFA_SIGNAL,
  RULE_UNCHANGED,
  RULE_UNDEFINED,
  exprRule,
  decodeExprRule,
} from './cfi.js';
export { evalCfiExpression, MAX_EXPR_OPS } from './dwarf-expr.js';
export type { ExprRegs, ExprRead } from './dwarf-expr.js';
export type { UnwindRow } from './cfi.js';
export { unwindUser } from './unwind.js';
export type { UserRegs, UnwindMaps, UnwindOptions, UnwindReach } from './unwind.js';
