import { access, constants, readFile, readlink } from 'node:fs/promises';
import { closeSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

/** USER_HZ: the unit of /proc/PID/stat times; 100 on every Linux architecture rover targets. */
export const CLOCK_TICKS_PER_SECOND = 100;
/** PF_KTHREAD in the per-process flags (include/linux/sched.h). */
const PF_KTHREAD = 0x00200000;

export interface ProcStat {
  pid: number;
  /** The kernel's comm (at most 15 characters). */
  comm: string;
  /** R, S, D, Z, T, t, X, I, ... */
  state: string;
  ppid: number;
  flags: number;
  /** Clock ticks after boot. */
  startTicks: number;
}

/**
 * The fields numbered `fields` (ascending, as in proc(5): 3 = state, ...) of a /proc/PID/stat
 * text, walked once from after comm (which may contain spaces and parentheses, so it ends at the
 * last ")"). Only the wanted fields become strings: these texts are read for every process on
 * every scan and for every watched process every second, where splitting all 52 fields made
 * some 50 strings of garbage per read. Undefined when the text is cut short.
 */
export function statFields(text: string, fields: readonly number[]): string[] | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const out: string[] = [];
  let start = close + 2;
  let field = 3;
  for (const want of fields) {
    while (field < want) {
      const space = text.indexOf(' ', start);
      if (space < 0) return undefined;
      start = space + 1;
      field++;
    }
    let end = text.indexOf(' ', start);
    if (end < 0) end = text.length;
    const value = text.slice(start, end).trim();
    if (value === '') return undefined;
    out.push(value);
  }
  return out;
}

/** state, ppid, flags, starttime */
const STAT_FIELDS = [3, 4, 9, 22] as const;

/** Parses /proc/PID/stat (the fields a process listing needs). */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  const f = statFields(text, STAT_FIELDS);
  if (!f) return undefined;
  const [state, ppid, flags, startTicks] = [f[0] as string, Number(f[1]), Number(f[2]), Number(f[3])];
  if (!Number.isFinite(pid) || !Number.isFinite(startTicks)) return undefined;
  return { pid, comm, state, ppid, flags, startTicks };
}

export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0 || stat.pid === 2 || stat.ppid === 2;
}

export function isZombieOrDead(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X' || stat.state === 'x';
}

/**
 * Upstream's `ExeName` (gopsutil's Name): the comm, or, when comm is 15 characters (truncated) and
 * argv[0]'s base name starts with it, that longer base name.
 */
export function exeNameOf(comm: string, argv: readonly string[]): string {
  if (comm.length >= 15 && argv.length > 0) {
    const extended = basename(argv[0] as string);
    if (extended.startsWith(comm)) return extended;
  }
  return comm;
}

/**
 * Reads a small procfs file whole with open/read/close into a reused buffer: /proc/PID/stat is
 * read for every process on every scan, and the promise readFile costs four thread-pool round
 * trips (open, fstat, read, close) and a buffer per file. procfs reads never block on I/O.
 * Undefined when the file cannot be read (the process is gone).
 */
let scratch = Buffer.allocUnsafeSlow(4096);
function readSmallSync(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let len = 0;
    for (;;) {
      if (len === scratch.length) {
        const bigger = Buffer.allocUnsafeSlow(scratch.length * 2);
        scratch.copy(bigger);
        scratch = bigger;
      }
      const n = readSync(fd, scratch, len, scratch.length - len, null);
      if (n === 0) break;
      len += n;
    }
    return scratch.toString('utf8', 0, len);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Reads the host's procfs under `root` (default /proc). All reads return undefined when gone. */
export class ProcFs {
  constructor(readonly root = '/proc') {}

  path(...parts: (string | number)[]): string {
    return join(this.root, ...parts.map(String));
  }

  async pids(): Promise<number[]> {
    const names = readdirSync(this.root);
    const pids: number[] = [];
    for (const n of names) if (/^\d+$/.test(n)) pids.push(Number(n));
    return pids.sort((a, b) => a - b);
  }

  /** A procfs text file read whole and synchronously (see readSmallSync); undefined when gone. */
  readText(path: string): string | undefined {
    return readSmallSync(path);
  }

  async stat(pid: number): Promise<ProcStat | undefined> {
    const text = readSmallSync(`${this.root}/${pid}/stat`);
    return text === undefined ? undefined : parseStat(text);
  }

  /** argv from /proc/PID/cmdline (NUL separated); [] for kernel threads, zombies, or gone. */
  async argv(pid: number): Promise<string[]> {
    const buf = await readFile(this.path(pid, 'cmdline')).catch(() => undefined);
    if (!buf || buf.length === 0) return [];
    let text = buf.toString('utf8');
    if (text.endsWith('\0')) text = text.slice(0, -1);
    return text.split('\0');
  }

  /** Executable path, without the " (deleted)" suffix; undefined when unreadable. */
  async exe(pid: number): Promise<string | undefined> {
    const target = await readlink(this.path(pid, 'exe')).catch(() => undefined);
    if (target === undefined) return undefined;
    return target.endsWith(' (deleted)') ? target.slice(0, -' (deleted)'.length) : target;
  }

  /** Whether the executable's content can be opened (through /proc/PID/exe, works across mount namespaces). */
  async exeReadable(pid: number): Promise<boolean> {
    return access(this.path(pid, 'exe'), constants.R_OK).then(
      () => true,
      () => false,
    );
  }

  cwdSync(pid: number): string {
    return readlinkSync(this.path(pid, 'cwd'));
  }

  async cgroup(pid: number): Promise<string | undefined> {
    return readFile(this.path(pid, 'cgroup'), 'utf8').catch(() => undefined);
  }

  async environ(pid: number): Promise<string[] | undefined> {
    const buf = await readFile(this.path(pid, 'environ')).catch(() => undefined);
    if (!buf) return undefined;
    return buf
      .toString('utf8')
      .split('\0')
      .filter((s) => s !== '');
  }

  /** NSpid line of /proc/PID/status: the pid in each nested pid namespace, outermost first. */
  async nsPids(pid: number): Promise<number[] | undefined> {
    const text = await readFile(this.path(pid, 'status'), 'utf8').catch(() => undefined);
    const line = text?.split('\n').find((l) => l.startsWith('NSpid:'));
    if (!line) return undefined;
    return line.slice('NSpid:'.length).trim().split(/\s+/).map(Number);
  }

  /** Boot time (epoch ms) from the btime line of /proc/stat. */
  async bootTimeMs(): Promise<number> {
    const text = readSmallSync(this.path('stat'));
    if (text === undefined) throw new Error(`cannot read ${this.path('stat')}`);
    const m = /^btime\s+(\d+)/m.exec(text);
    if (!m) throw new Error(`no btime in ${this.path('stat')}`);
    return Number(m[1]) * 1000;
  }

  /** Seconds since boot, from /proc/uptime. */
  async uptimeSeconds(): Promise<number> {
    const text = readSmallSync(this.path('uptime'));
    if (text === undefined) throw new Error(`cannot read ${this.path('uptime')}`);
    return Number(text.split(/\s+/)[0]);
  }
}
