// BpfObject: one BPF ELF object (programs + maps) through its life: open → configure → load →
// attach → close. Live objects are tracked and closed at process exit.
import { native } from './native.js';
import { call, type LibbpfLogger } from './log.js';
import { BpfError } from './errors.js';
import { BpfMap } from './map.js';
import { BpfProgram } from './program.js';
import type { Link } from './link.js';
import { RingBuffer, type RingBufferOptions } from './ringbuf.js';

/** A value for a global variable: integers are written little-endian at the variable's size. */
export type GlobalValue = number | bigint | boolean | Uint8Array;

export interface OpenOptions {
  /** Initial values of `const volatile` globals (.rodata), applied before load. */
  rodata?: Record<string, GlobalValue>;
  /** Initial values of `.data`/`.bss` globals, applied before load. */
  data?: Record<string, GlobalValue>;
  /** Override max_entries of maps before load. */
  maxEntries?: Record<string, number>;
  /** Programs not to load (false) — e.g. a fallback variant. */
  autoload?: Record<string, boolean>;
  /** Kernel BTF to use instead of /sys/kernel/btf/vmlinux. */
  btfCustomPath?: string;
  /** Receives libbpf log lines of this object's calls (null: silence; default: global logger). */
  logger?: LibbpfLogger | null;
}

export interface GlobalVar {
  name: string;
  offset: number;
  size: number;
}

interface Closable {
  close(): void;
}

const live = new Set<BpfObject>();
let exitHookInstalled = false;
const finalizer = new FinalizationRegistry<number>((handle) => {
  try {
    native().objClose(handle);
  } catch {
    // nothing to do at GC time
  }
});

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => closeAllObjects());
}

/** Closes every live object (links and ring buffers first). Called automatically at exit. */
export function closeAllObjects(): void {
  for (const o of [...live]) {
    try {
      o.close();
    } catch {
      // keep closing the others
    }
  }
}

/** Counts of live native resources (for leak tests). */
export function liveResources(): { objects: number; links: number; ringBuffers: number } {
  return native().liveCounts();
}

/** Encodes `value` into `buf` at `v.offset` using the variable's size. */
export function writeGlobal(buf: Buffer, v: GlobalVar, value: GlobalValue, op = 'set global'): void {
  if (value instanceof Uint8Array) {
    if (value.length !== v.size) {
      throw new BpfError({
        op,
        errno: 22,
        message: `${op}: ${v.name} is ${v.size} bytes, got ${value.length}`,
        hint: 'pass a buffer of the exact size',
      });
    }
    Buffer.from(value.buffer, value.byteOffset, value.byteLength).copy(buf, v.offset);
    return;
  }
  const n = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
  if (![1, 2, 4, 8].includes(v.size)) {
    throw new BpfError({
      op,
      errno: 22,
      message: `${op}: ${v.name} is ${v.size} bytes; pass a Buffer`,
      hint: 'arrays and structs take a Buffer',
    });
  }
  const bits = v.size * 8;
  if (n >= 1n << BigInt(bits) || n < -(1n << BigInt(bits - 1))) {
    throw new BpfError({
      op,
      errno: 34,
      message: `${op}: ${String(value)} does not fit ${v.name} (${v.size} bytes)`,
      hint: '',
    });
  }
  const u = BigInt.asUintN(bits, n);
  for (let i = 0; i < v.size; i++) buf[v.offset + i] = Number((u >> BigInt(8 * i)) & 0xffn);
}

export class BpfObject {
  readonly path: string;
  #handle: number;
  #closed = false;
  #loaded = false;
  #logger: LibbpfLogger | null | undefined;
  #programs = new Map<string, BpfProgram>();
  #maps = new Map<string, BpfMap>();
  #links = new Set<Link>();
  #children = new Set<Closable>();

  private constructor(path: string, handle: number, opts: OpenOptions) {
    this.path = path;
    this.#handle = handle;
    this.#logger = opts.logger;
    live.add(this);
    finalizer.register(this, handle, this);
    installExitHook();
    for (const p of native().objPrograms(handle)) this.#programs.set(p.name, new BpfProgram(this, p));
  }

  /** Opens (parses) a BPF ELF object. Configure it, then call load(). */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const h = call('bpf_object__open_file', () => native().objOpen(path, opts.btfCustomPath ?? null), opts.logger);
    const obj = new BpfObject(path, h, opts);
    try {
      if (opts.rodata) obj.setRodata(opts.rodata);
      if (opts.data) obj.setGlobals('.data', opts.data);
      for (const [m, n] of Object.entries(opts.maxEntries ?? {})) obj.setMaxEntries(m, n);
      for (const [p, on] of Object.entries(opts.autoload ?? {})) obj.program(p).setAutoload(on);
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** open() + load(). */
  static openAndLoad(path: string, opts: OpenOptions = {}): BpfObject {
    const obj = BpfObject.open(path, opts);
    try {
      obj.load();
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** @internal */
  get handle(): number {
    return this.#handle;
  }
  get loaded(): boolean {
    return this.#loaded;
  }
  get closed(): boolean {
    return this.#closed;
  }
  /** @internal */
  get logger(): LibbpfLogger | null | undefined {
    return this.#logger;
  }

  /** @internal */
  assertOpen(op: string): void {
    if (this.#closed) {
      throw new BpfError({ op, errno: 9, message: `${op}: object ${this.path} is closed` });
    }
  }
  /** @internal */
  assertLoaded(op: string): void {
    this.assertOpen(op);
    if (!this.#loaded) {
      throw new BpfError({
        op,
        errno: 22,
        message: `${op}: object ${this.path} is not loaded`,
        hint: 'call load() first',
      });
    }
  }
  /** @internal */
  trackLink(l: Link): void {
    this.#links.add(l);
  }
  /** @internal */
  untrackLink(l: Link): void {
    this.#links.delete(l);
  }
  /** @internal ring buffers and other things to close before the object. */
  trackChild(c: Closable): void {
    this.#children.add(c);
  }
  /** @internal */
  untrackChild(c: Closable): void {
    this.#children.delete(c);
  }

  /** Variables of a global data section (".rodata", ".data", ".bss") with offsets and sizes. */
  globals(section = '.rodata'): GlobalVar[] {
    this.assertOpen('globals');
    return call('section layout', () => native().dataSectionLayout(this.#handle, section), this.#logger).vars;
  }

  /** Sets `const volatile` globals before load, e.g. `setRodata({ target_tgid: 123 })`. */
  setRodata(values: Record<string, GlobalValue>): void {
    this.setGlobals('.rodata', values);
  }

  /** Sets globals of `.rodata`, `.data` or `.bss` before load. Unknown names throw. */
  setGlobals(section: string, values: Record<string, GlobalValue>): void {
    const op = 'bpf_map__set_initial_value';
    this.assertOpen(op);
    if (this.#loaded) {
      throw new BpfError({
        op,
        errno: 16,
        message: `${op}: ${section} is frozen after load`,
        hint: 'set globals before load()',
      });
    }
    const layout = call('section layout', () => native().dataSectionLayout(this.#handle, section), this.#logger);
    const buf = call(op, () => native().mapGetInitial(this.#handle, section), this.#logger);
    for (const [name, value] of Object.entries(values)) {
      const v = layout.vars.find((x) => x.name === name);
      if (!v) {
        throw new BpfError({
          op,
          errno: 2,
          message: `${op}: no global "${name}" in ${section} (has: ${layout.vars.map((x) => x.name).join(', ') || 'none'})`,
          hint: 'declare it `const volatile` in the BPF program',
        });
      }
      writeGlobal(buf, v, value, op);
    }
    call(op, () => native().mapSetInitial(this.#handle, section, buf), this.#logger);
  }

  /** Overrides a map's max_entries before load. */
  setMaxEntries(map: string, n: number): void {
    this.assertOpen('bpf_map__set_max_entries');
    call('bpf_map__set_max_entries', () => native().mapSetMaxEntries(this.#handle, map, n), this.#logger);
  }

  /** Verifies and loads every (autoload) program and creates the maps. */
  load(): this {
    this.assertOpen('bpf_object__load');
    if (this.#loaded) return this;
    native().tryRaiseMemlock(); // harmless when refused: memcg accounts BPF memory on >= 5.11
    call('bpf_object__load', () => native().objLoad(this.#handle), this.#logger);
    this.#loaded = true;
    for (const m of native().objMaps(this.#handle)) this.#maps.set(m.name, new BpfMap(this, m));
    return this;
  }

  /** Program by its C function name. */
  program(name: string): BpfProgram {
    this.assertOpen('program');
    const p = this.#programs.get(name);
    if (!p) {
      throw new BpfError({
        op: 'program',
        errno: 2,
        message: `no program "${name}" in ${this.path} (has: ${[...this.#programs.keys()].join(', ')})`,
        hint: 'use the C function name',
      });
    }
    return p;
  }

  get programs(): BpfProgram[] {
    return [...this.#programs.values()];
  }

  /** Map by name (after load). Internal maps are reachable as ".rodata", ".bss", ".data". */
  map(name: string): BpfMap {
    this.assertLoaded('map');
    const m =
      this.#maps.get(name) ?? [...this.#maps.values()].find((x) => name.startsWith('.') && x.name.endsWith(name));
    if (!m) {
      throw new BpfError({
        op: 'map',
        errno: 2,
        message: `no map "${name}" in ${this.path} (has: ${[...this.#maps.keys()].join(', ')})`,
        hint: 'use the map variable name from the C source',
      });
    }
    return m;
  }

  /** A RingBuffer over the RINGBUF map `name`, delivering each record to `onRecord`. */
  ringBuffer(name: string, onRecord: (record: Buffer) => void, opts?: RingBufferOptions): RingBuffer {
    return new RingBuffer(this.map(name), onRecord, opts);
  }

  get maps(): BpfMap[] {
    this.assertLoaded('maps');
    return [...this.#maps.values()];
  }

  /** Destroys links and ring buffers, then frees the object. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    for (const c of [...this.#children]) {
      try {
        c.close();
      } catch {
        // continue
      }
    }
    for (const l of [...this.#links]) {
      try {
        l.destroy();
      } catch {
        // continue
      }
    }
    this.#closed = true;
    live.delete(this);
    finalizer.unregister(this);
    call('bpf_object__close', () => native().objClose(this.#handle), this.#logger);
  }
}
