// Symbol names as people read them: what the linker and toolchains add for their own use is
// taken off (demangling proper is in demangle.ts).

/**
 * An ELF symbol name without the symbol version (`__libc_start_main@@GLIBC_2.34`,
 * `memcpy@GLIBC_2.2.5`: .symtab of a library keeps the version in the string) and without Go's
 * ABI0 wrapper suffix (`runtime.rt0_go.abi0`, what Go's own tables call `runtime.rt0_go`);
 * escaped bytes of Go package paths (`gopkg.in/yaml%2ev3.Unmarshal`) are decoded.
 * No mangled C++, Rust or Go name contains '@', so cutting at the first one is safe.
 */
export function cleanElfName(name: string): string {
  const at = name.indexOf('@');
  if (at > 0) name = name.slice(0, at);
  if (name.endsWith('.abi0')) name = name.slice(0, -5);
  if (name.includes('%')) name = name.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return name;
}
