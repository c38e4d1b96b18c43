// A debuginfod client: separate debug files fetched by build-id from HTTP servers, with the
// conventions of elfutils' client (debuginfod-find, gdb, perf): DEBUGINFOD_URLS (servers,
// space-separated, tried in order), DEBUGINFOD_CACHE_PATH (else $XDG_CACHE_HOME/debuginfod_client
// or ~/.cache/debuginfod_client), DEBUGINFOD_TIMEOUT, DEBUGINFOD_MAXTIME, DEBUGINFOD_MAXSIZE;
// `GET <url>/buildid/<hex>/debuginfo`, cached as `<cache>/<hex>/debuginfo`, a miss remembered as
// an empty file there (as elfutils does) for `<cache>/cache_miss_s` seconds.
//
// Nothing here blocks: `request()` queues a download and returns; the symbolizer keeps naming
// frames `module+0x…` until the file arrives and then drops its cached table (`onFile`).
//
// The cache is cleaned as elfutils' client cleans it (`clean()`): at most once per
// `<cache>/cache_clean_interval_s` seconds (default 86400; the time of the last round is that
// file's mtime), files not accessed (atime) for `<cache>/max_unused_age_s` seconds (default
// 604800) are removed, miss markers included, then build-id directories left empty whose mtime
// is as old. Rounds run in the background, when the client starts and when a download is queued.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, type Stats } from 'node:fs';
import { lstat, open, opendir, readdir, rmdir, unlink, utimes } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readElf, type ElfFile } from './elf.js';

/** The pino-shaped logger the client reports to (rover passes its own). */
export interface DebuginfodLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface DebuginfodOptions {
  /** Server URL prefixes, tried in order. */
  urls: string[];
  /** Cache directory (default: DEBUGINFOD_CACHE_PATH's rule, see `defaultCachePath`). */
  cachePath?: string;
  /** A server must send the first 100 KiB (or the whole file) within this many ms (default 90 s; 0: none). */
  timeoutMs?: number;
  /** Whole download time limit in ms (default 0: none). */
  maxTimeMs?: number;
  /** Largest file to download, in bytes (0: no limit; default 1 GiB). */
  maxSize?: number;
  /** Bytes this client may download in its lifetime (default 4 GiB); then it stops asking. */
  maxTotalBytes?: number;
  /** Downloads at the same time (default 2). */
  concurrency?: number;
  /** Build-ids waiting for (or in) a download at most (default 512); more requests are dropped and asked again later. */
  maxPending?: number;
  /** How long a miss (404 from every server) is remembered (default: <cache>/cache_miss_s, else 600 s). */
  missTtlMs?: number;
  /** Time between cache cleaning rounds (default: <cache>/cache_clean_interval_s, else 86400 s; 0: at every trigger). */
  cleanIntervalMs?: number;
  /** Cached files not accessed for this long are removed (default: <cache>/max_unused_age_s, else 604800 s). */
  maxUnusedAgeMs?: number;
  /** Build-id directories a cleaning round looks at, at most (default 100000); the next round goes on from there. */
  cleanMaxDirs?: number;
  /** Retry time after a failure that may be transient (server down, timeout, 5xx) (default 60 s). */
  errorRetryMs?: number;
  /** A failing server is skipped for this long, doubling per failure up to 10 minutes (default 30 s). */
  serverBackoffMs?: number;
  log?: DebuginfodLogger;
}

export interface DebuginfodStats {
  /** HTTP requests sent. */
  requests: number;
  /** Files downloaded and verified. */
  downloads: number;
  bytes: number;
  /** 404 from every server (negative-cached). */
  misses: number;
  /** Failed attempts (network, timeout, HTTP error, bad file). */
  failures: number;
  pending: number;
}

/** What a cleaning round did (`clean()`). */
export interface DebuginfodCleanResult {
  /** False when the interval had not passed (or the cache is missing or not writable): nothing looked at. */
  ran: boolean;
  /** Build-id directories looked at. */
  dirs: number;
  /** Files removed (debug files, miss markers, stale temporary files), and their bytes. */
  filesRemoved: number;
  bytesRemoved: number;
  /** Empty build-id directories removed. */
  dirsRemoved: number;
}

type Attempt =
  | { kind: 'ok'; path: string; bytes: number }
  | { kind: 'notfound' }
  | { kind: 'toolarge'; size: number }
  | { kind: 'budget' }
  | { kind: 'error'; reason: string };

interface Server {
  url: string; // without trailing slash
  shown: string; // for logs: without credentials
  failing: boolean;
  skipUntil: number;
  backoffMs: number;
}

interface Pending {
  promise: Promise<string | undefined>;
  resolve: (path: string | undefined) => void;
}

const FIRST_BYTES = 100 * 1024; // the "download commencing" amount of DEBUGINFOD_TIMEOUT
const MAX_BACKOFF_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 16384;
const BUILD_ID = /^[0-9a-f]{8,128}$/;
/** elfutils' defaults for its cache control files. */
const CLEAN_INTERVAL_S = 86400;
const MAX_UNUSED_AGE_S = 604800;
/** After a round that could not run (no cache yet, not writable): look again no sooner than this. */
const CLEAN_RECHECK_MS = 60_000;
/** elfutils' cleaning pattern, `[a-f0-9]+(/hdr.*|/debuginfo|/executable|/source.*|)`, below the cache root. */
const CACHE_DIR = /^[a-f0-9]+$/;
const CACHE_FILE = /^(?:debuginfo|executable|source.*|hdr.*)$/s;
/** Our own download in progress (`attempt`); left behind only by a process that died mid-download. */
const TEMP_FILE = /^\.debuginfo\.\d+\.[0-9a-z]*\.tmp$/;

const stderrLogger: DebuginfodLogger = {
  info: () => {},
  warn: (fields, msg) => console.error(`debuginfod: ${msg} ${JSON.stringify(fields)}`),
};

/** The cache directory elfutils' client would use with this environment. */
export function defaultCachePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DEBUGINFOD_CACHE_PATH) return env.DEBUGINFOD_CACHE_PATH;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'debuginfod_client');
  const home = env.HOME || homedir();
  const legacy = join(home, '.debuginfod_client_cache'); // deprecated; used only if it exists
  try {
    if (statSync(legacy).isDirectory()) return legacy;
  } catch {
    /* absent */
  }
  return join(home, '.cache', 'debuginfod_client');
}

/**
 * Client options from DEBUGINFOD_* variables, or undefined when DEBUGINFOD_URLS names no server
 * (then nothing is fetched: the same rule as elfutils' tools).
 */
export function debuginfodOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DebuginfodOptions | undefined {
  const urls = (env.DEBUGINFOD_URLS ?? '').split(/\s+/).filter((u) => /^https?:\/\//i.test(u));
  if (urls.length === 0) return undefined;
  const num = (name: string): number | undefined => {
    const v = env[name]?.trim();
    if (!v) return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const timeout = num('DEBUGINFOD_TIMEOUT');
  const maxTime = num('DEBUGINFOD_MAXTIME');
  const maxSize = num('DEBUGINFOD_MAXSIZE');
  return {
    urls,
    cachePath: defaultCachePath(env),
    ...(timeout !== undefined && { timeoutMs: timeout > 0 ? timeout * 1000 : 0 }),
    ...(maxTime !== undefined && { maxTimeMs: maxTime > 0 ? maxTime * 1000 : 0 }),
    ...(maxSize !== undefined && { maxSize: maxSize > 0 ? maxSize : 0 }),
  };
}

export class DebuginfodClient {
  readonly cachePath: string;
  private readonly servers: Server[];
  private readonly o: Required<
    Omit<DebuginfodOptions, 'urls' | 'cachePath' | 'log' | 'missTtlMs' | 'cleanIntervalMs' | 'maxUnusedAgeMs'>
  > & {
    missTtlMs: number;
    cleanIntervalMs?: number;
    maxUnusedAgeMs?: number;
  };
  private readonly log: DebuginfodLogger;
  /** build-id → when to ask the servers again. */
  private readonly misses = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  private readonly queue: string[] = [];
  private running = 0;
  private pumpScheduled = false;
  private readonly aborts = new Set<AbortController>();
  private readonly listeners = new Set<(buildId: string, path: string) => void>();
  private idleWaiters: (() => void)[] = [];
  private downloaded = 0;
  private budgetLogged = false;
  private closed = false;
  /** The cleaning round under way, if any. */
  private cleaning?: Promise<DebuginfodCleanResult>;
  /** When a background round may be due again (the interval file says when exactly). */
  private nextCleanAt = 0;
  /** Build-ids this process opened while a round runs: their files are in use, the round leaves them. */
  private usedDuringClean?: Set<string>;
  /** Build-id directories the last round stopped short of (its `cleanMaxDirs` reached): the next one starts there. */
  private cleanOffset = 0;
  private readonly counters = { requests: 0, downloads: 0, misses: 0, failures: 0 };

  constructor(opts: DebuginfodOptions) {
    this.cachePath = opts.cachePath ?? defaultCachePath();
    this.servers = opts.urls.map((u) => {
      const url = u.replace(/\/+$/, '');
      let shown = url;
      try {
        const p = new URL(url);
        p.username = '';
        p.password = '';
        shown = p.toString().replace(/\/+$/, '');
      } catch {
        /* logged as given */
      }
      return { url, shown, failing: false, skipUntil: 0, backoffMs: opts.serverBackoffMs ?? 30_000 };
    });
    this.o = {
      timeoutMs: opts.timeoutMs ?? 90_000,
      maxTimeMs: opts.maxTimeMs ?? 0,
      maxSize: opts.maxSize ?? 1 << 30,
      maxTotalBytes: opts.maxTotalBytes ?? 4 * 2 ** 30,
      concurrency: Math.max(1, opts.concurrency ?? 2),
      maxPending: Math.max(1, opts.maxPending ?? 512),
      missTtlMs: opts.missTtlMs ?? this.cacheMissSeconds() * 1000,
      errorRetryMs: opts.errorRetryMs ?? 60_000,
      serverBackoffMs: opts.serverBackoffMs ?? 30_000,
      cleanIntervalMs: opts.cleanIntervalMs,
      maxUnusedAgeMs: opts.maxUnusedAgeMs,
      cleanMaxDirs: Math.max(1, opts.cleanMaxDirs ?? 100_000),
    };
    this.log = opts.log ?? stderrLogger;
    this.maybeClean(); // a long-running process's cache shrinks from its start on
  }

  get urls(): string[] {
    return this.servers.map((s) => s.shown);
  }

  stats(): DebuginfodStats {
    return { ...this.counters, bytes: this.downloaded, pending: this.pending.size };
  }

  /** Path of the cached debug file of a build-id: `<cache>/<hex>/debuginfo`. */
  cacheFile(buildId: string): string {
    return join(this.cachePath, buildId, 'debuginfo');
  }

  /** The cached debug file, opened and checked (an ELF with this build-id), or undefined. Synchronous; no network. */
  open(buildId: string): ElfFile | undefined {
    if (!BUILD_ID.test(buildId)) return undefined;
    const path = this.cacheFile(buildId);
    try {
      const s = statSync(path);
      if (s.size === 0) return undefined; // a remembered miss
      const elf = readElf(path);
      if (elf.buildId !== buildId) return undefined;
      this.used(buildId, path, s);
      return elf;
    } catch {
      return undefined; // absent, or removed (by a cleaner) under us: fetched again
    }
  }

  /** Calls `fn(buildId, path)` when a debug file becomes available; returns the unsubscribe. */
  onFile(fn: (buildId: string, path: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Makes sure a download of this build-id is under way unless it is cached, a recent miss, or
   * already asked. Returns at once. When the file is found in the cache (put there by another
   * process, say), the `onFile` listeners are told now.
   */
  request(buildId: string): void {
    if (this.closed || !BUILD_ID.test(buildId) || this.pending.has(buildId)) return;
    const until = this.misses.get(buildId);
    if (until !== undefined && until > Date.now()) return;
    void this.fetch(buildId);
  }

  /** Downloads (or finds in the cache) the debug file of a build-id; resolves to its path, or undefined. */
  fetch(buildId: string): Promise<string | undefined> {
    const known = this.pending.get(buildId);
    if (known) return known.promise;
    if (this.closed || !BUILD_ID.test(buildId)) return Promise.resolve(undefined);
    if (this.open(buildId)) {
      const path = this.cacheFile(buildId);
      this.misses.delete(buildId);
      this.emit(buildId, path);
      return Promise.resolve(path);
    }
    const now = Date.now();
    const until = this.misses.get(buildId) ?? this.diskMiss(buildId);
    if (until !== undefined && until > now) return Promise.resolve(undefined);
    if (this.downloaded >= this.o.maxTotalBytes) {
      this.budgetSpent();
      return Promise.resolve(undefined);
    }
    if (this.pending.size >= this.o.maxPending) return Promise.resolve(undefined); // asked again later
    let resolve!: (p: string | undefined) => void;
    const promise = new Promise<string | undefined>((r) => (resolve = r));
    this.pending.set(buildId, { promise, resolve });
    this.queue.push(buildId);
    this.maybeClean();
    // Start on a later turn of the event loop: the caller (a symbolization) returns first, and
    // the one-time cost of loading fetch (~17 ms) is not charged to it.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
    return promise;
  }

  /** Resolves when no download is queued or running. */
  idle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * A cleaning round, elfutils' way: when `<cache>/cache_clean_interval_s` seconds (created with
   * 86400 when absent) have passed since that file's mtime, its mtime is set to now, then every
   * `<build-id>/{debuginfo,executable,source*,hdr*}` (miss markers included) whose atime is at
   * least `<cache>/max_unused_age_s` seconds (created with 604800) old is removed, and build-id
   * directories whose mtime is as old are removed when empty. Files this client opens or
   * downloads meanwhile are left alone. All I/O is asynchronous, one operation at a time; at most
   * one round runs per client (a second call gets the same round). The client runs it by itself
   * in the background; calling it is for tests and tools.
   */
  clean(): Promise<DebuginfodCleanResult> {
    this.cleaning ??= this.cleanRound().finally(() => (this.cleaning = undefined));
    return this.cleaning;
  }

  /** Aborts downloads under way and refuses new ones. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ac of this.aborts) ac.abort();
    for (const id of this.queue.splice(0)) this.settle(id, undefined);
    this.listeners.clear();
  }

  // ---- internals --------------------------------------------------------------------------

  /** Starts a cleaning round on a later event-loop turn when one may be due. Cheap: one comparison. */
  private maybeClean(): void {
    if (this.closed || this.cleaning || Date.now() < this.nextCleanAt) return;
    this.nextCleanAt = Number.POSITIVE_INFINITY; // until the round says when the next one is due
    setImmediate(() => {
      if (this.closed) return;
      void this.clean();
    });
  }

  private async cleanRound(): Promise<DebuginfodCleanResult> {
    const result: DebuginfodCleanResult = { ran: false, dirs: 0, filesRemoved: 0, bytesRemoved: 0, dirsRemoved: 0 };
    const t0 = Date.now();
    this.nextCleanAt = t0 + CLEAN_RECHECK_MS; // unless the interval file says otherwise below
    try {
      if (!(await lstat(this.cachePath)).isDirectory()) return result;
    } catch {
      return result; // no cache yet: nothing to clean
    }
    const intervalPath = join(this.cachePath, 'cache_clean_interval_s');
    const iv = await controlFile(intervalPath, CLEAN_INTERVAL_S);
    if (!iv) return result; // not writable: not ours to clean (and no way to record a round)
    const interval = this.o.cleanIntervalMs ?? iv.value * 1000;
    if (t0 - iv.mtimeMs < interval) {
      this.nextCleanAt = iv.mtimeMs + interval;
      return result;
    }
    // Recorded first, as elfutils does, so that other clients sharing the cache skip this round.
    try {
      await utimes(intervalPath, t0 / 1000, t0 / 1000);
    } catch {
      return result;
    }
    this.nextCleanAt = t0 + interval;
    const maxAge =
      this.o.maxUnusedAgeMs ??
      ((await controlFile(join(this.cachePath, 'max_unused_age_s'), MAX_UNUSED_AGE_S))?.value ?? MAX_UNUSED_AGE_S) *
        1000;
    result.ran = true;
    this.usedDuringClean = new Set();
    let index = 0;
    let complete = true;
    try {
      // Streamed (constant memory), one file operation at a time: the event loop stays free.
      const root = await opendir(this.cachePath, { bufferSize: 64 });
      for await (const ent of root) {
        if (this.closed) break;
        if (!CACHE_DIR.test(ent.name) || ent.isFile() || ent.isSymbolicLink()) continue;
        if (index++ < this.cleanOffset) continue; // the previous round's share
        if (result.dirs >= this.o.cleanMaxDirs) {
          complete = false;
          break;
        }
        result.dirs++;
        await this.cleanDir(ent.name, t0, maxAge, result);
      }
      this.cleanOffset = complete ? 0 : this.cleanOffset + result.dirs - result.dirsRemoved;
      if (!complete) {
        this.log.info(
          { dirs: result.dirs, next: this.cleanOffset },
          'debuginfod cache clean stopped at its limit; the next round goes on from there',
        );
      }
    } catch (err) {
      this.log.warn({ cachePath: this.cachePath, err: (err as Error).message }, 'debuginfod cache clean failed');
    } finally {
      this.usedDuringClean = undefined;
    }
    if (result.filesRemoved || result.dirsRemoved) {
      this.log.info(
        { files: result.filesRemoved, bytes: result.bytesRemoved, dirs: result.dirsRemoved, ms: Date.now() - t0 },
        'debuginfod cache cleaned',
      );
    }
    return result;
  }

  /** One `<cache>/<build-id>` directory of a round: old files out, then the directory if old and empty. */
  private async cleanDir(id: string, now: number, maxAge: number, result: DebuginfodCleanResult): Promise<void> {
    const dir = join(this.cachePath, id);
    // In use here: a download writing into it, or a file opened since the round began.
    const busy = () => this.pending.has(id) || this.usedDuringClean?.has(id) === true;
    if (busy()) return;
    let dirStat: Stats;
    let names: string[];
    try {
      dirStat = await lstat(dir);
      if (!dirStat.isDirectory()) return;
      names = await readdir(dir);
    } catch {
      return; // gone meanwhile
    }
    for (const name of names) {
      const temp = TEMP_FILE.test(name);
      if (!temp && !CACHE_FILE.test(name)) continue;
      const path = join(dir, name);
      let s: Stats;
      try {
        s = await lstat(path);
      } catch {
        continue;
      }
      if (!s.isFile()) continue;
      // elfutils goes by atime ("accessed"); a temporary file by mtime (a live download writes it).
      if (now - (temp ? s.mtimeMs : s.atimeMs) < maxAge) continue;
      if (busy()) return;
      try {
        await unlink(path);
        result.filesRemoved++;
        result.bytesRemoved += s.size;
      } catch {
        /* gone, or not ours to remove */
      }
    }
    // Old and (now) empty; the mtime check narrows the race with a directory just made for a download.
    if (now - dirStat.mtimeMs < maxAge || busy()) return;
    try {
      await rmdir(dir);
      result.dirsRemoved++;
    } catch {
      /* not empty (another kind of file, a concurrent download): stays */
    }
  }

  /**
   * A cached file was opened: in use. Reading may not update its atime (noatime, or relatime
   * within a day), and atime is what cleaning goes by, so it is set here (mtime kept).
   */
  private used(buildId: string, path: string, s: Stats): void {
    this.usedDuringClean?.add(buildId);
    const now = Date.now();
    if (now - s.atimeMs < 60_000) return;
    try {
      utimesSync(path, now / 1000, s.mtimeMs / 1000);
    } catch {
      /* another user's file in a shared cache: the kernel's atime only */
    }
  }

  private pump(): void {
    while (!this.closed && this.running < this.o.concurrency && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.running++;
      this.download(id)
        .catch((err: Error) => {
          this.log.warn({ buildId: id, err: err.message }, 'debuginfod download failed');
          return undefined;
        })
        .then((path) => {
          this.running--;
          this.settle(id, path);
          this.pump();
        });
    }
  }

  private settle(id: string, path: string | undefined): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    this.usedDuringClean?.add(id); // a round's earlier look at this directory is out of date
    if (path) this.emit(id, path);
    p?.resolve(path);
    if (this.pending.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private emit(buildId: string, path: string): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(buildId, path);
      } catch {
        /* a listener's problem is not ours */
      }
    }
  }

  private remember(buildId: string, until: number): void {
    this.misses.delete(buildId);
    if (this.misses.size >= MAX_REMEMBERED) this.misses.delete(this.misses.keys().next().value!);
    this.misses.set(buildId, until);
  }

  /** An elfutils-style miss marker (empty file) still in force: when to retry, else undefined. */
  private diskMiss(buildId: string): number | undefined {
    try {
      const s = statSync(this.cacheFile(buildId));
      if (s.size !== 0) return undefined;
      const until = s.mtimeMs + this.o.missTtlMs;
      if (until > Date.now()) {
        this.remember(buildId, until);
        return until;
      }
    } catch {
      /* no marker */
    }
    return undefined;
  }

  private cacheMissSeconds(): number {
    try {
      const n = Number(readFileSync(join(this.cachePath, 'cache_miss_s'), 'latin1').trim());
      if (Number.isFinite(n) && n >= 0) return n;
    } catch {
      /* default */
    }
    return 600;
  }

  private budgetSpent(): void {
    if (this.budgetLogged) return;
    this.budgetLogged = true;
    this.log.warn(
      { bytes: this.downloaded, maxTotalBytes: this.o.maxTotalBytes },
      'debuginfod download budget spent; no more downloads',
    );
  }

  private async download(buildId: string): Promise<string | undefined> {
    let transient = false;
    let tooLarge = false;
    for (const server of this.servers) {
      if (this.closed) return undefined;
      if (server.skipUntil > Date.now()) {
        transient = true;
        continue;
      }
      const t0 = Date.now();
      const r = await this.attempt(server, buildId);
      if (r.kind === 'ok') {
        this.serverOk(server);
        this.misses.delete(buildId);
        this.counters.downloads++;
        this.log.info({ buildId, url: server.shown, bytes: r.bytes, ms: Date.now() - t0 }, 'debug file downloaded');
        return r.path;
      }
      if (r.kind === 'notfound') {
        this.serverOk(server);
        continue;
      }
      if (r.kind === 'toolarge') {
        tooLarge = true;
        continue;
      }
      if (r.kind === 'budget') {
        this.budgetSpent();
        return undefined;
      }
      if (this.closed) return undefined;
      this.counters.failures++;
      transient = true;
      this.serverFailed(server, buildId, r.reason);
    }
    if (transient) this.remember(buildId, Date.now() + this.o.errorRetryMs);
    else {
      this.counters.misses++;
      this.remember(buildId, Date.now() + this.o.missTtlMs);
      if (!tooLarge) this.writeMissMarker(buildId);
    }
    return undefined;
  }

  private serverOk(server: Server): void {
    server.backoffMs = this.o.serverBackoffMs;
    if (!server.failing) return;
    server.failing = false;
    this.log.info({ url: server.shown }, 'debuginfod server answers again');
  }

  private serverFailed(server: Server, buildId: string, reason: string): void {
    server.skipUntil = Date.now() + server.backoffMs;
    server.backoffMs = Math.min(server.backoffMs * 2, MAX_BACKOFF_MS);
    if (server.failing) return; // one line per server until it answers again
    server.failing = true;
    this.log.warn(
      { url: server.shown, buildId, reason, retryInMs: server.skipUntil - Date.now() },
      'debuginfod server failing; frames of modules without symbols stay module+offset',
    );
  }

  /** Remembers a miss on disk as elfutils does: an empty, unreadable file in place of the debug file. */
  private writeMissMarker(buildId: string): void {
    const path = this.cacheFile(buildId);
    try {
      mkdirSync(join(this.cachePath, buildId), { recursive: true, mode: 0o700 });
      try {
        if (statSync(path).size > 0) return; // a real file arrived meanwhile
        utimesSync(path, new Date(), new Date());
      } catch {
        writeFileSync(path, '', { mode: 0o000 });
      }
    } catch {
      /* an unwritable cache only costs a repeated query */
    }
  }

  private async attempt(server: Server, buildId: string): Promise<Attempt> {
    const url = `${server.url}/buildid/${buildId}/debuginfo`;
    const ac = new AbortController();
    this.aborts.add(ac);
    let timedOut: string | undefined;
    const timer = (ms: number, why: string) =>
      ms > 0
        ? setTimeout(() => {
            timedOut = why;
            ac.abort();
          }, ms).unref()
        : undefined;
    let firstBytes = timer(this.o.timeoutMs, `no ${FIRST_BYTES / 1024} KiB within ${this.o.timeoutMs} ms`);
    const whole = timer(this.o.maxTimeMs, `download longer than ${this.o.maxTimeMs} ms`);
    const dir = join(this.cachePath, buildId);
    const tmp = join(dir, `.debuginfo.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    let wroteTmp = false;
    try {
      this.counters.requests++;
      const res = await fetch(url, { signal: ac.signal, headers: { 'user-agent': 'swlite-symbolizer' } });
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {});
        return { kind: 'notfound' };
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel().catch(() => {});
        return { kind: 'error', reason: `HTTP ${res.status}` };
      }
      const declared = Number(res.headers.get('x-debuginfod-size') ?? res.headers.get('content-length') ?? NaN);
      if (this.o.maxSize > 0 && declared > this.o.maxSize) {
        await res.body.cancel().catch(() => {});
        return { kind: 'toolarge', size: declared };
      }
      if (declared > 0 && this.downloaded + declared > this.o.maxTotalBytes) {
        await res.body.cancel().catch(() => {});
        return { kind: 'budget' };
      }
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fh = await open(tmp, 'w', 0o644).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        // Another process's cleaner removed the (old, empty) directory just now: make it again.
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        return open(tmp, 'w', 0o644);
      });
      wroteTmp = true;
      let got = 0;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          got += chunk.byteLength;
          this.downloaded += chunk.byteLength;
          if (this.o.maxSize > 0 && got > this.o.maxSize) {
            ac.abort();
            return { kind: 'toolarge', size: got };
          }
          if (this.downloaded > this.o.maxTotalBytes) {
            ac.abort();
            return { kind: 'budget' };
          }
          if (firstBytes && got >= FIRST_BYTES) {
            clearTimeout(firstBytes);
            firstBytes = undefined;
          }
          await fh.write(chunk);
        }
      } finally {
        await fh.close();
      }
      // Only an ELF file with the very build-id asked for goes into the cache.
      let elf: ElfFile;
      try {
        elf = readElf(tmp, url);
      } catch {
        return { kind: 'error', reason: `not an ELF file (${got} bytes)` };
      }
      if (elf.buildId !== buildId) return { kind: 'error', reason: `build-id mismatch (got ${elf.buildId ?? 'none'})` };
      renameSync(tmp, this.cacheFile(buildId));
      wroteTmp = false;
      return { kind: 'ok', path: this.cacheFile(buildId), bytes: got };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return { kind: 'error', reason: timedOut ?? e.cause?.code ?? e.cause?.message ?? e.message };
    } finally {
      if (firstBytes) clearTimeout(firstBytes);
      if (whole) clearTimeout(whole);
      this.aborts.delete(ac);
      if (wroteTmp) rmSync(tmp, { force: true });
    }
  }
}

/**
 * elfutils' `debuginfod_config_cache`: a control file in the cache root holding a decimal number,
 * created with the default when absent or empty. Undefined when it cannot be opened for writing.
 */
async function controlFile(path: string, def: number): Promise<{ value: number; mtimeMs: number } | undefined> {
  let fh;
  try {
    fh = await open(path, 'a+', 0o666);
  } catch {
    return undefined;
  }
  try {
    const s = await fh.stat();
    if (s.size === 0) {
      await fh.write(String(def));
      return { value: def, mtimeMs: s.mtimeMs };
    }
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(64), 0, 64, 0);
    const m = /^\s*([+-]?\d+)/.exec(buffer.toString('latin1', 0, bytesRead));
    return { value: m ? Math.max(0, Number(m[1])) : def, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => {});
  }
}

/** True when a file is worth asking debuginfod about: names beyond .dynsym would come only from a debug file. */
export function wantsDebuginfo(elf: ElfFile): boolean {
  if (!elf.buildId || elf.hasSymtab) return false;
  // MiniDebugInfo already names local functions; Go binaries carry their own function table.
  return !elf.sections.some((s) => s.name === '.gnu_debugdata' || s.name === '.gopclntab');
}
