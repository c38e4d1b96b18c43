import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BPF_NOEXIST,
  BpfError,
  BpfObject,
  MapType,
  destroyAll,
  destroyAllInBackground,
  errnoName,
  hintFor,
  liveResources,
  onlineCpus,
  parseCpuList,
  setLibbpfLogger,
  stderrLogger,
  type LibbpfLogLevel,
  type RingBufferOptions,
} from './index.js';
import { bpfTestSkip, compileBpf, tempDir } from './testing.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-fixtures');
const skip = bpfTestSkip();

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: bigint | number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

function expectBpfError(fn: () => unknown, check: (e: BpfError) => void): BpfError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BpfError, `expected BpfError, got ${String(e)}`);
    check(e);
    return e;
  }
  assert.fail('expected a BpfError');
}

describe('pure helpers', () => {
  it('parses kernel CPU lists', () => {
    assert.deepEqual(parseCpuList('0-3,5,7-8\n'), [0, 1, 2, 3, 5, 7, 8]);
    assert.deepEqual(parseCpuList('0'), [0]);
    assert.throws(() => parseCpuList('a-b'));
    assert.ok(onlineCpus().length >= 1);
  });
  it('names errnos and gives hints', () => {
    assert.equal(errnoName(1), 'EPERM');
    assert.equal(errnoName(524), 'ENOTSUPP');
    assert.match(hintFor('bpf_object__load', 1), /root or CAP_BPF\+CAP_PERFMON/);
    assert.match(hintFor('bpf_map_update_elem', 7), /map full/);
    assert.match(hintFor('bpf_program__attach_tracepoint', 2), /tracefs not mounted/);
  });
});

describe('BpfObject.open errors', () => {
  it('a missing file is a BpfError with ENOENT and a hint', () => {
    expectBpfError(
      () => BpfObject.open('/nonexistent/x.bpf.o'),
      (e) => {
        assert.equal(e.code, 'ENOENT');
        assert.equal(e.errno, 2);
        assert.equal(e.op, 'bpf_object__open_file');
        assert.match(e.hint, /no such BPF object file/);
      },
    );
  });
  it('a non-ELF file is a BpfError', () => {
    const p = join(tempDir(), 'junk.o');
    writeFileSync(p, 'not an elf');
    expectBpfError(
      () => BpfObject.open(p, { logger: null }),
      (e) => {
        assert.equal(e.op, 'bpf_object__open_file');
        assert.match(e.hint, /not a valid BPF ELF/);
      },
    );
  });
});

describe('tiny object in the kernel', { skip }, () => {
  let dir: string;
  let tinyPath: string;
  let obj: BpfObject;

  before(() => {
    dir = tempDir();
    tinyPath = compileBpf(join(fixtures, 'tiny.bpf.c'), dir);
    obj = BpfObject.open(tinyPath, { rodata: { target_tgid: process.pid, magic: 0x1122334455667788n, flag: true } });
    assert.deepEqual(
      obj.globals().map((g) => [g.name, g.size]),
      [
        ['target_tgid', 4],
        ['magic', 8],
        ['flag', 1],
      ],
    );
    obj.load();
  });
  after(() => obj?.close());

  it('exposes programs and maps with their info', () => {
    assert.deepEqual(obj.programs.map((p) => p.name).sort(), ['on_getppid', 'on_sample', 'on_uprobe']);
    const h = obj.map('h');
    assert.equal(h.type, MapType.HASH);
    assert.deepEqual([h.keySize, h.valueSize, h.maxEntries], [4, 8, 4]);
    assert.equal(obj.map('stacks').info.typeName, 'STACK_TRACE');
    assert.equal(obj.map('.rodata').valueSize, 17); // u32, pad, u64, u8
    expectBpfError(
      () => obj.map('nope'),
      (e) => assert.equal(e.code, 'ENOENT'),
    );
    expectBpfError(
      () => obj.setRodata({ magic: 1 }),
      (e) => assert.match(e.message, /frozen after load/),
    );
  });

  it('hash map update/lookup/delete/keys, map full, batch and lookup-and-delete batch', () => {
    const h = obj.map('h');
    for (let i = 1; i <= 4; i++) h.update(u32(i), u64(i * 10));
    assert.equal(h.lookup(u32(3))?.readBigUInt64LE(0), 30n);
    assert.equal(h.lookup(u32(99)), null);
    expectBpfError(
      () => h.update(u32(5), u64(50)),
      (e) => {
        assert.equal(e.code, 'E2BIG');
        assert.match(e.hint, /map full/);
      },
    );
    expectBpfError(
      () => h.update(u32(1), u64(1), BPF_NOEXIST),
      (e) => assert.equal(e.code, 'EEXIST'),
    );
    expectBpfError(
      () => h.lookup(Buffer.alloc(3)),
      (e) => assert.match(e.message, /key is 3 bytes/),
    );
    assert.deepEqual([...h.keys()].map((k) => k.readUInt32LE(0)).sort(), [1, 2, 3, 4]);
    assert.equal(h.delete(u32(4)), true);
    assert.equal(h.delete(u32(4)), false);

    const snap = h.lookupBatch();
    assert.equal(snap.count, 3);
    assert.equal(snap.batched, true);
    const got = new Map<number, bigint>();
    for (let i = 0; i < snap.count; i++) got.set(snap.keys.readUInt32LE(i * 4), snap.values.readBigUInt64LE(i * 8));
    assert.deepEqual(
      [...got.entries()].sort((a, b) => a[0] - b[0]),
      [
        [1, 10n],
        [2, 20n],
        [3, 30n],
      ],
    );
    const drained = h.lookupAndDeleteBatch();
    assert.equal(drained.count, 3);
    assert.equal([...h.keys()].length, 0);
    assert.equal(h.lookupAndDeleteBatch().count, 0);
  });

  it('array map batch, per-CPU values, stack map fallback to iteration', () => {
    const a = obj.map('arr');
    a.update(u32(2), u64(7));
    const r = a.lookupBatch();
    assert.equal(r.count, 4);
    assert.equal(r.values.readBigUInt64LE(2 * 8), 7n);
    const pc = obj.map('pc');
    assert.equal(pc.isPerCpu, true);
    pc.update(u32(1), u64(5)); // one value copied to every CPU
    const per = pc.lookupPerCpu(u32(1));
    assert.ok(per && per.length >= onlineCpus().length);
    assert.ok(per.every((b) => b.readBigUInt64LE(0) === 5n));
    const st = obj.map('stacks');
    const s = st.lookupAndDeleteBatch(); // STACK_TRACE has no batch ops: iterate + delete
    assert.equal(s.batched, false);
    assert.equal(st.stackTrace(12345), null);
  });

  it('tracepoint attach: events reach maps, the ring buffer and the stack map', async () => {
    const arr = obj.map('arr');
    arr.update(u32(0), u64(0));
    const records: Buffer[] = [];
    const rb = obj.ringBuffer('rb', (r) => records.push(r), { intervalMs: 5 });
    const link = obj.program('on_getppid').attachTracepoint('syscalls', 'sys_enter_getppid');
    for (let i = 0; i < 10; i++) void process.ppid;
    await new Promise((r) => setTimeout(r, 50));
    link.destroy();
    link.destroy(); // idempotent
    for (let i = 0; i < 5; i++) void process.ppid; // detached: not counted
    rb.poll();
    rb.close();
    const n = arr.lookup(u32(0))?.readBigUInt64LE(0);
    assert.equal(n, 10n);
    assert.equal(records.length, 10);
    const first = records[0]!;
    assert.equal(first.readUInt32LE(0), process.pid);
    assert.equal(first.readBigUInt64LE(8), 0x1122334455667788n);
    const stackId = first.readInt32LE(4);
    assert.ok(stackId >= 0, `stack id ${stackId}`);
    const frames = obj.map('stacks').stackTrace(stackId);
    assert.ok(frames && frames.length >= 1 && frames.every((a) => a !== 0n));
  });

  it('ring buffer drainer: records move out of the kernel ring while the event loop is blocked, up to its bound', () => {
    const link = obj.program('on_getppid').attachTracepoint('syscalls', 'sys_enter_getppid');
    // The 64 KiB ring holds about 2,700 of these records: 3 x 2,000 made while the event loop
    // never polls (blocked, as by a long unwind) overflow it unless something drains it.
    const blockedBursts = () => {
      for (let b = 0; b < 3; b++) {
        for (let i = 0; i < 2000; i++) void process.ppid;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    };
    const run = (opts: RingBufferOptions): number => {
      let n = 0;
      const rb = obj.ringBuffer(
        'rb',
        (r) => {
          assert.equal(r.readBigUInt64LE(8), 0x1122334455667788n);
          n++;
        },
        { intervalMs: 0, ...opts },
      );
      try {
        blockedBursts();
        rb.poll();
        return n;
      } finally {
        rb.close();
      }
    };
    try {
      const plain = run({ borrow: true });
      const drained = run({
        borrow: true,
        arenaBytes: 64,
        arenaRecords: 100,
        drainer: { maxBytes: 1 << 20, intervalMs: 2 },
      });
      const copies = run({ drainer: { maxBytes: 1 << 20, intervalMs: 2 } });
      // About 100 records of 16 bytes: the drainer stops there and the ring fills as before.
      const bounded = run({ borrow: true, drainer: { maxBytes: 1600, intervalMs: 2 } });
      console.log(
        `ring drainer: ${plain} of 6000 without, ${drained} with (borrowed), ${copies} (copies), ${bounded} bounded to 1,600 bytes`,
      );
      assert.ok(plain < 6000, `without a drainer the ring overflows (${plain})`);
      assert.equal(drained, 6000);
      assert.equal(copies, 6000);
      assert.ok(bounded < 6000 && bounded > plain, `bounded: ${bounded}`);
    } finally {
      link.destroy();
    }
  });

  it('ring buffer in borrow mode: the same records as copies, across a growing arena, full span lists and a per-poll limit', async () => {
    const link = obj.program('on_getppid').attachTracepoint('syscalls', 'sys_enter_getppid');
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) void process.ppid;
      await new Promise((r) => setTimeout(r, 20));
    };
    try {
      // An arena smaller than one record (it must grow) and room for 100 records per native call.
      const seen: Buffer[] = [];
      const rb = obj.ringBuffer('rb', (r) => seen.push(Buffer.from(r)), {
        intervalMs: 0,
        borrow: true,
        arenaBytes: 8,
        arenaRecords: 100,
      });
      await burst(1500);
      assert.equal(rb.poll(), 1500);
      assert.equal(seen.length, 1500);
      for (const r of seen) {
        assert.equal(r.length, 16);
        assert.equal(r.readUInt32LE(0), process.pid);
        assert.equal(r.readBigUInt64LE(8), 0x1122334455667788n);
      }
      // The limit stops a poll; the rest waits in the ring for the next one.
      const limited = obj.ringBuffer('rb', () => undefined, { intervalMs: 0, borrow: true, maxRecordsPerPoll: 300 });
      rb.close();
      await burst(500);
      assert.equal(limited.poll(), 300);
      assert.equal(limited.poll(), 200);
      assert.equal(limited.poll(), 0);
      limited.close();
      assert.equal(limited.poll(), 0, 'closed: nothing');
    } finally {
      link.destroy();
    }
  });

  it('non-existent tracepoint: BpfError ENOENT with the tracefs hint', () => {
    expectBpfError(
      () => obj.program('on_getppid').attachTracepoint('nosuchcategory', 'nosuchevent'),
      (e) => {
        assert.equal(e.code, 'ENOENT');
        assert.match(e.hint, /tracefs not mounted or tracepoint missing/);
      },
    );
  });

  it('destroyAll detaches many links in one call, on parallel threads: every program stops', () => {
    const arr = obj.map('arr');
    arr.update(u32(0), u64(0));
    // One program on 16 syscalls this process does not otherwise make (a program attaches to a
    // tracepoint once), and a perf event per CPU.
    const syscalls = ['getppid', 'getpgrp', 'getsid', 'getpgid', 'getresuid', 'getresgid', 'getgroups', 'sysinfo'];
    syscalls.push('times', 'getitimer', 'getpriority', 'sched_getscheduler', 'sched_getparam', 'sched_getattr');
    syscalls.push('sched_get_priority_max', 'sched_get_priority_min');
    const links = syscalls.map((sc) => obj.program('on_getppid').attachTracepoint('syscalls', `sys_enter_${sc}`));
    const group = obj.program('on_sample').attachPerfEventAllCpus({ frequency: 99 });
    const count = (): bigint | undefined => arr.lookup(u32(0))?.readBigUInt64LE(0);
    void process.ppid;
    assert.ok(count()! >= 1n, 'attached: getppid counted');
    const live = liveResources().links;
    const one = obj.program('on_getppid').attachTracepoint('syscalls', 'sys_enter_getuid');
    let t = process.hrtime.bigint();
    one.destroy();
    const oneMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    destroyAll([...links, group, links[0]!]); // a repeat is skipped
    const allMs = Number(process.hrtime.bigint() - t) / 1e6;
    assert.equal(liveResources().links, live - 16 - group.links.length);
    assert.ok(links.every((l) => l.destroyed) && group.destroyed);
    const after = count();
    for (let i = 0; i < 3; i++) void process.ppid;
    assert.equal(count(), after, 'no program runs after destroyAll');
    // Not a speed assertion: the figures show the overlap (one link's grace period against all of them).
    console.log(
      `destroyAll: ${links.length + group.links.length} links in ${allMs.toFixed(1)} ms; one link alone ${oneMs.toFixed(1)} ms`,
    );
  });

  it('destroyAllInBackground takes the links out at once and detaches them on a thread', async () => {
    const arr = obj.map('arr');
    const count = (): bigint | undefined => arr.lookup(u32(0))?.readBigUInt64LE(0);
    const syscalls = ['getppid', 'getpgrp', 'getsid', 'getpgid', 'getresuid', 'getresgid', 'getgroups', 'sysinfo'];
    const links = syscalls.map((sc) => obj.program('on_getppid').attachTracepoint('syscalls', `sys_enter_${sc}`));
    const live = liveResources().links;
    const t = process.hrtime.bigint();
    const detached = destroyAllInBackground(links);
    const returnMs = Number(process.hrtime.bigint() - t) / 1e6;
    assert.equal(liveResources().links, live - links.length, 'out of the table before the promise resolves');
    assert.ok(links.every((l) => l.destroyed));
    await detached;
    const doneMs = Number(process.hrtime.bigint() - t) / 1e6;
    const after = count();
    for (let i = 0; i < 3; i++) void process.ppid;
    assert.equal(count(), after, 'no program runs once the promise resolved');
    await destroyAllInBackground(links); // nothing left: resolves at once
    console.log(
      `destroyAllInBackground: returned after ${returnMs.toFixed(1)} ms, ${links.length} links detached after ${doneMs.toFixed(1)} ms`,
    );
  });

  it('uprobe on libc getppid, by function name, for this pid', async () => {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libc = /\s(\/\S*libc\.so\.6)$/m.exec(maps)?.[1] ?? /\s(\/\S*libc[-.]\S*\.so\S*)$/m.exec(maps)?.[1];
    assert.ok(libc, 'libc path');
    const arr = obj.map('arr');
    arr.update(u32(1), u64(0));
    const link = obj.program('on_uprobe').attachUprobe({ binaryPath: libc, funcName: 'getppid', pid: process.pid });
    for (let i = 0; i < 3; i++) void process.ppid;
    link.destroy();
    assert.equal(arr.lookup(u32(1))?.readBigUInt64LE(0), 3n);
  });

  it('perf_event attach on every online CPU', () => {
    const g = obj.program('on_sample').attachPerfEventAllCpus({ frequency: 99 });
    assert.equal(g.links.length, onlineCpus().length);
    g.destroy();
    assert.equal(g.destroyed, true);
  });

  it('missing kernel BTF for a CO-RE object: BpfError with the BTF hint', () => {
    const core = compileBpf(join(fixtures, 'core.bpf.c'), dir);
    expectBpfError(
      () => BpfObject.openAndLoad(core, { btfCustomPath: '/nonexistent/vmlinux', logger: null }),
      (e) => {
        assert.equal(e.op, 'bpf_object__load');
        assert.match(e.hint, /BTF/);
        assert.match(e.log, /BTF/);
      },
    );
    assert.match(hintFor('bpf_object__load', 2, 'libbpf: failed to find valid kernel BTF\n'), /kernel has no BTF at/);
    BpfObject.openAndLoad(core).close(); // with the real kernel BTF it loads
  });

  it('close() twice is safe; use after close throws EBADF', () => {
    const o = BpfObject.openAndLoad(tinyPath);
    const m = o.map('h');
    o.program('on_sample').attachPerfEvent({ cpu: 0, period: 10_000_000 });
    const before = liveResources();
    o.close();
    o.close();
    const afterClose = liveResources();
    assert.equal(afterClose.objects, before.objects - 1);
    assert.equal(afterClose.links, before.links - 1);
    expectBpfError(
      () => m.lookup(u32(1)),
      (e) => assert.equal(e.code, 'EBADF'),
    );
  });

  it('verifier rejection: BpfError with the verifier log, routed through the logger', () => {
    const bad = compileBpf(join(fixtures, 'bad.bpf.c'), dir);
    const lines: Array<[LibbpfLogLevel, string]> = [];
    setLibbpfLogger((level, text) => lines.push([level, text]));
    try {
      expectBpfError(
        () => BpfObject.openAndLoad(bad),
        (e) => {
          assert.equal(e.op, 'bpf_object__load');
          assert.match(e.hint, /verifier rejected/);
          assert.match(e.verifierLog, /invalid mem access|R\d+ invalid/);
        },
      );
    } finally {
      setLibbpfLogger(stderrLogger);
    }
    assert.ok(lines.some(([l, t]) => l === 'warn' && /BEGIN PROG LOAD LOG/.test(t)));
  });
});

describe('releaseFreeMemory', () => {
  it('gives free malloc pages back: a fragmented heap shrinks in RSS', () => {
    // In a child with --expose-gc: 64 MiB of 16 KiB buffers (below glibc's mmap threshold, so in
    // its heap) under one that stays, then freed: the free pages stay resident until trimmed.
    const child = join(tempDir(), 'trim.mjs');
    writeFileSync(
      child,
      `import { readFileSync } from 'node:fs';
      const { releaseFreeMemory } = await import(${JSON.stringify(join(dirname(fileURLToPath(import.meta.url)), 'index.ts'))});
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      let keep = [];
      for (let i = 0; i < 4096; i++) keep.push(Buffer.allocUnsafeSlow(16 << 10).fill(1));
      const pin = Buffer.allocUnsafeSlow(16 << 10).fill(1);
      keep = null;
      gc();
      await new Promise((r) => setTimeout(r, 100));
      gc();
      const before = rss();
      const released = releaseFreeMemory();
      console.log(JSON.stringify({ before, after: rss(), released, pin: pin.length }));
      `,
    );
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', child], { encoding: 'utf8' });
    const { before, after, released } = JSON.parse(out.trim().split('\n').pop()!) as {
      before: number;
      after: number;
      released: boolean;
    };
    console.log(`# RSS ${before} kB -> ${after} kB after releaseFreeMemory`);
    assert.equal(released, true);
    assert.ok(before - after > 32 * 1024, `RSS ${before} -> ${after} kB: at least 32 MiB of the 64 returned`);
  });
});
