// Every layout that crosses the kernel boundary (map keys and values, ring buffer records,
// counter enums, .rodata knobs) as user space describes it (objects.ts, layout.ts, http-layout.ts)
// must be what the compiler laid out: read from the BTF of each built object.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bytes, cStruct, padding, s32, u32, u64, u8 } from './c-layout.js';
import { cEnum } from './c-enum.js';
import { OBJECTS, type BpfProgramName, type ObjectSpec } from './objects.js';
import { decodeHttpRecord, HTTP_EVENT, HTTP_STATUS_EVENT } from './http-layout.js';
import { PERF_MAX_STACK_DEPTH, SNAP_HISTORY } from './layout.js';
import { bpfObjectPath } from './paths.js';
import { Btf } from './testing/btf.js';
import { LayoutCheck } from './testing/layout-check.js';
import { ensureBpfBuilt } from './testing/workloads.js';

describe('C layouts computed from descriptions', () => {
  it('natural alignment, trailing padding, nested structs', () => {
    const inner = cStruct('inner', { a: u8, b: u32 });
    assert.deepEqual([inner.offsets, inner.size, inner.align], [{ a: 0, b: 4 }, 8, 4]);
    const outer = cStruct('outer', { flag: u8, inner, big: u64, tail: bytes(3) });
    assert.deepEqual([outer.offsets, outer.size], [{ flag: 0, inner: 4, big: 16, tail: 24 }, 32]);
    assert.deepEqual(
      outer.members.map((m) => m.cName),
      ['flag', 'inner', 'big', 'tail'],
    );
  });

  it('decode(encode(x)) is x; member names are the snake_case of the keys', () => {
    const s = cStruct('s', { userStackId: s32, pad: padding(4), tsNs: u64, raw: bytes(4) });
    const v = { userStackId: -7, tsNs: 1n << 60n, raw: Buffer.from([1, 2, 3, 4]) };
    assert.deepEqual(s.decode(s.encode(v)), v);
    assert.deepEqual(
      s.members.map((m) => [m.cName, m.offset]),
      [
        ['user_stack_id', 0],
        ['pad', 4],
        ['ts_ns', 8],
        ['raw', 16],
      ],
    );
    assert.throws(() => s.decode(Buffer.alloc(s.size - 1)), /overruns/);
  });

  it('enums: C names from the TypeScript names, MAX is the count', () => {
    enum E {
      First = 0,
      RingBufferFull = 1,
    }
    assert.deepEqual(cEnum('e', 'E_', E), {
      tag: 'e',
      values: { E_FIRST: 0, E_RING_BUFFER_FULL: 1, E_MAX: 2 },
      count: 2,
    });
  });

  it('HTTP records decode through the description (header, then captured bytes)', () => {
    const text = 'HTTP/1.1 503 Busy';
    const rec = Buffer.alloc(HTTP_STATUS_EVENT.size);
    HTTP_STATUS_EVENT.write(rec, 0, {
      hdr: { tsNs: 42n, tgid: 7, tid: 8, fd: 9, size: 100, dir: 1, captured: 16 },
      data: Buffer.from(text.slice(0, 16)),
    });
    assert.deepEqual(decodeHttpRecord(rec), {
      tsNs: 42n,
      tgid: 7,
      tid: 8,
      fd: 9,
      size: 100,
      direction: 'write',
      data: Buffer.from(text.slice(0, 16)),
    });
    const bad = Buffer.alloc(HTTP_EVENT.size);
    bad.writeUInt8(255, HTTP_EVENT.offsets.hdr + 25);
    assert.equal(decodeHttpRecord(bad).data.length, 255);
    assert.throws(() => decodeHttpRecord(bad.subarray(0, 40)), /cannot hold 255/);
  });
});

describe('every struct crossing the kernel boundary matches the BTF of the built objects', () => {
  before(() => ensureBpfBuilt());
  const checked = new Set<string>();

  for (const name of Object.keys(OBJECTS) as BpfProgramName[]) {
    it(`${name}.bpf.o: maps, ring records, counters, .rodata`, () => {
      const check = new LayoutCheck(Btf.ofObject(bpfObjectPath(name)));
      check.object(name, OBJECTS[name]);
      for (const s of check.structs) checked.add(s);
      assert.deepEqual(check.problems, [], `${name}.bpf.o and src/objects.ts disagree:\n${check.problems.join('\n')}`);
    });
  }

  it('a description that disagrees with the object is reported', () => {
    // stack_key with the stack ids swapped, a knob of the wrong size, a map the object lacks.
    const swapped = cStruct('stack_key', { tgid: u32, kernelStackId: s32, userStackId: s32 });
    const spec: ObjectSpec = {
      ...OBJECTS.oncpu,
      maps: { ...OBJECTS.oncpu.maps, counts_0: { key: swapped, value: u64 }, ghost: { internal: 'not there' } },
      rodata: { ...OBJECTS.oncpu.rodata, collect_user: u32 },
    };
    const check = new LayoutCheck(Btf.ofObject(bpfObjectPath('oncpu')));
    check.object('oncpu', spec);
    assert.deepEqual(check.problems, [
      'oncpu map counts_0 key: struct stack_key members {tgid, kernel_stack_id, user_stack_id} in TypeScript, {tgid, user_stack_id, kernel_stack_id} in C',
      'oncpu map ghost: described in TypeScript, absent from the object',
      'oncpu .rodata collect_user: __u32 is 4 bytes in TypeScript, 1 in C',
    ]);
  });

  it('covers every shared struct, and the stack depth is the kernel limit', () => {
    console.log(`structs checked against BTF: ${[...checked].sort().join(', ')}`);
    assert.deepEqual([...checked].sort(), [
      'http_event',
      'http_record_hdr',
      'http_status_event',
      'net_buckets',
      'net_config',
      'net_conn_event',
      'net_conn_key',
      'net_conn_stats',
      'net_data_event',
      'net_http_key',
      'net_http_stats',
      'net_record_hdr',
      'net_skip',
      'offcpu_snap_key',
      'offcpu_start',
      'offcpu_value',
      'py_code',
      'py_code_key',
      'py_frame',
      'py_offsets',
      'py_proc',
      'snap_start',
      'stack_key',
      'stack_snapshot_hdr',
    ]);
    assert.equal(PERF_MAX_STACK_DEPTH, Number(readFileSync('/proc/sys/kernel/perf_event_max_stack', 'utf8').trim()));
    // A #define leaves no BTF: read it from the header the programs include.
    const header = readFileSync(new URL('../include/profiling.h', import.meta.url), 'utf8');
    assert.equal(Number(/#define SNAP_HISTORY (\d+)/.exec(header)?.[1]), SNAP_HISTORY);
  });
});
