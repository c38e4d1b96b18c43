/**
 * Which processes are servers: they hold a listening TCP socket (IPv4 or IPv6) in their network
 * namespace. Host-mode AUTO discovery reports servers (and language-agent processes) rather than
 * every process, so short-lived commands (`npm ci`, `sleep`, a shell) never become services.
 *
 * The listening sockets are read once per network namespace per scan (/proc/PID/net/tcp{,6},
 * state 0A); a process's socket inodes come from its fd links. The verdict is cached per
 * (pid, start time): a server stays one, a non-server is looked at again after `recheckMs`
 * (a server may open its port some time after it starts).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import type { ProcFs } from './procfs.js';

/** TCP_LISTEN in /proc/net/tcp's `st` column (hex). */
const TCP_LISTEN = '0A';
/** fd tables are read up to this many entries: a process with more is judged on these. */
const MAX_FDS_READ = 65_536;

/** Inodes of the sockets in LISTEN state in one /proc/net/tcp or tcp6 text. */
export function listeningInodes(text: string, into: Set<number> = new Set()): Set<number> {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = (lines[i] as string).trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if (cols.length < 10 || cols[3] !== TCP_LISTEN) continue;
    const inode = Number(cols[9]);
    if (inode > 0) into.add(inode);
  }
  return into;
}

interface Verdict {
  server: boolean;
  checkedAt: number;
}

export class ListenerIndex {
  private verdicts = new Map<string, Verdict>();
  /** network namespace link ("net:[4026531840]") → its listening inodes, for the current scan. */
  private perNamespace = new Map<string, Set<number>>();

  constructor(
    private readonly proc: ProcFs,
    private readonly recheckMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a scan: listening sockets are read afresh, verdicts of gone processes dropped. */
  beginScan(liveKeys: Iterable<string>): void {
    this.perNamespace.clear();
    const next = new Map<string, Verdict>();
    for (const key of liveKeys) {
      const v = this.verdicts.get(key);
      if (v) next.set(key, v);
    }
    this.verdicts = next;
  }

  /** Whether the process (key = `pid:startTicks`) holds a listening TCP socket. */
  isServer(pid: number, key: string): boolean {
    const cached = this.verdicts.get(key);
    if (cached && (cached.server || this.now() - cached.checkedAt < this.recheckMs)) return cached.server;
    const server = this.holdsListener(pid);
    this.verdicts.set(key, { server, checkedAt: this.now() });
    return server;
  }

  private holdsListener(pid: number): boolean {
    const listening = this.listeningFor(pid);
    if (!listening || listening.size === 0) return false;
    let fds: string[];
    try {
      fds = readdirSync(this.proc.path(pid, 'fd'));
    } catch {
      return false; // gone, or not ours to read
    }
    const limit = Math.min(fds.length, MAX_FDS_READ);
    for (let i = 0; i < limit; i++) {
      let target: string;
      try {
        target = readlinkSync(this.proc.path(pid, 'fd', fds[i] as string));
      } catch {
        continue;
      }
      if (target.startsWith('socket:[') && listening.has(Number(target.slice(8, -1)))) return true;
    }
    return false;
  }

  private listeningFor(pid: number): Set<number> | undefined {
    let ns: string;
    try {
      ns = readlinkSync(this.proc.path(pid, 'ns', 'net'));
    } catch {
      return undefined;
    }
    let set = this.perNamespace.get(ns);
    if (!set) {
      set = new Set();
      for (const file of ['tcp', 'tcp6']) {
        const text = this.proc.readText(this.proc.path(pid, 'net', file));
        if (text !== undefined) listeningInodes(text, set);
      }
      this.perNamespace.set(ns, set);
    }
    return set;
  }
}
