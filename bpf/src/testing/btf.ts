// Test support: the BTF of a built object (as `bpftool -j btf dump file X.bpf.o` prints it) with
// the lookups the layout check needs: types by id and name, data sections, map definitions.
import { execFileSync } from 'node:child_process';

export interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  members?: Array<{ name: string; type_id: number; bits_offset: number; bitfield_size?: number }>;
  values?: Array<{ name: string; val: number }>;
  vars?: Array<{ type_id: number; offset: number; size: number }>;
}

/** A BPF map definition from the `.maps` section (libbpf's BTF-defined maps). */
export interface BtfMapDef {
  name: string;
  /** BPF_MAP_TYPE_* number. */
  mapType: number;
  maxEntries: number | undefined;
  /** Type id of __type(key, ...), or the byte size given by __uint(key_size, ...). */
  key: { typeId: number } | { size: number } | undefined;
  value: { typeId: number } | { size: number } | undefined;
}

export const BPF_MAP_TYPE_RINGBUF = 27;

const findBpftool = (): string => {
  for (const candidate of [process.env.BPFTOOL, '/usr/sbin/bpftool', 'bpftool']) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ['version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('bpftool not found (install it, or set BPFTOOL): the layout check reads BTF with it');
};

export class Btf {
  readonly #byId = new Map<number, BtfType>();

  constructor(types: BtfType[]) {
    for (const t of types) this.#byId.set(t.id, t);
  }

  /** Reads the BTF of a built object. */
  static ofObject(path: string): Btf {
    const out = execFileSync(findBpftool(), ['-j', 'btf', 'dump', 'file', path], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    return new Btf((JSON.parse(out) as { types: BtfType[] }).types);
  }

  type(id: number): BtfType {
    const t = this.#byId.get(id);
    if (!t) throw new Error(`BTF has no type ${id}`);
    return t;
  }

  /** The type behind typedefs and qualifiers. */
  resolve(id: number): BtfType {
    let t = this.type(id);
    while (['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = this.type(t.type_id!);
    return t;
  }

  /** Size in bytes of a resolved type. */
  sizeOf(id: number): number {
    const t = this.resolve(id);
    if (t.kind === 'ARRAY') return t.nr_elems! * this.sizeOf(t.type_id!);
    if (t.kind === 'PTR') return 8;
    if (t.size === undefined) throw new Error(`BTF type ${id} (${t.kind} ${t.name}) has no size`);
    return t.size;
  }

  /** The named type of a kind ('STRUCT', 'ENUM', ...), or undefined. */
  named(kind: string, name: string): BtfType | undefined {
    for (const t of this.#byId.values()) if (t.kind === kind && t.name === name) return t;
    return undefined;
  }

  /** Variables of a data section (".rodata", ".maps", ...): name, size and type id. */
  sectionVars(section: string): Array<{ name: string; size: number; typeId: number }> {
    const sec = this.named('DATASEC', section);
    return (sec?.vars ?? []).map((v) => {
      const variable = this.type(v.type_id);
      return { name: variable.name, size: v.size, typeId: variable.type_id! };
    });
  }

  /** Every map the object defines. */
  maps(): BtfMapDef[] {
    return this.sectionVars('.maps').map(({ name, typeId }) => {
      const def = this.resolve(typeId);
      const member = (m: string): number | undefined => def.members?.find((x) => x.name === m)?.type_id;
      // __uint(name, n) is `int (*name)[n]`; __type(name, T) is `T *name`.
      const uint = (m: string): number | undefined => {
        const id = member(m);
        return id === undefined ? undefined : this.resolve(this.resolve(id).type_id!).nr_elems;
      };
      const typed = (m: 'key' | 'value'): BtfMapDef['key'] => {
        const ptr = member(m);
        if (ptr !== undefined) return { typeId: this.resolve(ptr).type_id! };
        const size = uint(`${m}_size`);
        return size === undefined ? undefined : { size };
      };
      return { name, mapType: uint('type') ?? -1, maxEntries: uint('max_entries'), key: typed('key'), value: typed('value') };
    });
  }
}
