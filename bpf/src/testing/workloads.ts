// Test support: build and run the C workloads in ../../test-fixtures, symbolize their stacks
// with `nm` + /proc/PID/maps (load bias for PIE) and kernel stacks with /proc/kallsyms.
// Deliberately independent of libs/symbolizer.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const fixturesDir = join(here, '..', '..', 'test-fixtures');
export const packageDir = join(here, '..', '..');

/** Runs the package Makefile (no-op when up to date) so dist/*.bpf.o exist. */
export function ensureBpfBuilt(): void {
  execFileSync('make', ['-s', '-C', packageDir], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** gcc -O1 -fno-omit-frame-pointer -g -pthread fixture.c -o <tmp>/name (flags replaceable). */
export function compileWorkload(name: string, flags = ['-O1', '-fno-omit-frame-pointer', '-g']): string {
  const dir = mkdtempSync(join(tmpdir(), 'swlite-wl-'));
  const out = join(dir, name);
  execFileSync('gcc', [...flags, '-pthread', '-o', out, join(fixturesDir, `${name}.c`)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return out;
}

/** A `key=<integer>` figure a workload printed (its own measurements: cpu_ns, hot_a_ns, ...), 0 when absent. */
export const workloadFigure = (out: string, key: string): number =>
  Number(new RegExp(`${key}=(\\d+)`).exec(out)?.[1] ?? 0);

export interface RunningWorkload {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  /** Resolves with stdout when the process exits with status 0. */
  done: Promise<string>;
  /** Sends the start line. */
  go(): void;
  /**
   * Resolves once the process waits for its start line (blocked reading stdin): from then on its
   * CPU goes to the work, not to exec and the dynamic loader, which a loaded machine stretches.
   */
  ready(timeoutMs?: number): Promise<void>;
}

/** The state letter of /proc/PID/stat (R running, S sleeping, ...), or undefined once gone. */
const procState = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2];
  } catch {
    return undefined;
  }
};

/** Spawns a workload that waits for a line on stdin before working. */
export function startWorkload(path: string, args: string[]): RunningWorkload {
  const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path} exited ${code}: ${err}`))));
    child.on('error', reject);
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${path}`);
  const pid = child.pid;
  const ready = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    // The exec'd image (not the forked Node) blocked in a read: its maps name the workload binary.
    const execd = () => {
      try {
        return readFileSync(`/proc/${pid}/maps`, 'utf8').includes(realpathSync(path));
      } catch {
        return false;
      }
    };
    while (!(procState(pid) === 'S' && execd())) {
      if (procState(pid) === undefined) throw new Error(`${path} exited before it was ready: ${err}`);
      if (Date.now() > deadline) throw new Error(`${path} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, pid, done, go: () => child.stdin.write('go\n'), ready };
}

interface Sym {
  addr: bigint;
  name: string;
}

function lookupSorted(syms: Sym[], addr: bigint): string | undefined {
  let lo = 0;
  let hi = syms.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (syms[mid]!.addr <= addr) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best < 0 ? undefined : syms[best]!.name;
}

/** Function symbols of an executable (nm), mapped to runtime addresses of one process. */
export class ExeSymbols {
  private constructor(
    private readonly syms: Sym[],
    private readonly bias: bigint,
    private readonly end: bigint,
  ) {}

  /** Reads the symbols with `nm` and the load bias from /proc/PID/maps (call while it runs). */
  static forProcess(binary: string, pid: number): ExeSymbols {
    const syms: Sym[] = [];
    for (const line of execFileSync('nm', ['--defined-only', binary], { encoding: 'utf8' }).split('\n')) {
      const m = /^([0-9a-f]+) [tTwW] (\S+)$/.exec(line);
      if (m) syms.push({ addr: BigInt(`0x${m[1]}`), name: m[2]! });
    }
    syms.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    const real = realpathSync(binary);
    let bias = 0n;
    let end = 0n;
    if (isPie(binary)) {
      for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f[5] !== real) continue;
        const [lo, hi] = f[0]!.split('-').map((x) => BigInt(`0x${x}`));
        if (BigInt(`0x${f[2]}`) === 0n && bias === 0n) bias = lo!;
        if (hi! > end) end = hi!;
      }
      if (bias === 0n) throw new Error(`${real} not mapped in /proc/${pid}/maps`);
    } else {
      end = 1n << 47n;
    }
    return new ExeSymbols(syms, bias, end);
  }

  /** Function name for a runtime address, or undefined outside the executable. */
  lookup(addr: bigint): string | undefined {
    if (addr < this.bias || addr >= this.end) return undefined;
    return lookupSorted(this.syms, addr - this.bias);
  }
}

function isPie(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(18);
    readSync(fd, b, 0, 18, 0);
    return b.readUInt16LE(16) === 3; // ET_DYN
  } finally {
    closeSync(fd);
  }
}

/** /proc/kallsyms (needs root or kptr_restrict=0 for real addresses). */
export class Kallsyms {
  private readonly syms: Sym[];
  constructor() {
    const syms: Sym[] = [];
    for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length < 3 || !/^[tTwW]$/.test(f[1]!)) continue;
      syms.push({ addr: BigInt(`0x${f[0]}`), name: f[2]!.split('\t')[0]! });
    }
    syms.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
    this.syms = syms;
  }
  lookup(addr: bigint): string | undefined {
    return lookupSorted(this.syms, addr);
  }
}

/** The Python workload (test-fixtures/python_workload.py; usage in its docstring). */
export const pythonWorkloadPath = join(fixturesDir, 'python_workload.py');
/** Debian's CPython, the interpreter the Python frame tests run. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Starts the Python workload under SYSTEM_PYTHON (waiting for its start line). */
export function startPythonWorkload(args: string[]): RunningWorkload {
  return startWorkload(SYSTEM_PYTHON, [pythonWorkloadPath, ...args]);
}
