import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalFramesJson } from './profiling';
import { StackInterner, stackHash } from './stack-interning';
import type { StackFrame } from './types';

const K = (symbol: string): StackFrame => ({ symbol, stackType: 'KERNEL_SPACE' });
const U = (symbol: string): StackFrame => ({ symbol, stackType: 'USER_SPACE' });

describe('stack interning', () => {
  it('hashes the canonical JSON with sha1', () => {
    const frames = [U('main'), K('sys_read')];
    const json = canonicalFramesJson(frames);
    assert.deepEqual(stackHash(frames), { json, hash: createHash('sha1').update(json).digest('hex') });
  });

  it('keys frame lists injectively: symbol, space and order all count', () => {
    const interner = new StackInterner<number>();
    const lists = [
      [U('a'), U('b')],
      [U('b'), U('a')],
      [K('a'), U('b')],
      [U('a')],
      [U('ab')],
      [],
      [U('a'), U('b'), U('c')],
    ];
    const keys = lists.map((l) => interner.key(l));
    assert.equal(new Set(keys).size, lists.length);
    assert.equal(interner.key([U('a'), U('b')]), keys[0]);
  });

  it('remembers durable ids and forgets everything past a limit', () => {
    const interner = new StackInterner<number>({ stacks: 2, symbols: 100 });
    const a = interner.key([U('a')]);
    const b = interner.key([U('b')]);
    assert.equal(interner.get(a), undefined);
    assert.equal(
      interner.remember(
        new Map([
          [a, 1],
          [b, 2],
        ]),
      ),
      true,
    );
    assert.equal(interner.get(a), 1);
    const c = interner.key([U('c')]);
    assert.equal(interner.remember(new Map([[c, 3]])), false);
    assert.equal(interner.get(a), undefined);
    assert.equal(interner.get(c), undefined);
  });

  it('matches codes against the very frames they were made from', () => {
    const interner = new StackInterner<number>();
    const frames = [U('main'), K('schedule')];
    interner.key(frames);
    const codes = interner.codes(frames);
    assert.equal(interner.matches(codes, [U('main'), K('schedule')]), true);
    assert.equal(interner.matches(codes, [U('main'), U('schedule')]), false);
    assert.equal(interner.matches(codes, [U('main'), K('other')]), false);
    assert.equal(interner.matches(codes, [U('main')]), false);
    interner.reset();
    assert.equal(interner.matches(codes, frames), false);
  });
});
