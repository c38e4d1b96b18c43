// @swlite/symbolizer: runtime addresses to names (ELF, kernel, JIT perf maps, Go).
export { Symbolizer, loadModuleSymbols } from './symbolizer.js';
export type { Frame, SymbolizerOptions, SymbolizeOptions } from './symbolizer.js';
export { readElf, ElfFile, crc32, fileCrc32, xzDecompress } from './elf.js';
export type { ElfSection, ElfSegment } from './elf.js';
export { parseProcMaps, findMapping } from './maps.js';
export type { MapEntry } from './maps.js';
export { loadKallsyms, parseKallsyms } from './kallsyms.js';
export type { KernelSymbols } from './kallsyms.js';
export { PerfMap, parsePerfMap } from './perfmap.js';
export type { PerfMapEntry } from './perfmap.js';
export { parseGoPclntab } from './gopclntab.js';
export { demangle, demangleMany } from './demangle.js';
export { findDebugFile, debugCandidates } from './debugfile.js';
export { SymbolTable } from './symtab.js';
export type { SymbolHit } from './symtab.js';
export { ByteLru } from './cache.js';
