// Which files carry OpenSSL, on this machine's real binaries: node links it in, libssl.so.3
// defines it, libcurl only imports it, and a process like sleep maps none of it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readElf } from '@swlite/symbolizer';
import { definedFunctions, TlsFileFinder } from './tls-probes';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const LIBCURL = '/usr/lib/x86_64-linux-gnu/libcurl.so.4';

test('definedFunctions: definitions count, imports do not', () => {
  for (const f of [LIBSSL, LIBCURL]) assert.ok(existsSync(f), `${f} (Debian's libssl3 and libcurl4) is needed`);
  const wanted = ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex', 'SSL_do_handshake', 'no_such_function'];
  assert.deepEqual([...definedFunctions(readElf(LIBSSL), wanted)].sort(), wanted.slice(0, 5).sort());
  assert.deepEqual([...definedFunctions(readElf(LIBCURL), wanted)], []);
});

test("TlsFileFinder: this node process's OpenSSL (linked in, or its libssl); nothing in sleep", async () => {
  const finder = new TlsFileFinder();
  const mine = finder.files(process.pid);
  // A node built against the system's OpenSSL maps libssl; the one here links it in.
  const libssl = /\s(\/\S*libssl\.so[.\d]*)$/m.exec(readFileSync(`/proc/${process.pid}/maps`, 'utf8'))?.[1];
  assert.deepEqual(
    mine.map((f) => [f.path, f.functions]),
    [
      [
        `/proc/${process.pid}/root${libssl ?? process.execPath}`,
        ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex', 'SSL_do_handshake'],
      ],
    ],
  );

  const sleep = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const deadline = Date.now() + 5_000;
    while (!readFileSync(`/proc/${sleep.pid}/maps`, 'utf8').includes('libc.so') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(finder.files(sleep.pid!), []);
  } finally {
    sleep.kill();
    await once(sleep, 'exit');
  }
  assert.throws(() => finder.files(sleep.pid!), /ENOENT/);
});
