import { CLOCK_TICKS_PER_SECOND, ProcFs, exeNameOf, isKernelThread, isZombieOrDead } from './procfs.js';
import type { ProcStat } from './procfs.js';

/** A live user-space process as read from /proc. */
export interface LiveProcess {
  pid: number;
  ppid: number;
  comm: string;
  startTicks: number;
  /** epoch ms */
  startTime: number;
  /** How long it has been running at the time of the listing, ms. */
  ageMs: number;
  argv: readonly string[];
  cmdline: string;
  /** "" when unreadable */
  exe: string;
  exeName: string;
  profilingSupported: boolean;
}

export interface ProcessTableOptions {
  /** pids never listed (default: this process). */
  excludePids?: number[];
}

/**
 * Lists the host's user-space processes, skipping kernel threads, zombies and rover itself. The
 * command line and executable are read once per (pid, start time) and cached; only
 * /proc/PID/stat is read on every listing.
 */
export class ProcessTable {
  private cache = new Map<string, Omit<LiveProcess, 'ageMs'>>();
  private bootTimeMs?: number;
  private readonly exclude: Set<number>;

  constructor(
    readonly proc: ProcFs,
    opts: ProcessTableOptions = {},
  ) {
    this.exclude = new Set(opts.excludePids ?? [process.pid]);
  }

  async list(): Promise<LiveProcess[]> {
    this.bootTimeMs ??= await this.proc.bootTimeMs();
    const uptimeMs = (await this.proc.uptimeSeconds()) * 1000;
    const pids = await this.proc.pids();
    const next = new Map<string, Omit<LiveProcess, 'ageMs'>>();
    const out: LiveProcess[] = [];
    for (const pid of pids) {
      if (this.exclude.has(pid)) continue;
      const stat = await this.proc.stat(pid);
      if (!stat || isKernelThread(stat) || isZombieOrDead(stat)) continue;
      const key = `${pid}:${stat.startTicks}`;
      let entry = this.cache.get(key);
      if (!entry) {
        entry = await this.read(stat);
        if (!entry) continue;
      }
      next.set(key, entry);
      const startedMs = (stat.startTicks * 1000) / CLOCK_TICKS_PER_SECOND;
      out.push({ ...entry, ageMs: Math.max(0, uptimeMs - startedMs) });
    }
    this.cache = next;
    return out;
  }

  /** Reads one process (undefined when it is gone or has no command line). */
  async get(pid: number): Promise<LiveProcess | undefined> {
    this.bootTimeMs ??= await this.proc.bootTimeMs();
    const stat = await this.proc.stat(pid);
    if (!stat || isKernelThread(stat) || isZombieOrDead(stat)) return undefined;
    const entry = this.cache.get(`${pid}:${stat.startTicks}`) ?? (await this.read(stat));
    if (!entry) return undefined;
    const uptimeMs = (await this.proc.uptimeSeconds()) * 1000;
    return { ...entry, ageMs: Math.max(0, uptimeMs - (stat.startTicks * 1000) / CLOCK_TICKS_PER_SECOND) };
  }

  private async read(stat: ProcStat): Promise<Omit<LiveProcess, 'ageMs'> | undefined> {
    const argv = await this.proc.argv(stat.pid);
    if (argv.length === 0) return undefined; // kernel thread, zombie or exited
    const exe = (await this.proc.exe(stat.pid)) ?? '';
    const profilingSupported = exe !== '' && (await this.proc.exeReadable(stat.pid));
    return {
      pid: stat.pid,
      ppid: stat.ppid,
      comm: stat.comm,
      startTicks: stat.startTicks,
      startTime: Math.round((this.bootTimeMs ?? 0) + (stat.startTicks * 1000) / CLOCK_TICKS_PER_SECOND),
      argv,
      cmdline: argv.join(' '),
      exe,
      exeName: exeNameOf(stat.comm, argv),
      profilingSupported,
    };
  }
}
