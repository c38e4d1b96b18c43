// The debuginfod client against a real server (elfutils' debuginfod, serving a directory of
// split debug files), plus small HTTP servers made here for the failure cases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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

const DAY = 86400;

/** Sets a path's atime and mtime to so many seconds ago (atime defaults to the mtime's age). */
function age(path: string, mtimeAgeS: number, atimeAgeS = mtimeAgeS): void {
  const now = Date.now() / 1000;
  utimesSync(path, now - atimeAgeS, now - mtimeAgeS);
}

/** Every path below a directory, relative, sorted (`find . | sort`). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if (statSync(join(dir, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}

/**
 * A cache as a long-running client leaves it: debug files and miss markers used long ago or
 * lately, a temporary file of a process that died mid-download, other people's files. Build-id
 * directories are old (mtime) unless said otherwise; the interval file is absent.
 */
function oldCache(cachePath: string) {
  const id = (c: string) => c.repeat(20);
  const ids = {
    old: id('a1'), // debuginfo unused for 8 days: goes
    used: id('b2'), // downloaded 30 days ago, read yesterday (atime): stays
    oldMiss: id('c3'), // a miss marker from 8 days ago: goes
    freshMiss: id('d4'), // a miss marker from now: stays
    mixed: id('f6'), // an old debuginfo (goes) next to a file not of the cache (stays, and so does the dir)
    source: id('a7'), // elfutils' own kinds: source and executable files, judged alike
    exe: id('a8'),
    empty: id('ab'), // an old empty build-id directory: goes
    newEmpty: id('ac'), // a directory just made for a download: stays
  };
  const put = (rel: string, body: string | Buffer, mtimeAge: number, atimeAge = mtimeAge) => {
    const p = join(cachePath, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, body);
    age(p, mtimeAge, atimeAge);
  };
  put(`${ids.old}/debuginfo`, Buffer.alloc(4096, 1), 8 * DAY);
  put(`${ids.used}/debuginfo`, Buffer.alloc(4096, 2), 30 * DAY, 1 * DAY);
  put(`${ids.oldMiss}/debuginfo`, '', 8 * DAY);
  put(`${ids.freshMiss}/debuginfo`, '', 0);
  put(`${ids.mixed}/debuginfo`, 'x', 8 * DAY);
  put(`${ids.mixed}/notes`, 'x', 8 * DAY);
  put(`${ids.source}/source-##usr##src##a.c`, 'x', 8 * DAY);
  put(`${ids.exe}/executable`, 'x', 8 * DAY);
  put('XY/debuginfo', 'x', 8 * DAY); // not a build-id: not the cache's
  put(`${id('a9')}/debuginfo.Ab12Cd`, 'x', 8 * DAY); // elfutils' temporary file: elfutils leaves it
  mkdirSync(join(cachePath, ids.empty));
  mkdirSync(join(cachePath, ids.newEmpty));
  for (const name of readdirSync(cachePath)) if (name !== ids.newEmpty) age(join(cachePath, name), 8 * DAY);
  return ids;
}

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

test("cache cleaning, elfutils' way: unused files and miss markers go, used ones stay, once per interval", async () => {
  const cachePath = join(tmp.dir, 'cache-clean');
  const ids = oldCache(cachePath);
  const tempFile = join(cachePath, ids.old.replace(/a1/g, 'e5'), '.debuginfo.4242.k3j4.tmp'); // ours, from a dead process
  mkdirSync(join(tempFile, '..'));
  writeFileSync(tempFile, 'partial');
  age(tempFile, 8 * DAY);
  age(join(tempFile, '..'), 8 * DAY);
  const before = listing(cachePath);
  const intervalFile = join(cachePath, 'cache_clean_interval_s');

  // No interval file: the first client writes it with elfutils' default and counts that as a
  // round just done (as elfutils does), so nothing goes yet.
  const log = captureLog();
  const first = new DebuginfodClient({ urls: [], cachePath, log });
  await waitFor('the interval file', () => existsSync(intervalFile) || undefined);
  assert.equal((await first.clean()).ran, false);
  assert.equal(readFileSync(intervalFile, 'latin1'), '86400');
  assert.deepEqual(listing(cachePath), [...before, 'cache_clean_interval_s'].sort());

  // A day and more since the last round: a client starting cleans in the background.
  age(intervalFile, DAY + 60);
  const second = new DebuginfodClient({ urls: [], cachePath, log });
  await waitFor('the background round', () => !existsSync(join(cachePath, ids.old)) || undefined);
  await waitFor('its end', () => log.lines.some((l) => l.msg === 'debuginfod cache cleaned') || undefined);
  const gone = [
    ids.old,
    `${ids.old}/debuginfo`,
    ids.oldMiss,
    `${ids.oldMiss}/debuginfo`,
    `${ids.mixed}/debuginfo`,
    ids.source,
    `${ids.source}/source-##usr##src##a.c`,
    ids.exe,
    `${ids.exe}/executable`,
    ids.empty,
    ids.old.replace(/a1/g, 'e5'),
    `${ids.old.replace(/a1/g, 'e5')}/.debuginfo.4242.k3j4.tmp`,
  ];
  assert.deepEqual(
    listing(cachePath),
    [...before.filter((p) => !gone.includes(p)), 'cache_clean_interval_s', 'max_unused_age_s'].sort(),
  );
  assert.equal(readFileSync(join(cachePath, 'max_unused_age_s'), 'latin1'), '604800');
  assert.ok(Date.now() - statSync(intervalFile).mtimeMs < 10_000, 'the round is recorded in the interval file');
  const line = log.lines.find((l) => l.msg === 'debuginfod cache cleaned')!;
  assert.deepEqual([line.fields.files, line.fields.bytes, line.fields.dirs], [6, 4096 + 0 + 1 + 1 + 1 + 7, 6]);

  // Within the interval nothing is looked at, by this client or a new one.
  const late = join(cachePath, 'e7'.repeat(20), 'debuginfo');
  mkdirSync(join(late, '..'));
  writeFileSync(late, 'x');
  age(late, 9 * DAY);
  const third = new DebuginfodClient({ urls: [], cachePath, log });
  assert.deepEqual(await third.clean(), { ran: false, dirs: 0, filesRemoved: 0, bytesRemoved: 0, dirsRemoved: 0 });
  assert.equal((await second.clean()).ran, false);
  assert.ok(existsSync(late));

  // The control files are read at each round: interval 0 is "every time", the age is in seconds.
  writeFileSync(intervalFile, '0\n');
  writeFileSync(join(cachePath, 'max_unused_age_s'), '3600\n');
  const hour = [join(cachePath, 'e8'.repeat(20)), join(cachePath, 'e9'.repeat(20))];
  for (const [i, d] of hour.entries()) {
    mkdirSync(d);
    writeFileSync(join(d, 'debuginfo'), 'x');
    age(join(d, 'debuginfo'), 2 * 3600, i === 0 ? 2 * 3600 : 1800); // read 2 h / 30 min ago
  }
  const r1 = await third.clean();
  // late's file, hour[0]'s, and now also the one read yesterday (and its old directory).
  assert.deepEqual([r1.ran, r1.filesRemoved, r1.dirsRemoved], [true, 3, 1], JSON.stringify(r1));
  assert.equal(existsSync(join(cachePath, ids.used)), false);
  assert.equal(existsSync(join(hour[0]!, 'debuginfo')), false);
  assert.ok(existsSync(join(hour[1]!, 'debuginfo')));
  assert.equal((await third.clean()).ran, true, 'interval 0: every round runs');
  for (const c of [first, second, third]) c.close();
});

test("the same cache cleaned by elfutils' own client ends the same", { skip: !have('debuginfod-find') }, () => {
  const ours = join(tmp.dir, 'cache-clean-ours');
  const theirs = join(tmp.dir, 'cache-clean-elfutils');
  oldCache(ours);
  oldCache(theirs);
  for (const c of [ours, theirs]) {
    writeFileSync(join(c, 'cache_clean_interval_s'), '86400');
    age(join(c, 'cache_clean_interval_s'), 2 * DAY);
  }
  // debuginfod-find cleans before its query (which fails: nothing listens on port 9).
  const r = spawnSync('debuginfod-find', ['debuginfo', '0123456789abcdef0123456789abcdef01234567'], {
    env: { ...process.env, DEBUGINFOD_CACHE_PATH: theirs, DEBUGINFOD_URLS: 'http://127.0.0.1:9' },
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  const client = new DebuginfodClient({ urls: [], cachePath: ours });
  return client.clean().then((res) => {
    client.close();
    assert.deepEqual([res.ran, res.filesRemoved, res.dirsRemoved], [true, 5, 5]);
    assert.deepEqual(listing(ours), listing(theirs));
  });
});

test("a request starts a due round in the background, never on the caller's turn", { skip }, async () => {
  const cachePath = join(tmp.dir, 'cache-clean-bg');
  const ids = oldCache(cachePath);
  const log = captureLog();
  const client = new DebuginfodClient({ urls: [serverUrl], cachePath, log, cleanIntervalMs: 300 });
  // The start's round writes the interval file: the next round is due 300 ms later.
  await waitFor('the interval file', () => existsSync(join(cachePath, 'cache_clean_interval_s')) || undefined);
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(existsSync(join(cachePath, ids.old, 'debuginfo')));
  const missing = '0f'.repeat(20); // not on the server: a 404, and a miss marker
  client.request(missing);
  assert.ok(existsSync(join(cachePath, ids.old, 'debuginfo')), "nothing removed on the caller's turn");
  await waitFor('the round', () => !existsSync(join(cachePath, ids.old)) || undefined);
  await client.idle();
  assert.equal(statSync(join(cachePath, missing, 'debuginfo')).size, 0, 'the new marker stays');
  assert.ok(existsSync(join(cachePath, ids.used, 'debuginfo')));
  client.close();
});

test('a round stops at cleanMaxDirs and the next one goes on from there', async () => {
  const cachePath = join(tmp.dir, 'cache-clean-bounded');
  // Nine directories that stay (a file not of the cache in each), each with an old debug file.
  const ids = Array.from({ length: 9 }, (_, i) => (0x10 + i).toString(16).repeat(20));
  for (const id of ids) {
    mkdirSync(join(cachePath, id), { recursive: true });
    writeFileSync(join(cachePath, id, 'keep'), '');
    writeFileSync(join(cachePath, id, 'debuginfo'), 'x');
    age(join(cachePath, id, 'debuginfo'), 8 * DAY);
  }
  writeFileSync(join(cachePath, 'cache_clean_interval_s'), '0');
  const log = captureLog();
  const client = new DebuginfodClient({ urls: [], cachePath, log, cleanMaxDirs: 3 });
  const rounds = [];
  for (let i = 0; i < 4; i++) rounds.push(await client.clean()); // the first is also the start's round
  assert.deepEqual(
    rounds.map((r) => [r.dirs, r.filesRemoved]),
    [
      [3, 3],
      [3, 3],
      [3, 3],
      [3, 0], // the third reached the end: the fourth starts over
    ],
  );
  assert.deepEqual(
    ids.filter((id) => existsSync(join(cachePath, id, 'debuginfo'))),
    [],
  );
  assert.equal(log.lines.filter((l) => /stopped at its limit/.test(l.msg)).length, 3, 'rounds 1, 2 and 4');
  client.close();
});

test(
  'a file in use: loading it marks it used; cleaned away, names stay and the next load downloads it again',
  { skip },
  async () => {
    const cachePath = join(tmp.dir, 'cache-clean-use');
    const client = new DebuginfodClient({ urls: [serverUrl], cachePath });
    const s = new Symbolizer({ debugDirs: [], debuginfod: client });
    s.symbolizeUser(child!.pid!, addrs);
    await waitFor('named frames', () => s.symbolizeUser(child!.pid!, addrs).every((f) => f.resolved) || undefined);
    const file = join(cachePath, prog.buildId, 'debuginfo');
    const intervalFile = join(cachePath, 'cache_clean_interval_s');
    assert.equal((await client.clean()).ran, false, 'a new cache: the first round writes the interval file');

    // Loading the file sets its atime, whatever the mount's atime policy: it is kept.
    age(file, 10 * DAY);
    age(join(file, '..'), 10 * DAY);
    assert.ok(client.open(prog.buildId));
    assert.ok(Date.now() - statSync(file).atimeMs < 10_000);
    assert.ok(Date.now() - statSync(file).mtimeMs > 9 * DAY * 1000, 'mtime kept');
    age(intervalFile, 2 * DAY);
    assert.equal((await client.clean()).filesRemoved, 0);
    assert.ok(existsSync(file));

    // Unused for long: removed, while the symbolizer holds its table.
    const served0 = await served();
    age(file, 10 * DAY);
    age(join(file, '..'), 10 * DAY);
    age(intervalFile, 2 * DAY);
    const r = await client.clean();
    assert.deepEqual([r.filesRemoved, r.dirsRemoved], [1, 1]);
    assert.equal(existsSync(file), false);
    assert.deepEqual(names(s.symbolizeUser(child!.pid!, addrs)), ['sw_static_alpha', 'sw_static_beta']);

    // The next load (a fresh table) finds no file, answers module+offset, and downloads it again.
    const s2 = new Symbolizer({ debugDirs: [], debuginfod: client });
    assert.deepEqual(names(s2.symbolizeUser(child!.pid!, addrs)), [
      `prog+0x${prog.alpha.toString(16)}`,
      `prog+0x${prog.beta.toString(16)}`,
    ]);
    const named = await waitFor('names again', () => {
      const f = s2.symbolizeUser(child!.pid!, addrs);
      return f.every((x) => x.resolved) ? f : undefined;
    });
    assert.deepEqual(names(named), ['sw_static_alpha', 'sw_static_beta']);
    assert.equal(await served(), served0 + 1);
    assert.deepEqual(readFileSync(file), readFileSync(prog.debug));
    s.close();
    s2.close();
    client.close();
  },
);

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
