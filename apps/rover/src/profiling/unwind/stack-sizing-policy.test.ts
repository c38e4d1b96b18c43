// StackSizer's decisions from walk reports alone (the kernel side: stack-sizing.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UnwindReach } from '@swlite/symbolizer';
import { StackSizer } from './stack-sizing';

const walk = (end: UnwindReach['end'], used: number, shortAt = -1): UnwindReach => ({ end, used, shortAt });

const sizer = () => {
  const applied: Array<[number, number | undefined]> = [];
  const s = new StackSizer(16384, (t, b) => applied.push([t, b]), { settleWalks: 4 });
  return { s, applied };
};

describe('StackSizer', () => {
  it('cuts a process to its deepest complete walk plus the margin after settleWalks complete walks', () => {
    const { s, applied } = sizer();
    for (let i = 0; i < 3; i++) s.observe(1, 16384, walk('root', 900 + i * 100));
    s.observe(1, 16384, walk('other', 3000)); // not complete, but its bytes count
    assert.deepEqual(applied, []);
    s.observe(1, 16384, walk('frames', 500));
    assert.deepEqual(applied, [[1, 4096]]); // 3000 + 1024, by 256
    assert.equal(s.bytesOf(1), 4096);
    assert.equal(s.bytesOf(2), 16384);
  });

  it('grows ahead when a complete walk comes within the margin, never past the ceiling', () => {
    const { s, applied } = sizer();
    for (let i = 0; i < 4; i++) s.observe(1, 16384, walk('root', 1000));
    s.observe(1, 2048, walk('root', 1800));
    s.observe(1, 3072, walk('root', 16000));
    assert.deepEqual(applied, [
      [1, 2048],
      [1, 3072],
      [1, 16384],
    ]);
  });

  it('returns to the ceiling at once when a walk runs off a cut copy; in-flight snapshots are counted, not acted on', () => {
    const { s, applied } = sizer();
    for (let i = 0; i < 4; i++) s.observe(1, 16384, walk('root', 1000));
    s.observe(1, 2048, walk('short', 2048, 2048));
    s.observe(1, 2048, walk('short', 2048, 2100)); // taken before the growth
    assert.deepEqual(applied, [
      [1, 2048],
      [1, undefined],
    ]);
    assert.equal(s.cutShort, 2);
    assert.equal(s.regrown, 1);
    assert.equal(s.bytesOf(1), 16384);
  });

  it('does not grow for copies cut by the end of the stack, or reads beyond the ceiling', () => {
    const { s, applied } = sizer();
    for (let i = 0; i < 4; i++) s.observe(1, 16384, walk('root', 1000));
    s.observe(1, 1200, walk('short', 1200, 1200)); // the mapping ended before the cut size
    s.observe(1, 2048, walk('short', 100, 1 << 20)); // a stale frame pointer
    s.observe(1, 16384, walk('short', 16384, 16384)); // at the ceiling: as without sizing
    assert.deepEqual(applied, [[1, 2048]]);
  });
});
