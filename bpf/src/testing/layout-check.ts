// Test support: compares what user space knows of an object (objects.ts) with the object's BTF:
// every map (and the layouts user space decodes its keys and values with), ring buffer records,
// counter enums and .rodata knobs. Returns the differences as readable lines; none when in step.
import type { CEnum } from '../c-enum.js';
import type { CStruct, CType, Fields } from '../c-layout.js';
import type { MapSpec, ObjectSpec } from '../objects.js';
import { BPF_MAP_TYPE_RINGBUF, type Btf, type BtfMapDef } from './btf.js';

const isStruct = (t: CType<unknown>): t is CStruct<Fields> => 'members' in t && 'tag' in t;

export class LayoutCheck {
  readonly problems: string[] = [];
  /** Every struct compared (by tag), for the report. */
  readonly structs = new Set<string>();

  constructor(private readonly btf: Btf) {}

  #problem(where: string, text: string): void {
    this.problems.push(`${where}: ${text}`);
  }

  /** A C type (struct, array, scalar) against the BTF type `typeId`. */
  type(ts: CType<unknown>, typeId: number, where: string): void {
    const t = this.btf.resolve(typeId);
    const size = this.btf.sizeOf(typeId);
    if (isStruct(ts)) {
      this.struct(ts, t.id, where);
      return;
    }
    if (size !== ts.size) this.#problem(where, `${ts.cName} is ${ts.size} bytes in TypeScript, ${size} in C`);
    const array = /\[(\d+)\]$/.exec(ts.cName);
    if (array) {
      if (t.kind !== 'ARRAY') this.#problem(where, `${ts.cName} in TypeScript, ${t.kind} ${t.name} in C`);
      return;
    }
    if (t.kind !== 'INT' && t.kind !== 'ENUM') {
      this.#problem(where, `${ts.cName} in TypeScript, ${t.kind} ${t.name} in C`);
      return;
    }
    const signed = t.encoding === 'SIGNED';
    if (t.kind === 'INT' && signed !== ts.cName.startsWith('__s')) {
      this.#problem(where, `${ts.cName} in TypeScript, ${signed ? 'signed' : 'unsigned'} ${t.name} in C`);
    }
  }

  /** A struct description against BTF (by type id, or by its tag when the id is not known). */
  struct(ts: CStruct<Fields>, typeId: number | undefined, where: string): void {
    const t = typeId === undefined ? this.btf.named('STRUCT', ts.tag) : this.btf.resolve(typeId);
    if (!t || t.kind !== 'STRUCT' || t.name !== ts.tag) {
      this.#problem(where, `struct ${ts.tag} in TypeScript, ${t ? `${t.kind} ${t.name}` : 'absent'} in the object's BTF`);
      return;
    }
    this.structs.add(ts.tag);
    if (t.size !== ts.size) this.#problem(where, `struct ${ts.tag} is ${ts.size} bytes in TypeScript, ${t.size} in C`);
    const cMembers = t.members ?? [];
    const names = (xs: readonly { name?: string; cName?: string }[]): string =>
      xs.map((m) => m.cName ?? m.name).join(', ');
    if (names(cMembers) !== names(ts.members)) {
      this.#problem(where, `struct ${ts.tag} members {${names(ts.members)}} in TypeScript, {${names(cMembers)}} in C`);
      return;
    }
    ts.members.forEach((m, i) => {
      const c = cMembers[i]!;
      const at = `${where} ${ts.tag}.${m.cName}`;
      if (c.bitfield_size) this.#problem(at, 'is a bitfield in C');
      if (c.bits_offset !== m.offset * 8) {
        this.#problem(at, `at byte ${m.offset} in TypeScript, ${c.bits_offset / 8} in C`);
      }
      this.type(m.type, c.type_id, at);
    });
  }

  enum(ts: CEnum, where: string): void {
    const t = this.btf.named('ENUM', ts.tag);
    if (!t) {
      this.#problem(where, `enum ${ts.tag} absent from the object's BTF (BTF_KEEP it)`);
      return;
    }
    const c = Object.fromEntries((t.values ?? []).map((v) => [v.name, v.val]));
    const show = (o: Record<string, number>): string =>
      Object.entries(o)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(' ');
    if (show(c) !== show({ ...ts.values })) this.#problem(where, `enum ${ts.tag}: {${show({ ...ts.values })}} in TypeScript, {${show(c)}} in C`);
  }

  #keyOrValue(ts: CType<unknown>, c: BtfMapDef['key'], where: string): void {
    if (!c) this.#problem(where, 'not declared in C');
    else if ('typeId' in c) this.type(ts, c.typeId, where);
    else if (c.size !== ts.size) this.#problem(where, `${ts.cName} is ${ts.size} bytes in TypeScript, ${c.size} in C`);
  }

  #map(spec: MapSpec, def: BtfMapDef, where: string): void {
    if ('key' in spec) {
      this.#keyOrValue(spec.key, def.key, `${where} key`);
      this.#keyOrValue(spec.value, def.value, `${where} value`);
    } else if ('records' in spec) {
      if (def.mapType !== BPF_MAP_TYPE_RINGBUF) this.#problem(where, `a ring buffer in TypeScript, map type ${def.mapType} in C`);
      for (const r of spec.records) this.struct(r, undefined, `${where} record`);
    }
  }

  /** The whole object. */
  object(name: string, spec: ObjectSpec): void {
    const defs = new Map(this.btf.maps().map((d) => [d.name, d]));
    for (const [mapName, mapSpec] of Object.entries(spec.maps)) {
      const def = defs.get(mapName);
      if (def) this.#map(mapSpec, def, `${name} map ${mapName}`);
      else this.#problem(`${name} map ${mapName}`, 'described in TypeScript, absent from the object');
    }
    for (const mapName of defs.keys()) {
      if (!(mapName in spec.maps)) this.#problem(`${name} map ${mapName}`, 'in the object, not described in objects.ts');
    }
    this.enum(spec.counters, `${name} counters`);
    const counters = defs.get('counters')?.maxEntries;
    if (counters !== spec.counters.count) {
      this.#problem(`${name} map counters`, `${spec.counters.count} counters in TypeScript, ${counters} in C`);
    }
    for (const e of spec.enums ?? []) this.enum(e, name);
    const vars = new Map(this.btf.sectionVars('.rodata').map((v) => [v.name, v]));
    for (const [knob, type] of Object.entries(spec.rodata)) {
      const v = vars.get(knob);
      if (v) this.type(type as CType<unknown>, v.typeId, `${name} .rodata ${knob}`);
      else this.#problem(`${name} .rodata ${knob}`, 'described in TypeScript, absent from the object');
    }
    for (const knob of vars.keys()) {
      if (!(knob in spec.rodata)) this.#problem(`${name} .rodata ${knob}`, 'in the object, not described in objects.ts');
    }
  }
}
