// The hand-written TS layouts (layout.ts) must match the structs in include/profiling.h as the
// compiler laid them out: read from the BTF of the built objects with bpftool.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { OFFCPU_INTERVAL, OFFCPU_START, OFFCPU_VALUE, SNAPSHOT_HDR, STACK_KEY, SW_COUNTER_COUNT, SwCounter, PERF_MAX_STACK_DEPTH } from './layout.js';
import { bpfObjectPath } from './paths.js';
import { ensureBpfBuilt } from './testing/workloads.js';

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  members?: Array<{ name: string; bits_offset: number }>;
  values?: Array<{ name: string; val: number }>;
}

function btfTypes(obj: string): BtfType[] {
  const bpftool = ['/usr/sbin/bpftool', 'bpftool'].find((p) => {
    try {
      execFileSync(p, ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(bpftool, 'bpftool not found');
  return (
    JSON.parse(
      execFileSync(bpftool, ['-j', 'btf', 'dump', 'file', obj], { encoding: 'utf8', maxBuffer: 64 << 20 }),
    ) as { types: BtfType[] }
  ).types;
}

function struct(types: BtfType[], name: string): { size: number; offsets: Record<string, number> } {
  const t = types.find((x) => x.kind === 'STRUCT' && x.name === name);
  assert.ok(t, `struct ${name} not in BTF`);
  return { size: t.size!, offsets: Object.fromEntries((t.members ?? []).map((m) => [m.name, m.bits_offset / 8])) };
}

describe('map layouts match the BTF of the built objects', () => {
  before(() => ensureBpfBuilt());

  it('struct stack_key', () => {
    const s = struct(btfTypes(bpfObjectPath('oncpu')), 'stack_key');
    assert.deepEqual(s, {
      size: STACK_KEY.size,
      offsets: { tgid: STACK_KEY.tgid, user_stack_id: STACK_KEY.userStackId, kernel_stack_id: STACK_KEY.kernelStackId },
    });
  });

  it('struct offcpu_value and offcpu_start', () => {
    const types = btfTypes(bpfObjectPath('offcpu'));
    assert.deepEqual(struct(types, 'offcpu_value'), {
      size: OFFCPU_VALUE.size,
      offsets: { count: OFFCPU_VALUE.count, duration_ns: OFFCPU_VALUE.durationNs },
    });
    assert.deepEqual(struct(types, 'offcpu_start'), {
      size: OFFCPU_START.size,
      offsets: {
        ts_ns: OFFCPU_START.tsNs,
        tgid: OFFCPU_START.tgid,
        user_stack_id: OFFCPU_START.userStackId,
        kernel_stack_id: OFFCPU_START.kernelStackId,
        slot: OFFCPU_START.slot,
      },
    });
  });

  it('struct stack_snapshot_hdr and offcpu_interval', () => {
    const types = btfTypes(bpfObjectPath('offcpu_snapshot'));
    assert.deepEqual(struct(types, 'stack_snapshot_hdr'), {
      size: SNAPSHOT_HDR.size,
      offsets: {
        ts_ns: SNAPSHOT_HDR.tsNs,
        tgid: SNAPSHOT_HDR.tgid,
        tid: SNAPSHOT_HDR.tid,
        ip: SNAPSHOT_HDR.ip,
        sp: SNAPSHOT_HDR.sp,
        bp: SNAPSHOT_HDR.bp,
        kernel_stack_len: SNAPSHOT_HDR.kernelStackLen,
        user_stack_len: SNAPSHOT_HDR.userStackLen,
        user_fp_len: SNAPSHOT_HDR.userFpLen,
        reserved: 52,
      },
    });
    assert.deepEqual(struct(types, 'offcpu_interval'), {
      size: OFFCPU_INTERVAL.size,
      offsets: {
        ts_out: OFFCPU_INTERVAL.tsOut,
        tgid: OFFCPU_INTERVAL.tgid,
        tid: OFFCPU_INTERVAL.tid,
        duration_ns: OFFCPU_INTERVAL.durationNs,
      },
    });
  });

  it('enum sw_counter and the stack depth', () => {
    const types = btfTypes(bpfObjectPath('oncpu'));
    const e = types.find((x) => x.kind === 'ENUM' && x.name === 'sw_counter');
    if (e?.values) {
      const byName = Object.fromEntries(e.values.map((v) => [v.name, v.val]));
      assert.equal(byName.SW_CNT_SAMPLES, SwCounter.Samples);
      assert.equal(byName.SW_CNT_AGG_FULL, SwCounter.AggFull);
      assert.equal(byName.SW_CNT_STACK_COLLISION, SwCounter.StackCollision);
      assert.equal(byName.SW_CNT_START_FULL, SwCounter.StartFull);
      assert.equal(byName.SW_CNT_RB_FULL, SwCounter.RingBufferFull);
      assert.equal(byName.SW_CNT_STACK_SECONDARY, SwCounter.StackSecondary);
      assert.equal(byName.SW_CNT_MAX, SW_COUNTER_COUNT);
    }
    assert.equal(
      PERF_MAX_STACK_DEPTH,
      Number(execFileSync('cat', ['/proc/sys/kernel/perf_event_max_stack'], { encoding: 'utf8' }).trim()),
    );
  });
});
