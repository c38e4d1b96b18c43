// C data layouts described once in TypeScript: scalars, byte arrays and structs whose member
// offsets, sizes and alignment are computed with the C rules the BPF target uses (natural
// alignment, size rounded up to the struct's alignment). Decoders and encoders are derived from
// the description, and layout.test.ts compares every description with the compiled object's BTF.

/** A C type: its size and alignment, how to read it from (and write it to) little-endian bytes. */
export interface CType<T> {
  /** The C spelling, for messages and the BTF comparison ("__u32", "char[16]", "struct x"). */
  readonly cName: string;
  readonly size: number;
  readonly align: number;
  read(buf: Buffer, offset: number): T;
  write(buf: Buffer, offset: number, value: T): void;
  /** The Buffer method that reads it, when there is one (struct decoders call it inline). */
  readonly reader?: 'readUInt8' | 'readUInt16LE' | 'readUInt32LE' | 'readInt32LE' | 'readBigUInt64LE';
}

const scalar = <T>(
  cName: string,
  size: number,
  reader: NonNullable<CType<T>['reader']>,
  write: (b: Buffer, o: number, v: T) => void,
): CType<T> => ({ cName, size, align: size, reader, read: (b, o) => b[reader](o) as T, write });

export const u8 = scalar<number>('__u8', 1, 'readUInt8', (b, o, v) => void b.writeUInt8(v, o));
export const u16 = scalar<number>('__u16', 2, 'readUInt16LE', (b, o, v) => void b.writeUInt16LE(v, o));
export const u32 = scalar<number>('__u32', 4, 'readUInt32LE', (b, o, v) => void b.writeUInt32LE(v, o));
export const s32 = scalar<number>('__s32', 4, 'readInt32LE', (b, o, v) => void b.writeInt32LE(v, o));
export const u64 = scalar<bigint>('__u64', 8, 'readBigUInt64LE', (b, o, v) => void b.writeBigUInt64LE(v, o));

/** `__u8 name[n]` / `char name[n]`: read as a view of the buffer (no copy). */
export const bytes = (n: number, element: '__u8' | 'char' = '__u8'): CType<Buffer> => ({
  cName: `${element}[${n}]`,
  size: n,
  align: 1,
  read: (b, o) => b.subarray(o, o + n),
  write: (b, o, v) => {
    if (v.length > n) throw new RangeError(`${element}[${n}]: ${v.length} bytes do not fit`);
    b.fill(0, o, o + n);
    v.copy(b, o);
  },
});

/** `__u16 name[n]` / `__u32 name[n]` / `__u64 name[n]`: read as a plain array (bucket counts). */
export const array = <T>(elem: CType<T>, n: number): CType<T[]> => ({
  cName: `${elem.cName}[${n}]`,
  size: elem.size * n,
  align: elem.align,
  read: (b, o) => Array.from({ length: n }, (_, i) => elem.read(b, o + i * elem.size)),
  write: (b, o, v) => {
    if (v.length !== n) throw new RangeError(`${elem.cName}[${n}]: ${v.length} values given`);
    v.forEach((x, i) => elem.write(b, o + i * elem.size, x));
  },
});

/** `__u8 pad[n]`: explicit padding, zero when encoded, left out when decoded. */
export interface Padding extends CType<undefined> {
  readonly padding: true;
}

export const padding = (n: number): Padding => ({
  cName: `__u8[${n}]`,
  size: n,
  align: 1,
  padding: true,
  read: () => undefined,
  write: (b, o) => void b.fill(0, o, o + n),
});

export type Fields = Record<string, CType<unknown>>;
export type Decoded<F extends Fields> = {
  [K in keyof F as F[K] extends Padding ? never : K]: F[K] extends CType<infer T> ? T : never;
};

export interface Member {
  /** Name in TypeScript (camelCase). */
  readonly key: string;
  /** Name in C (snake_case of key). */
  readonly cName: string;
  readonly offset: number;
  readonly type: CType<unknown>;
}

export interface CStruct<F extends Fields> extends CType<Decoded<F>> {
  /** The struct tag in C (without "struct "). */
  readonly tag: string;
  readonly members: readonly Member[];
  /** Byte offset of each member. */
  readonly offsets: { readonly [K in keyof F]: number };
  /** Decodes at `offset` (default 0); byte-array members are views of `buf`. */
  decode(buf: Buffer, offset?: number): Decoded<F>;
  /** A new buffer of `size` bytes holding `value`. */
  encode(value: Decoded<F>): Buffer;
}

/**
 * The decoder of a struct as one function returning one object literal: records are decoded at
 * ring buffer rates, and a loop assigning members one by one was ten times slower (objects of
 * changing shape, calls through the member types). The source is built from the description only:
 * member names are identifiers checked here, offsets are numbers.
 */
function compileReader(tag: string, members: readonly Member[]): (b: Buffer, o: number) => Record<string, unknown> {
  const calls: Array<(b: Buffer, o: number) => unknown> = [];
  const props = members
    .filter((m) => !('padding' in m.type))
    .map((m) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m.key))
        throw new Error(`struct ${tag}: member name ${m.key} is not an identifier`);
      const at = `o + ${m.offset}`;
      const value = m.type.reader
        ? `b.${m.type.reader}(${at})`
        : `c[${calls.push((b, o) => m.type.read(b, o)) - 1}](b, ${at})`;
      return `${m.key}: ${value}`;
    });
  const make = new Function('c', `return function (b, o) { return { ${props.join(', ')} }; };`) as (
    c: typeof calls,
  ) => (b: Buffer, o: number) => Record<string, unknown>;
  return make(calls);
}

/** userStackId -> user_stack_id */
export const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * `struct tag { ... }` with members in declaration order; member C names are the snake_case of
 * the keys. Padding is never implicit in our shared structs: write it as a member (`pad: padding(6)`).
 */
export function cStruct<const F extends Fields>(tag: string, fields: F): CStruct<F> {
  const members: Member[] = [];
  let offset = 0;
  let align = 1;
  for (const [key, type] of Object.entries(fields)) {
    offset = Math.ceil(offset / type.align) * type.align;
    members.push({ key, cName: snakeCase(key), offset, type });
    offset += type.size;
    align = Math.max(align, type.align);
  }
  const size = Math.ceil(offset / align) * align;
  const offsets = Object.fromEntries(members.map((m) => [m.key, m.offset])) as { [K in keyof F]: number };
  const readMembers = compileReader(tag, members);
  const read = (buf: Buffer, base = 0): Decoded<F> => {
    if (base + size > buf.length) {
      throw new RangeError(`struct ${tag} (${size} bytes) at ${base} overruns a ${buf.length}-byte buffer`);
    }
    return readMembers(buf, base) as Decoded<F>;
  };
  const write = (buf: Buffer, base: number, value: Decoded<F>): void => {
    for (const m of members) m.type.write(buf, base + m.offset, (value as Record<string, unknown>)[m.key]);
  };
  return {
    cName: `struct ${tag}`,
    tag,
    size,
    align,
    members,
    offsets,
    read,
    write,
    decode: read,
    encode: (value) => {
      const b = Buffer.alloc(size);
      write(b, 0, value);
      return b;
    },
  };
}
