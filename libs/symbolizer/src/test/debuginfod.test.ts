// The debuginfod client against a real server (elfutils' debuginfod, serving a directory of
// split debug files), plus small HTTP servers made here for the failure cases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  DebuginfodClient,
  Symbolizer,
  debuginfodOptionsFromEnv,
  defaultCachePath,
  readElf,
  type DebuginfodLogger,
  type Frame,
} from '../index.js';
import { CLI, have, run, startAndReadLine, stop, tempDir, write } from './fixtures.js';

const inCI = process.env.CI === 'true';
const missing = ['cc', 'objcopy', 'strip', 'debuginfod'].filter((c) => !have(c));
const skipReason = missing.length ? `missing ${missing.join(', ')} (tools/setup.sh installs debuginfod)` : '';
if (skipReason && inCI) throw new Error(`debuginfod tests cannot run under CI: ${skipReason}`);
const skip = skipReason || false;
const tmp = tempDir('swsym-dbgd-');

// Static functions: only a debug file can name them once .symtab is gone.
const SRC = `
#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) static int sw_static_alpha(int x) { return x * 7 + VARIANT; }
__attribute__((noinline)) static int sw_static_beta(int x) { return sw_static_alpha(x) ^ 0x55; }
int main(void) {
  volatile int v = sw_static_beta(3);
  printf("%p %p %d\\n", (void *)sw_static_alpha, (void *)sw_static_beta, v);
  fflush(stdout);
  for (;;) pause();
}
`;

interface Prog {
  exe: string;
  debug: string;
  buildId: string;
  /** File offsets of the static functions (for `prog+0x…`). */
  alpha: bigint;
  beta: bigint;
}

/** Builds a program, keeps its debug file apart, strips it so that only .dynsym remains. */
function buildProg(name: string, variant: number): Prog {
  const c = write(tmp.dir, `${name}.c`, SRC);
  const exe = join(tmp.dir, name);
  run('cc', ['-g', '-O1', `-DVARIANT=${variant}`, '-o', exe, c]);
  const full = readElf(exe);
  const table = full.symbols();
  const alpha = table.findByName('sw_static_alpha')!.start;
  const beta = table.findByName('sw_static_beta')!.start;
  const debug = join(tmp.dir, `${name}.debug`);
  run('objcopy', ['--only-keep-debug', exe, debug]);
  run('strip', ['--strip-all', exe]);
  return {
    exe,
    debug,
    buildId: full.buildId!,
    alpha: full.vaddrToFileOffset(alpha)!,
    beta: full.vaddrToFileOffset(beta)!,
  };
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function status(url: string): Promise<number> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

/** debuginfod's count of debuginfo requests, from its Prometheus metrics. */
async function served(): Promise<number> {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const m = /^http_requests_total\{type="debuginfo"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

function captureLog(): DebuginfodLogger & { lines: { level: string; msg: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (fields, msg) => lines.push({ level: 'info', msg, fields }),
    warn: (fields, msg) => lines.push({ level: 'warn', msg, fields }),
  };
}

const names = (fs: Frame[]) => fs.map((f) => f.name);

let prog: Prog;
let late: Prog; // its debug file reaches the server only later
let child: ChildProcess | undefined;
let lateChild: ChildProcess | undefined;
let addrs: bigint[] = [];
let lateAddrs: bigint[] = [];
let server: ChildProcess | undefined;
let serverUrl = '';
const serveDir = join(tmp.dir, 'served');
const helpers: Server[] = [];

before(async () => {
  if (skip) return;
  prog = buildProg('prog', 1);
  late = buildProg('late', 2);
  mkdirSync(serveDir);
  copyFileSync(prog.debug, join(serveDir, 'prog.debug'));
  const port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  const env = { ...process.env };
  delete env.DEBUGINFOD_URLS; // no federation to other servers
  // -t 0: one scan at start (SIGUSR1 asks for another); :memory: keeps no database file.
  server = spawn('debuginfod', ['-F', '-d', ':memory:', '-p', String(port), '-t', '0', '-g', '0', serveDir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const indexed = await waitFor(
    'debuginfod to index the debug file',
    async () => {
      if (server!.exitCode !== null) throw new Error(`debuginfod exited (${server!.exitCode}): ${log}`);
      return (await status(`${serverUrl}/buildid/${prog.buildId}/debuginfo`)) === 200 || undefined;
    },
    30_000,
  );
  assert.ok(indexed);
  for (const [p, set] of [
    [prog, (a: bigint[], c: ChildProcess) => ((addrs = a), (child = c))],
    [late, (a: bigint[], c: ChildProcess) => ((lateAddrs = a), (lateChild = c))],
  ] as const) {
    const started = await startAndReadLine(p.exe, []);
    const [a, b] = started.line
      .trim()
      .split(/\s+/)
      .map((h) => BigInt(h)) as [bigint, bigint];
    set([a, b], started.child);
  }
});

after(async () => {
  stop(child);
  stop(lateChild);
  for (const h of helpers) {
    h.closeAllConnections();
    h.close();
  }
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => (server!.kill('SIGKILL'), r(undefined)), 3000);
      server!.once('exit', () => (clearTimeout(t), r(undefined)));
    });
  }
  tmp.cleanup();
});

test('without debug files the stripped program names its static functions only prog+0x…', { skip }, () => {
  const elf = readElf(prog.exe);
  assert.equal(elf.hasSymtab, false);
  assert.ok(elf.sections.some((s) => s.name === '.dynsym'));
  const frames = new Symbolizer({ debugDirs: [] }).symbolizeUser(child!.pid!, addrs);
  assert.deepEqual(names(frames), [`prog+0x${prog.alpha.toString(16)}`, `prog+0x${prog.beta.toString(16)}`]);
  assert.equal(frames[0]!.buildId, prog.buildId);
});

test(
  'a real debuginfod server: the first lookup answers at once, names follow in the background',
  { skip },
  async (t) => {
    const cachePath = join(tmp.dir, 'cache');
    const s = new Symbolizer({ debugDirs: [], debuginfod: { urls: [serverUrl], cachePath } });
    const t0 = performance.now();
    const first = s.symbolizeUser(child!.pid!, addrs);
    const firstMs = performance.now() - t0;
    assert.deepEqual(names(first), [`prog+0x${prog.alpha.toString(16)}`, `prog+0x${prog.beta.toString(16)}`]);
    assert.equal(s.debuginfod!.stats().pending, 1, 'a download is under way');
    const named = await waitFor('named frames', () => {
      const f = s.symbolizeUser(child!.pid!, addrs);
      return f.every((x) => x.resolved) ? f : undefined;
    });
    const namedMs = performance.now() - t0;
    assert.deepEqual(names(named), ['sw_static_alpha', 'sw_static_beta']);
    t.diagnostic(
      `first lookup ${firstMs.toFixed(2)} ms (unresolved, no waiting); names after ${namedMs.toFixed(1)} ms`,
    );

    // The cache layout of elfutils' client: <cache>/<build-id>/debuginfo, the server's very file.
    const file = join(cachePath, prog.buildId, 'debuginfo');
    assert.deepEqual(readFileSync(file), readFileSync(prog.debug));
    assert.equal(readElf(file).buildId, prog.buildId);
    assert.deepEqual(readdirSync(join(cachePath, prog.buildId)), ['debuginfo'], 'no temporary file left');
    assert.deepEqual(
      { ...s.debuginfod!.stats(), bytes: 0 },
      { requests: 1, downloads: 1, bytes: 0, misses: 0, failures: 0, pending: 0 },
    );
    s.close();

    // elfutils' own client takes the file from our cache without asking any server.
    if (have('debuginfod-find')) {
      const out = run('debuginfod-find', ['debuginfo', prog.buildId], {
        env: { ...process.env, DEBUGINFOD_CACHE_PATH: cachePath, DEBUGINFOD_URLS: 'http://127.0.0.1:9' },
      });
      assert.equal(out.trim(), file);
    }
  },
);

test('a second symbolizer names the frames from the disk cache, with the server unreachable', { skip }, async () => {
  const cachePath = join(tmp.dir, 'cache');
  assert.ok(existsSync(join(cachePath, prog.buildId, 'debuginfo')), 'the previous test filled the cache');
  const dead = `http://127.0.0.1:${await freePort()}`;
  const log = captureLog();
  const s = new Symbolizer({ debugDirs: [], debuginfod: { urls: [dead], cachePath, log } });
  assert.deepEqual(names(s.symbolizeUser(child!.pid!, addrs)), ['sw_static_alpha', 'sw_static_beta']);
  assert.equal(s.debuginfod!.stats().requests, 0);
  assert.deepEqual(log.lines, []);
  // symbolizeFile takes the same path (ELF virtual addresses).
  const vaddr = readElf(prog.exe).fileOffsetToVaddr(prog.beta)!;
  assert.equal(s.symbolizeFile(prog.exe, [vaddr])[0]!.name, 'sw_static_beta');
  s.close();
});

test(
  'a 404 is remembered (elfutils marker file), not asked again, and retried after the miss time',
  { skip },
  async (t) => {
    const cachePath = join(tmp.dir, 'cache-miss');
    const client = new DebuginfodClient({ urls: [serverUrl], cachePath, missTtlMs: 1500 });
    const s = new Symbolizer({ debugDirs: [], debuginfod: client });
    const before404 = await served();
    assert.equal(s.symbolizeUser(lateChild!.pid!, lateAddrs)[0]!.resolved, false);
    await client.idle();
    assert.equal(await served(), before404 + 1);
    const marker = join(cachePath, late.buildId, 'debuginfo');
    assert.equal(statSync(marker).size, 0, 'a miss is an empty file, as elfutils writes it');
    assert.deepEqual(client.stats().misses, 1);

    // Within the miss time: neither this client nor a fresh one (reading the marker) asks again.
    for (let i = 0; i < 20; i++) s.symbolizeUser(lateChild!.pid!, lateAddrs);
    const other = new DebuginfodClient({ urls: [serverUrl], cachePath, missTtlMs: 60_000 });
    assert.equal(await other.fetch(late.buildId), undefined);
    assert.equal(other.stats().requests, 0);
    await client.idle();
    assert.equal(await served(), before404 + 1, 'no second request within the miss time');

    // The debug file is published later: once the miss time is over, lookups find it.
    copyFileSync(late.debug, join(serveDir, 'late.debug'));
    server!.kill('SIGUSR1'); // rescan
    await waitFor(
      'the late file to be served',
      async () => (await status(`${serverUrl}/buildid/${late.buildId}/debuginfo`)) === 200 || undefined,
    );
    const t0 = performance.now();
    const named = await waitFor('late names', () => {
      const f = s.symbolizeUser(lateChild!.pid!, lateAddrs);
      return f.every((x) => x.resolved) ? f : undefined;
    });
    assert.deepEqual(names(named), ['sw_static_alpha', 'sw_static_beta']);
    assert.ok(statSync(marker).size > 0, 'the marker is replaced by the file');
    t.diagnostic(`named ${(performance.now() - t0).toFixed(0)} ms after publication (miss time 1500 ms)`);
    s.close();
    client.close();
  },
);

test(
  'dead, slow, failing and garbage servers: frames stay prog+0x…, one log line per server, nothing cached',
  { skip },
  async () => {
    const listen = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
      const h = createServer(handler);
      helpers.push(h);
      await new Promise<void>((r) => h.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(h.address() as AddressInfo).port}`;
    };
    const dead = `http://127.0.0.1:${await freePort()}`;
    const slow = await listen(() => {}); // accepts, never answers
    const fails = await listen((_q, r) => r.writeHead(500).end('internal error'));
    const garbage = await listen((_q, r) => r.writeHead(200).end(Buffer.alloc(4096, 0x41)));
    const otherElf = readFileSync(late.debug); // a valid debug file, but another build-id
    const wrongElf = await listen((_q, r) => r.writeHead(200).end(otherElf));
    const urls = [dead, slow, fails, garbage, wrongElf];
    const cachePath = join(tmp.dir, 'cache-bad');
    const log = captureLog();
    const s = new Symbolizer({
      debugDirs: [],
      debuginfod: { urls, cachePath, log, timeoutMs: 300, serverBackoffMs: 1, errorRetryMs: 1 },
    });
    const expected = [`prog+0x${prog.alpha.toString(16)}`, `prog+0x${prog.beta.toString(16)}`];
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(names(s.symbolizeUser(child!.pid!, addrs)), expected);
      await s.debuginfod!.idle();
      await new Promise((r) => setTimeout(r, 1100)); // past the retry time: the symbolizer asks again
    }
    assert.deepEqual(names(s.symbolizeUser(child!.pid!, addrs)), expected);
    await s.debuginfod!.idle();
    const stats = s.debuginfod!.stats();
    assert.ok(stats.failures >= 10, `every server failed in several rounds (${stats.failures})`);
    assert.equal(log.lines.length, urls.length, JSON.stringify(log.lines));
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.fields.url]),
      urls.map((u) => ['warn', u]),
    );
    const reasons = log.lines.map((l) => String(l.fields.reason));
    assert.match(reasons[0]!, /ECONNREFUSED/);
    assert.match(reasons[1]!, /no 100 KiB within 300 ms/);
    assert.match(reasons[2]!, /HTTP 500/);
    assert.match(reasons[3]!, /not an ELF/);
    assert.match(reasons[4]!, /build-id mismatch/);
    // Nothing written: no debug file, no miss marker (the failures may be transient), no temp files.
    assert.deepEqual(existsSync(cachePath) ? readdirSync(join(cachePath, prog.buildId)) : [], []);
    s.close();
  },
);

test('pending downloads are bounded, and close() ends them', { skip }, async () => {
  const slowServer = createServer(() => {});
  helpers.push(slowServer);
  await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}`;
  const client = new DebuginfodClient({
    urls: [url],
    cachePath: join(tmp.dir, 'cache-bounded'),
    maxPending: 8,
    concurrency: 2,
    log: captureLog(),
  });
  for (let i = 0; i < 1000; i++) client.request(i.toString(16).padStart(40, '0'));
  assert.equal(client.stats().pending, 8);
  const idle = client.idle();
  client.close();
  await idle;
  assert.equal(client.stats().pending, 0);
  client.request('ab'.repeat(20)); // refused after close
  assert.equal(client.stats().pending, 0);
});

test('a file above DEBUGINFOD_MAXSIZE is not downloaded', { skip }, async () => {
  const cachePath = join(tmp.dir, 'cache-small');
  const client = new DebuginfodClient({ urls: [serverUrl], cachePath, maxSize: 100 });
  assert.equal(await client.fetch(prog.buildId), undefined);
  assert.equal(existsSync(join(cachePath, prog.buildId, 'debuginfo')), false);
  client.close();
});

test('CLI: --debuginfod URL waits for the download and prints the names', { skip }, () => {
  const cachePath = join(tmp.dir, 'cache-cli');
  const vaddr = readElf(prog.exe).fileOffsetToVaddr(prog.alpha)!;
  const env = { ...process.env, DEBUGINFOD_CACHE_PATH: cachePath, DEBUGINFOD_URLS: '' };
  const out = run(
    process.execPath,
    ['--import', 'tsx', CLI, '--debuginfod', serverUrl, '--file', prog.exe, '0x' + vaddr.toString(16)],
    { env },
  );
  assert.match(out, /sw_static_alpha\s+prog/);
  assert.ok(existsSync(join(cachePath, prog.buildId, 'debuginfo')));
  // DEBUGINFOD_URLS alone enables it too; --no-debuginfod turns it off.
  const off = run(
    process.execPath,
    ['--import', 'tsx', CLI, '--no-debuginfod', '--file', prog.exe, '0x' + vaddr.toString(16)],
    {
      env: { ...env, DEBUGINFOD_URLS: serverUrl },
    },
  );
  assert.match(off, /prog\+0x/);
});

test('DEBUGINFOD_* variables', () => {
  assert.equal(debuginfodOptionsFromEnv({}), undefined);
  assert.equal(debuginfodOptionsFromEnv({ DEBUGINFOD_URLS: '  ' }), undefined);
  assert.deepEqual(
    debuginfodOptionsFromEnv({
      DEBUGINFOD_URLS: 'https://a.example/ http://b.example:8002',
      DEBUGINFOD_CACHE_PATH: '/var/cache/x',
      DEBUGINFOD_TIMEOUT: '5',
      DEBUGINFOD_MAXSIZE: '1000',
      DEBUGINFOD_MAXTIME: '0',
    }),
    {
      urls: ['https://a.example/', 'http://b.example:8002'],
      cachePath: '/var/cache/x',
      timeoutMs: 5000,
      maxTimeMs: 0,
      maxSize: 1000,
    },
  );
  assert.equal(defaultCachePath({ XDG_CACHE_HOME: '/x' }), '/x/debuginfod_client');
  assert.equal(defaultCachePath({ HOME: '/nonexistent-home' }), '/nonexistent-home/.cache/debuginfod_client');
});
