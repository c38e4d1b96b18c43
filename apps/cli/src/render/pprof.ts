/**
 * Flame graph → pprof (gzipped profile.proto), readable by `go tool pprof` and speedscope.
 * The few messages are written field by field with protobufjs's Writer (field numbers from
 * github.com/google/pprof/proto/profile.proto).
 */
import protobuf from 'protobufjs/minimal.js';
import { gzipSync } from 'node:zlib';
import { walk } from './tree';
import type { FlameNode, FrameKind, ValueUnit } from './types';

export interface PprofOptions {
  unit?: ValueUnit;
  /** Profile start, epoch milliseconds. */
  startTimeMs?: number;
  /** Length of the profiled window in milliseconds. */
  durationMs?: number;
  /** Free-text comments stored in the profile (task ID, service...). */
  comments?: string[];
  /** File name of the user-space mapping, shown by pprof as "File:" (default "[user]"). */
  binaryName?: string;
}

const LEN = 2;
const VARINT = 0;
const tag = (field: number, wire: number) => (field << 3) | wire;

class StringTable {
  readonly strings: string[] = [''];
  private readonly index = new Map<string, number>([['', 0]]);
  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** Writes varint fields of one embedded message, skipping zeros as proto3 does. */
const message = (w: protobuf.Writer, field: number, body: (w: protobuf.Writer) => void): void => {
  w.uint32(tag(field, LEN)).fork();
  body(w);
  w.ldelim();
};
const int = (w: protobuf.Writer, field: number, value: number): void => {
  if (value !== 0) w.uint32(tag(field, VARINT)).int64(value);
};
const packed = (w: protobuf.Writer, field: number, values: number[]): void => {
  if (!values.length) return;
  w.uint32(tag(field, LEN)).fork();
  for (const v of values) w.int64(v);
  w.ldelim();
};

export const KERNEL_MAPPING_FILE = '[kernel.kallsyms]';

/** The uncompressed profile.proto bytes. */
export const encodeProfile = (root: FlameNode, options: PprofOptions = {}): Uint8Array => {
  const unit = options.unit ?? 'samples';
  const strings = new StringTable();
  const [typeName, unitName] = unit === 'nanoseconds' ? ['off-cpu', 'nanoseconds'] : ['samples', 'count'];
  const sampleType = {
    type: strings.id(typeName!),
    unit: strings.id(unitName!),
  };

  // One function and one location per distinct (symbol, kind).
  const locations = new Map<string, { id: number; name: number; kind: FrameKind }>();
  const locationOf = (node: FlameNode): number => {
    const key = `${node.kind}\u0000${node.name}`;
    let loc = locations.get(key);
    if (!loc)
      locations.set(
        key,
        (loc = {
          id: locations.size + 1,
          name: strings.id(node.name || '[unknown]'),
          kind: node.kind,
        }),
      );
    return loc.id;
  };
  const samples: Array<{ locations: number[]; value: number }> = [];
  walk(root, (node, path) => {
    if (node.self <= 0) return;
    // pprof lists a sample's locations leaf first.
    samples.push({
      locations: path.map(locationOf).reverse(),
      value: node.self,
    });
  });
  const userFile = strings.id(options.binaryName || '[user]');
  const kernelFile = strings.id(KERNEL_MAPPING_FILE);
  const comments = (options.comments ?? []).map((c) => strings.id(c));

  const w = protobuf.Writer.create();
  message(w, 1, (m) => (int(m, 1, sampleType.type), int(m, 2, sampleType.unit)));
  for (const s of samples) {
    message(w, 2, (m) => {
      packed(m, 1, s.locations);
      packed(m, 2, [s.value]);
    });
  }
  // Mapping 1: user space, 2: kernel. has_functions tells pprof not to symbolize again.
  for (const [id, file] of [
    [1, userFile],
    [2, kernelFile],
  ] as const) {
    message(w, 3, (m) => {
      int(m, 1, id);
      int(m, 5, file);
      m.uint32(tag(7, VARINT)).bool(true);
    });
  }
  for (const loc of locations.values()) {
    message(w, 4, (m) => {
      int(m, 1, loc.id);
      int(m, 2, loc.kind === 'kernel' ? 2 : 1);
      message(m, 4, (line) => int(line, 1, loc.id));
    });
  }
  for (const loc of locations.values()) {
    message(w, 5, (m) => {
      int(m, 1, loc.id);
      int(m, 2, loc.name);
      int(m, 3, loc.name);
      if (loc.kind === 'kernel') int(m, 4, kernelFile);
    });
  }
  for (const s of strings.strings) w.uint32(tag(6, LEN)).string(s);
  if (options.startTimeMs) int(w, 9, options.startTimeMs * 1e6);
  if (options.durationMs) int(w, 10, options.durationMs * 1e6);
  message(w, 11, (m) => (int(m, 1, sampleType.type), int(m, 2, sampleType.unit)));
  int(w, 12, 1);
  packed(w, 13, comments);
  return w.finish();
};

/** The gzipped profile, as `go tool pprof` and speedscope read it. */
export const treeToPprof = (root: FlameNode, options: PprofOptions = {}): Buffer => gzipSync(encodeProfile(root, options));
