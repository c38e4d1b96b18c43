// Unit tests of the parsers and tables on synthetic inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteLru, PerfMap, SymbolTable, cleanElfName, crc32, demangle, demangleMany, findMapping, parseKallsyms, parsePerfMap, parseProcMaps } from '../index.js';
import { legacyRust } from '../demangle.js';
import { tempDir } from './fixtures.js';

test('parseProcMaps: paths, deleted files, pseudo-names, anonymous', () => {
  const text = [
    '55d0c0a00000-55d0c0a22000 r--p 00000000 08:01 1234  /usr/bin/app',
    '55d0c0a22000-55d0c0b00000 r-xp 00022000 08:01 1234  /usr/bin/app',
    '7f0000000000-7f0000001000 r-xp 00001000 08:01 99 /tmp/x y (deleted)',
    '7f0000002000-7f0000003000 rwxp 00000000 00:00 0 ',
    '7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]',
    'garbage',
  ].join('\n');
  const m = parseProcMaps(text);
  assert.equal(m.length, 5);
  assert.deepEqual(
    [m[1]!.start, m[1]!.end, m[1]!.perms, m[1]!.offset, m[1]!.inode, m[1]!.path, m[1]!.deleted],
    [0x55d0c0a22000n, 0x55d0c0b00000n, 'r-xp', 0x22000n, 1234, '/usr/bin/app', false],
  );
  assert.deepEqual([m[2]!.path, m[2]!.deleted], ['/tmp/x y', true]);
  assert.equal(m[3]!.path, '');
  assert.equal(m[4]!.path, '[vdso]');
  assert.equal(findMapping(m.slice(0, 3), 0x55d0c0a22010n), m[1]);
  assert.equal(findMapping(m.slice(0, 3), 0x55d0c0b00000n), undefined);
});

function table(entries: [number, number, string][], limit?: number): SymbolTable {
  const n = entries.length;
  return SymbolTable.build(
    0x1000n,
    {
      starts: Float64Array.from(entries.map((e) => e[0])),
      sizes: Float64Array.from(entries.map((e) => e[1])),
      names: Float64Array.from(entries.map((_, i) => i)),
    },
    { kind: 'strings', names: entries.map((e) => e[2]) },
    limit,
  );
  void n;
}

test('SymbolTable: sized hits, gaps, size-0 nearest preceding, duplicates', () => {
  const t = table(
    [
      [0x300, 0x10, 'c'],
      [0x100, 0x20, 'a'],
      [0x100, 0, 'a_alias_nosize'],
      [0x200, 0, 'b_nosize'],
    ],
    0x400,
  );
  assert.equal(t.length, 3);
  assert.equal(t.lookup(0x1100n)?.name, 'a');
  assert.equal(t.lookup(0x111fn)?.offset, 0x1f);
  assert.equal(t.lookup(0x1120n), undefined, 'gap after sized symbol');
  assert.equal(t.lookup(0x12ffn)?.name, 'b_nosize', 'size 0: nearest preceding');
  assert.equal(t.lookup(0x1305n)?.name, 'c');
  assert.equal(t.lookup(0x1310n), undefined);
  assert.equal(t.lookup(0x10ffn), undefined, 'before the first symbol');
  assert.equal(t.lookup(0x1000n + 0x400n), undefined);
  assert.equal(t.lookup(0x1100 + 4)?.name, 'a', 'number lookups');
});

test('parseKallsyms: text symbols, modules, hidden addresses', () => {
  const k = parseKallsyms(
    [
      'ffffffff81000000 T _stext',
      'ffffffff81000100 t helper',
      'ffffffff81001000 D some_data',
      'ffffffff81002000 T vfs_write',
      'ffffffffc0001000 t mod_fn\t[mymod]',
      '0000000000000000 T hidden',
    ].join('\n'),
  );
  assert.equal(k.textStart, 0xffffffff81000000n);
  assert.equal(k.table.lookup(0xffffffff81000180n)?.name, 'helper');
  assert.equal(k.table.lookup(0xffffffff81002010n)?.name, 'vfs_write');
  const hit = k.table.lookup(0xffffffffc0001004n)!;
  assert.deepEqual([hit.name, hit.module, hit.offset], ['mod_fn', 'mymod', 4]);
  assert.equal(k.table.lookup(0xffffffff80000000n), undefined);
});

test('PerfMap: parses lines and re-reads only what was appended', () => {
  assert.deepEqual(parsePerfMap('1000 20 LazyCompile:*foo file.js:1\nbad line\n0x2000 0x8 bar'), [
    { start: 0x1000n, size: 0x20, name: 'LazyCompile:*foo file.js:1' },
    { start: 0x2000n, size: 8, name: 'bar' },
  ]);
  const tmp = tempDir();
  try {
    const p = join(tmp.dir, 'perf-1.map');
    writeFileSync(p, '7f0000001000 40 JS:first\n7f0000002000 40 JS:sec');
    const pm = new PerfMap(p);
    assert.equal(pm.refresh(), true);
    assert.equal(pm.size, 1, 'incomplete last line waits');
    assert.equal(pm.lookup(0x7f0000001010n)?.name, 'JS:first');
    assert.equal(pm.lookup(0x7f0000002010n), undefined);
    appendFileSync(p, 'ond\n7f0000001000 20 JS:rejit\n');
    assert.equal(pm.refresh(), true);
    assert.equal(pm.size, 3);
    assert.equal(pm.lookup(0x7f0000002010n)?.name, 'JS:second');
    assert.equal(pm.lookup(0x7f0000001010n)?.name, 'JS:rejit', 'latest entry wins at a reused address');
    assert.equal(pm.refresh(), false, 'nothing new');
  } finally {
    tmp.cleanup();
  }
});

test('ByteLru evicts least recently used entries over the byte bound', () => {
  const l = new ByteLru<string>(100);
  l.set('a', 'A', 40);
  l.set('b', 'B', 40);
  assert.equal(l.get('a'), 'A');
  l.set('c', 'C', 40);
  assert.deepEqual(l.keys(), ['a', 'c']);
  assert.equal(l.bytes, 80);
  l.set('huge', 'H', 500);
  assert.deepEqual(l.keys(), ['huge'], 'an oversized entry stays alone');
});

test('demangle: C++ and Rust (legacy and v0)', () => {
  assert.equal(demangle('_ZN2ns5Klass6methodEi'), 'ns::Klass::method(int)');
  assert.equal(demangle('_ZN4core3fmt5write17h0123456789abcdefE'), 'core::fmt::write');
  assert.equal(demangle('_RNvNtCs9ltgdHTiPiY_4core3ptr13drop_in_place'), 'core::ptr::drop_in_place');
  assert.equal(demangle('plain_c_name'), 'plain_c_name');
  assert.deepEqual(demangleMany(['_Z3fooi', 'x', '_Z3fooi']), ['foo(int)', 'x', 'foo(int)']);
  assert.equal(legacyRust('_ZN3std2io5stdio6_print17h1234567890abcdefE'), 'std::io::stdio::_print');
  assert.equal(legacyRust('_ZN49_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$Drop$GT$4drop17h1234567890abcdefE'), '<alloc::vec::Vec<T> as Drop>::drop');
});

test('clean names: symbol versions, Go ABI0 wrappers and escaped Go paths taken off', () => {
  assert.equal(cleanElfName('__libc_start_main@@GLIBC_2.34'), '__libc_start_main');
  assert.equal(cleanElfName('memcpy@GLIBC_2.2.5'), 'memcpy');
  assert.equal(cleanElfName('runtime.rt0_go.abi0'), 'runtime.rt0_go');
  assert.equal(cleanElfName('gopkg.in/yaml%2ev3.Unmarshal'), 'gopkg.in/yaml.v3.Unmarshal');
  assert.equal(cleanElfName('_ZN2ns5Klass6methodEi'), '_ZN2ns5Klass6methodEi');
  assert.equal(cleanElfName('ngx_http_handler.isra.0'), 'ngx_http_handler.isra.0');
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.from('6789'), crc32(Buffer.from('12345'))), 0xcbf43926);
});
