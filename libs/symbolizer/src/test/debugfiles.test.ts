// Separate debug files (build-id directory, .gnu_debuglink with CRC) and MiniDebugInfo
// (.gnu_debugdata), built here from a small C program with binutils.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Symbolizer, readElf, debugCandidates } from '../index.js';
import { have, run, tempDir, write } from './fixtures.js';

const tmp = tempDir();
after(() => tmp.cleanup());
const need = ['gcc', 'objcopy', 'strip', 'xz'].filter((c) => !have(c));
const skip = need.length > 0 && `missing ${need.join(', ')}`;

const SRC = `
#include <stdio.h>
__attribute__((noinline)) static int sw_static_hidden(int x) { return x * 5 + 2; }
__attribute__((noinline)) int sw_exported(int x) { return sw_static_hidden(x) + 1; }
int main(int argc, char **argv) { (void)argv; printf("%d\\n", sw_exported(argc)); return 0; }
`;

function build(name: string, extra: string[] = []): { exe: string; hidden: bigint } {
  const c = write(tmp.dir, `${name}.c`, SRC);
  const exe = join(tmp.dir, name);
  run('gcc', ['-O1', '-g', '-rdynamic', '-o', exe, c, ...extra]);
  const hidden = readElf(exe).symbols().findByName('sw_static_hidden')!.start;
  return { exe, hidden };
}

test('build-id: the debug file under <debugdir>/.build-id is used for a stripped binary', { skip }, () => {
  const { exe, hidden } = build('bid');
  const id = readElf(exe).buildId!;
  const dbgDir = join(tmp.dir, 'debugroot');
  mkdirSync(join(dbgDir, '.build-id', id.slice(0, 2)), { recursive: true });
  run('objcopy', ['--only-keep-debug', exe, join(dbgDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`)]);
  run('strip', ['--strip-all', exe]);
  assert.equal(readElf(exe).hasSymtab, false);
  // Without the debug dir: only .dynsym (exported) names.
  const plain = new Symbolizer({ debugDirs: [] }).symbolizeFile(exe, [hidden + 1n]);
  assert.equal(plain[0]!.resolved, false);
  const [f] = new Symbolizer({ debugDirs: [dbgDir] }).symbolizeFile(exe, [hidden + 1n]);
  assert.equal(f!.name, 'sw_static_hidden');
  assert.equal(debugCandidates({ path: exe, buildId: id, debugDirs: [dbgDir] })[0]!.path.endsWith(`${id.slice(2)}.debug`), true);
});

test('.gnu_debuglink: found next to the binary and in .debug/, CRC checked', { skip }, () => {
  // No build-id, so only the CRC can tell a matching debug file.
  const { exe, hidden } = build('dl', ['-Wl,--build-id=none']);
  const dbg = join(tmp.dir, 'dl.debug');
  run('objcopy', ['--only-keep-debug', exe, dbg]);
  run('strip', ['--strip-all', exe]);
  run('objcopy', [`--add-gnu-debuglink=${dbg}`, exe]);
  const elf = readElf(exe);
  assert.equal(elf.buildId, undefined);
  assert.equal(elf.debuglink?.file, 'dl.debug');
  assert.equal(new Symbolizer({ debugDirs: [] }).symbolizeFile(exe, [hidden])[0]!.name, 'sw_static_hidden');
  // In the .debug/ subdirectory.
  mkdirSync(join(tmp.dir, '.debug'), { recursive: true });
  renameSync(dbg, join(tmp.dir, '.debug', 'dl.debug'));
  assert.equal(new Symbolizer({ debugDirs: [] }).symbolizeFile(exe, [hidden])[0]!.name, 'sw_static_hidden');
  // A modified debug file fails the CRC and is ignored.
  appendFileSync(join(tmp.dir, '.debug', 'dl.debug'), Buffer.from([0]));
  assert.equal(new Symbolizer({ debugDirs: [] }).symbolizeFile(exe, [hidden])[0]!.resolved, false);
});

test('MiniDebugInfo: .symtab from the xz-compressed .gnu_debugdata', { skip }, () => {
  const { exe, hidden } = build('mini');
  const mini = join(tmp.dir, 'mini.dbg');
  run('objcopy', ['--only-keep-debug', exe, mini]);
  run('objcopy', ['--strip-debug', '--remove-section', '.comment', mini]);
  run('xz', ['-f', mini]);
  const stripped = join(tmp.dir, 'mini-stripped');
  copyFileSync(exe, stripped);
  run('strip', ['--strip-all', stripped]);
  run('objcopy', [`--add-section`, `.gnu_debugdata=${mini}.xz`, stripped]);
  const elf = readElf(stripped);
  assert.equal(elf.hasSymtab, false);
  assert.ok(elf.section('.gnu_debugdata'));
  assert.ok(elf.miniDebugInfo()?.hasSymtab);
  const [f, g] = new Symbolizer({ debugDirs: [] }).symbolizeFile(stripped, [hidden + 2n, elf.symbols().findByName('sw_exported')!.start]);
  assert.deepEqual([f!.name, f!.offset, g!.name], ['sw_static_hidden', 2n, 'sw_exported']);
});
