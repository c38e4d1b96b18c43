// Symbolization against what this machine has: the kernel's kallsyms, Debian's nginx
// (.dynsym only), a Node.js process writing a perf map.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Symbolizer, loadKallsyms, readElf } from '../index.js';
import { cli, startAndReadLine, stop } from './fixtures.js';
import type { ChildProcess } from 'node:child_process';

const children: ChildProcess[] = [];
after(() => children.forEach(stop));

function kallsymsReadable(): boolean {
  try {
    const head = readFileSync('/proc/kallsyms', 'latin1').slice(0, 4096);
    return /^[0-9a-f]*[1-9a-f][0-9a-f]* /m.test(head);
  } catch {
    return false;
  }
}

test('kernel: a known symbol from /proc/kallsyms resolves to itself', { skip: !kallsymsReadable() && 'kallsyms addresses hidden (not root?)' }, () => {
  const text = readFileSync('/proc/kallsyms', 'latin1');
  const m = /^([0-9a-f]+) [tT] vfs_write$/m.exec(text);
  assert.ok(m, 'vfs_write in kallsyms');
  const addr = BigInt('0x' + m[1]);
  const s = new Symbolizer();
  const [a, b, c] = s.symbolizeKernel([addr, addr + 0x10n, 0x1000n]);
  assert.deepEqual([a!.name, a!.module, a!.resolved, a!.offset], ['vfs_write', '[kernel.kallsyms]', true, 0n]);
  assert.deepEqual([b!.name, b!.offset], ['vfs_write', 0x10n]);
  assert.deepEqual([c!.name, c!.module, c!.resolved], ['[unknown]+0x1000', '[unknown]', false]);
  const k = loadKallsyms();
  assert.ok(k.table.length > 10000);
  assert.equal(loadKallsyms(), k, 'cached');
  assert.notEqual(loadKallsyms(true), k, 'reloaded');
  // A module symbol, if any module is loaded, names its module.
  const mm = /^([0-9a-f]+) [tT] (\S+)\t\[(\S+)\]$/m.exec(text);
  if (mm) {
    const [f] = s.symbolizeKernel([BigInt('0x' + mm[1])]);
    assert.equal(f!.module, `[${mm[3]}]`);
  }
  assert.match(cli(['--kernel', '0x' + addr.toString(16)]), /vfs_write\s+\[kernel\.kallsyms\]/);
});

test('nginx: .dynsym names for Debian nginx', (t) => {
  if (!existsSync('/usr/sbin/nginx')) {
    if (process.env.CI === 'true') assert.fail('nginx missing under CI (tools/setup.sh installs nginx-light)');
    t.skip('nginx missing');
    return;
  }
  const elf = readElf('/usr/sbin/nginx');
  assert.equal(elf.hasSymtab, false);
  assert.ok(elf.buildId);
  const syms = [...elf.symbols().entries()].filter((e) => e.name.startsWith('ngx_') && e.size > 4);
  assert.ok(syms.length > 100, `nginx dynsym functions: ${syms.length}`);
  const pick = [syms[0]!, syms[Math.floor(syms.length / 2)]!, syms[syms.length - 1]!];
  const frames = new Symbolizer().symbolizeFile(
    '/usr/sbin/nginx',
    pick.map((p) => p.start + 3n),
  );
  assert.deepEqual(
    frames.map((f) => [f.name, f.module, f.offset]),
    pick.map((p) => [p.name, 'nginx', 3n]),
  );
  const out = cli(['--file', '/usr/sbin/nginx', '0x' + pick[1]!.start.toString(16)]);
  assert.match(out, new RegExp(`${pick[1]!.name}\\s+nginx`));
});

test('node --perf-basic-prof: JIT frames resolve through /tmp/perf-PID.map', async () => {
  const script = `
    function swliteJsMarkerFunction(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return s; }
    let acc = 0;
    for (let i = 0; i < 2000; i++) acc += swliteJsMarkerFunction(1000);
    console.log('ready ' + (acc > 0));
    setInterval(() => { acc += swliteJsMarkerFunction(100); }, 50);
  `;
  const { child } = await startAndReadLine(process.execPath, ['--perf-basic-prof', '-e', script]);
  children.push(child);
  const path = `/tmp/perf-${child.pid}.map`;
  let entry: { start: bigint; size: number; name: string } | undefined;
  for (let i = 0; i < 100 && !entry; i++) {
    if (existsSync(path)) {
      const line = readFileSync(path, 'utf8')
        .split('\n')
        .find((l) => l.includes('swliteJsMarkerFunction'));
      if (line) {
        const [a, sz, ...rest] = line.split(' ');
        entry = { start: BigInt('0x' + a), size: parseInt(sz!, 16), name: rest.join(' ') };
      }
    }
    if (!entry) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(entry, 'perf map has the JS function');
  const s = new Symbolizer();
  const [f] = s.symbolizeUser(child.pid!, [entry.start + BigInt(Math.min(entry.size - 1, 8))]);
  assert.equal(f!.module, '[jit]');
  assert.equal(f!.resolved, true);
  assert.match(f!.name, /swliteJsMarkerFunction/);
  // And the node binary itself still resolves: its main().
  const nodeElf = readElf(process.execPath);
  const main = nodeElf.symbols().findByName('main');
  if (main && nodeElf.type === 2 /* ET_EXEC: runtime address = vaddr */) {
    const [g] = s.symbolizeUser(child.pid!, [main.start]);
    assert.equal(g!.name, 'main');
  }
  stop(child);
  try {
    (await import('node:fs')).unlinkSync(path);
  } catch {
    /* already gone */
  }
});

test('[vdso]: read from process memory and named from its .dynsym', () => {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  const line = maps.find((l) => l.endsWith('[vdso]'));
  assert.ok(line, 'this process has a vdso');
  const [range] = line.split(/\s+/) as [string];
  const [start, end] = range.split('-').map((x) => BigInt('0x' + x)) as [bigint, bigint];
  const buf = Buffer.alloc(Number(end - start));
  const fd = openSync('/proc/self/mem', 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  const vdso = readElf(buf, '[vdso]');
  const sym = [...vdso.symbols().entries()].find((e) => /clock_gettime$/.test(e.name));
  assert.ok(sym, 'vdso exports clock_gettime');
  const addr = start + vdso.vaddrToFileOffset(sym.start)! + 1n;
  const [f] = new Symbolizer().symbolizeUser(process.pid, [addr]);
  assert.equal(f!.module, '[vdso]');
  assert.equal(f!.resolved, true);
  assert.match(f!.name, /clock_gettime$/);
});

test('symbolAddresses: data and function symbols of the C library as nm -D lists them; absent names are absent', () => {
  const libc = '/lib/x86_64-linux-gnu/libc.so.6';
  const nm = spawnSync('nm', ['-D', '--defined-only', libc], { encoding: 'utf8' }).stdout;
  const addr = (name: string) => {
    const m = new RegExp(`^([0-9a-f]+) \\w ${name}(@@\\S+)?$`, 'm').exec(nm);
    assert.ok(m, `${name} in nm -D ${libc}`);
    return BigInt(`0x${m[1]}`);
  };
  const got = readElf(libc).symbolAddresses(['environ', 'malloc', 'no_such_symbol_here']);
  assert.deepEqual(got, new Map([['environ', addr('environ')], ['malloc', addr('malloc')]]));
});
