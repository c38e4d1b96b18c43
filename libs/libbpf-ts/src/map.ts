// A BPF map of a loaded object. Keys and values are raw Buffers in the kernel's layout; typed
// decoding belongs to the program's own wrapper (see @swlite/bpf).
import { native, type NativeMapInfo } from './native.js';
import { call } from './log.js';
import { BpfError } from './errors.js';
import { BPF_ANY, MapType, PER_CPU_MAP_TYPES, mapTypeName } from './constants.js';

/** What a map needs from the object that owns it. */
export interface MapOwner {
  /** Throws a BpfError (EBADF) if the object is closed or not loaded. */
  assertLoaded(op: string): void;
  readonly handle: number;
  readonly logger: import('./log.js').LibbpfLogger | null | undefined;
  trackChild(c: { close(): void }): void;
  untrackChild(c: { close(): void }): void;
}

export interface MapInfo {
  name: string;
  type: MapType;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface BatchResult {
  /** `count` keys of `keySize` bytes, back to back. */
  keys: Buffer;
  /** `count` values of `valueSize` bytes (per-CPU maps: `perCpuValueSize`), back to back. */
  values: Buffer;
  count: number;
  /** True when the kernel's batch operation was used, false when we iterated. */
  batched: boolean;
}

/** Errno values meaning "this map type has no batch operations". */
const NO_BATCH = new Set(['EINVAL', 'ENOTSUPP', 'EOPNOTSUPP', 'ENOSYS']);

export class BpfMap {
  readonly name: string;
  readonly type: MapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  #owner: MapOwner;
  #fd: number;
  #batchUnsupported = false;
  static #nCpus: number | undefined;

  /** @internal created by BpfObject after load */
  constructor(owner: MapOwner, info: NativeMapInfo) {
    this.#owner = owner;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.#fd = info.fd;
  }

  /** @internal the object owning this map */
  get owner(): MapOwner {
    return this.#owner;
  }

  get info(): MapInfo {
    return {
      name: this.name,
      type: this.type,
      typeName: mapTypeName(this.type),
      keySize: this.keySize,
      valueSize: this.valueSize,
      maxEntries: this.maxEntries,
      flags: this.flags,
    };
  }

  /** The map's file descriptor (valid until the object is closed). */
  get fd(): number {
    this.#owner.assertLoaded('map fd');
    return this.#fd;
  }

  get isPerCpu(): boolean {
    return PER_CPU_MAP_TYPES.has(this.type);
  }

  /** Number of possible CPUs (per-CPU maps hold one value slot each). */
  static possibleCpuCount(): number {
    BpfMap.#nCpus ??= call('libbpf_num_possible_cpus', () => native().numPossibleCpus());
    return BpfMap.#nCpus;
  }

  /** Bytes of one value as the syscall transfers it (per-CPU: 8-aligned slot × possible CPUs). */
  get syscallValueSize(): number {
    if (!this.isPerCpu) return this.valueSize;
    return Math.ceil(this.valueSize / 8) * 8 * BpfMap.possibleCpuCount();
  }

  #key(key: Uint8Array, op: string): Buffer {
    this.#owner.assertLoaded(op);
    if (key.length !== this.keySize) {
      throw new BpfError({
        op,
        errno: 22,
        message: `${op} on map ${this.name}: key is ${key.length} bytes, map key size is ${this.keySize}`,
        hint: 'encode the key with the map layout',
      });
    }
    return Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  }

  /** The value for `key`, or null when absent. Per-CPU maps return all slots (see perCpu()). */
  lookup(key: Uint8Array): Buffer | null {
    const k = this.#key(key, 'bpf_map_lookup_elem');
    return call('bpf_map_lookup_elem', () => native().mapLookup(this.#fd, k, this.syscallValueSize));
  }

  /** Per-CPU map: the value of `key` split into one Buffer per possible CPU. */
  lookupPerCpu(key: Uint8Array): Buffer[] | null {
    const all = this.lookup(key);
    return all ? this.splitPerCpu(all) : null;
  }

  /** Splits a per-CPU value buffer into its per-CPU slots (each `valueSize` bytes). */
  splitPerCpu(all: Buffer): Buffer[] {
    const slot = Math.ceil(this.valueSize / 8) * 8;
    const out: Buffer[] = [];
    for (let off = 0; off + slot <= all.length; off += slot) out.push(all.subarray(off, off + this.valueSize));
    return out;
  }

  /**
   * Creates or replaces the value (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). Per-CPU maps take a
   * value of syscallValueSize bytes, or one of valueSize bytes that is copied to every CPU.
   */
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    const k = this.#key(key, 'bpf_map_update_elem');
    let v = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (this.isPerCpu && v.length === this.valueSize && v.length !== this.syscallValueSize) {
      const slot = Math.ceil(this.valueSize / 8) * 8;
      const all = Buffer.alloc(this.syscallValueSize);
      for (let off = 0; off < all.length; off += slot) v.copy(all, off);
      v = all;
    }
    if (v.length !== this.syscallValueSize) {
      throw new BpfError({
        op: 'bpf_map_update_elem',
        errno: 22,
        message: `bpf_map_update_elem on map ${this.name}: value is ${v.length} bytes, expected ${this.syscallValueSize}`,
        hint: 'encode the value with the map layout',
      });
    }
    call('bpf_map_update_elem', () => native().mapUpdate(this.#fd, k, v, flags));
  }

  /** Deletes `key`; false when it was absent. */
  delete(key: Uint8Array): boolean {
    const k = this.#key(key, 'bpf_map_delete_elem');
    return call('bpf_map_delete_elem', () => native().mapDelete(this.#fd, k));
  }

  /** Looks up and deletes in one step (hash maps, queues); falls back to lookup + delete. */
  lookupAndDelete(key: Uint8Array): Buffer | null {
    const k = this.#key(key, 'bpf_map_lookup_and_delete_elem');
    try {
      return call('bpf_map_lookup_and_delete_elem', () =>
        native().mapLookupAndDelete(this.#fd, k, this.syscallValueSize),
      );
    } catch (e) {
      if (!(e instanceof BpfError) || !NO_BATCH.has(e.code)) throw e;
      const v = this.lookup(k);
      if (v) this.delete(k);
      return v;
    }
  }

  /** Iterates the keys (a snapshot is not guaranteed if the map changes meanwhile). */
  *keys(): IterableIterator<Buffer> {
    let cur: Buffer | null = null;
    for (;;) {
      this.#owner.assertLoaded('bpf_map_get_next_key');
      const prev: Buffer | null = cur;
      const next: Buffer | null = call('bpf_map_get_next_key', () => native().mapNextKey(this.#fd, prev, this.keySize));
      if (!next) return;
      yield next;
      cur = next;
    }
  }

  /** Iterates [key, value] pairs; entries deleted meanwhile are skipped. */
  *entries(): IterableIterator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) yield [k, v];
    }
  }

  /** Reads every entry with the kernel's batch lookup (fallback: iteration). */
  lookupBatch(): BatchResult {
    return this.#batch(false);
  }

  /**
   * Reads and deletes every entry: BPF_MAP_LOOKUP_AND_DELETE_BATCH when the map type has it,
   * otherwise collect the keys, then lookup + delete each one.
   */
  lookupAndDeleteBatch(): BatchResult {
    return this.#batch(true);
  }

  #batch(del: boolean): BatchResult {
    const op = del ? 'bpf_map_lookup_and_delete_batch' : 'bpf_map_lookup_batch';
    this.#owner.assertLoaded(op);
    const vsz = this.syscallValueSize;
    if (!this.#batchUnsupported) {
      try {
        const r = call(op, () => native().mapBatch(this.#fd, this.keySize, vsz, this.maxEntries, del));
        return { ...r, batched: true };
      } catch (e) {
        if (!(e instanceof BpfError) || !NO_BATCH.has(e.code)) throw e;
        this.#batchUnsupported = true;
      }
    }
    const keys = [...this.keys()];
    const ks: Buffer[] = [];
    const vs: Buffer[] = [];
    for (const k of keys) {
      const v = del ? this.lookupAndDelete(k) : this.lookup(k);
      if (!v) continue;
      ks.push(k);
      vs.push(v);
    }
    return { keys: Buffer.concat(ks), values: Buffer.concat(vs), count: ks.length, batched: false };
  }

  /** Deletes every entry; returns how many were deleted. */
  clear(): number {
    let n = 0;
    for (const k of [...this.keys()]) if (this.delete(k)) n++;
    return n;
  }

  /**
   * BPF_MAP_TYPE_STACK_TRACE: the addresses of stack `id`, leaf first, stopping at the first 0.
   * Returns null when the id is not in the map.
   */
  stackTrace(id: number): bigint[] | null {
    const raw = this.stackTraceRaw(id);
    if (!raw) return null;
    const out: bigint[] = [];
    for (const a of raw) {
      if (a === 0n) break;
      out.push(a);
    }
    return out;
  }

  /** BPF_MAP_TYPE_STACK_TRACE: the raw slot array of stack `id` (zero-padded), or null. */
  stackTraceRaw(id: number): BigUint64Array | null {
    if (this.type !== MapType.STACK_TRACE) {
      throw new BpfError({
        op: 'stack trace lookup',
        errno: 22,
        message: `map ${this.name} is ${mapTypeName(this.type)}, not STACK_TRACE`,
        hint: 'pass the stack trace map',
      });
    }
    const key = Buffer.alloc(4);
    key.writeUInt32LE(id >>> 0);
    const v = this.lookup(key);
    if (!v) return null;
    const copy = new BigUint64Array(v.length / 8);
    for (let i = 0; i < copy.length; i++) copy[i] = v.readBigUInt64LE(i * 8);
    return copy;
  }

  /** Removes stack `id` from a STACK_TRACE map (false when absent). */
  deleteStack(id: number): boolean {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(id >>> 0);
    return this.delete(key);
  }
}
