// The memory breakdown rover logs at a task's end: V8's figures, and the BPF maps it holds counted
// from /proc/self/fdinfo (a real object loaded, its maps counted, then gone once it is closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bpfObjectPath } from '@swlite/bpf';
import { BpfObject } from '@swlite/libbpf-ts';
import { memoryBreakdown } from './self-memory';

test('counts the BPF maps this process holds and their kernel memory', () => {
  const before = memoryBreakdown();
  assert.ok(before.rssMiB > before.heapUsedMiB && before.heapUsedMiB > 0, JSON.stringify(before));
  const obj = BpfObject.open(bpfObjectPath('oncpu'), { logger: null });
  try {
    obj.load();
    const loaded = memoryBreakdown();
    assert.ok(loaded.bpfMaps > before.bpfMaps, `maps ${before.bpfMaps} -> ${loaded.bpfMaps}`);
    assert.ok(loaded.bpfMapsMiB > before.bpfMapsMiB, `MiB ${before.bpfMapsMiB} -> ${loaded.bpfMapsMiB}`);
  } finally {
    obj.close();
  }
  assert.equal(memoryBreakdown().bpfMaps, before.bpfMaps);
});
