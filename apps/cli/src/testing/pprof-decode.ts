/** Reads a profile.proto back (the fields the CLI writes), for tests. */
import protobuf from 'protobufjs/minimal.js';
import { gunzipSync } from 'node:zlib';

export interface DecodedProfile {
  sampleType: Array<{ type: string; unit: string }>;
  samples: Array<{ locationIds: number[]; values: number[] }>;
  locations: Map<number, { mappingId: number; functionIds: number[] }>;
  functions: Map<number, { name: string; filename: string }>;
  mappings: Array<{ id: number; filename: string; hasFunctions: boolean }>;
  strings: string[];
  timeNanos: number;
  durationNanos: number;
  comments: string[];
}

type Fields = Map<number, Array<number | Uint8Array>>;

const fields = (bytes: Uint8Array): Fields => {
  const r = protobuf.Reader.create(bytes);
  const out: Fields = new Map();
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    let value: number | Uint8Array;
    if (wire === 0) value = Number(r.int64().toString());
    else if (wire === 2) value = r.bytes();
    else throw new Error(`unexpected wire type ${wire} for field ${field}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
};

/** Repeated integers, packed or not. */
const ints = (f: Fields, n: number): number[] =>
  (f.get(n) ?? []).flatMap((v) => {
    if (typeof v === 'number') return [v];
    const r = protobuf.Reader.create(v);
    const list: number[] = [];
    while (r.pos < r.len) list.push(Number(r.int64().toString()));
    return list;
  });
const int = (f: Fields, n: number): number => (f.get(n)?.[0] as number | undefined) ?? 0;
const messages = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).map((v) => fields(v as Uint8Array));

export const decodeProfile = (gzipped: Buffer): DecodedProfile => {
  const top = fields(gunzipSync(gzipped));
  const strings = (top.get(6) ?? []).map((v) => Buffer.from(v as Uint8Array).toString('utf8'));
  const s = (i: number) => strings[i] ?? `<bad string ${i}>`;
  return {
    strings,
    sampleType: messages(top, 1).map((m) => ({
      type: s(int(m, 1)),
      unit: s(int(m, 2)),
    })),
    samples: messages(top, 2).map((m) => ({
      locationIds: ints(m, 1),
      values: ints(m, 2),
    })),
    mappings: messages(top, 3).map((m) => ({
      id: int(m, 1),
      filename: s(int(m, 5)),
      hasFunctions: int(m, 7) === 1,
    })),
    locations: new Map(
      messages(top, 4).map((m) => [
        int(m, 1),
        {
          mappingId: int(m, 2),
          functionIds: messages(m, 4).map((l) => int(l, 1)),
        },
      ]),
    ),
    functions: new Map(messages(top, 5).map((m) => [int(m, 1), { name: s(int(m, 2)), filename: s(int(m, 4)) }])),
    timeNanos: int(top, 9),
    durationNanos: int(top, 10),
    comments: ints(top, 13).map(s),
  };
};

/** Each sample as "root;…;leaf" → value, for comparing with folded stacks. */
export const profileStacks = (p: DecodedProfile): Map<string, number> => {
  const stacks = new Map<string, number>();
  for (const sample of p.samples) {
    const names = sample.locationIds.map((id) => p.functions.get(p.locations.get(id)!.functionIds[0]!)!.name).reverse();
    const key = names.join(';');
    stacks.set(key, (stacks.get(key) ?? 0) + sample.values[0]!);
  }
  return stacks;
};
