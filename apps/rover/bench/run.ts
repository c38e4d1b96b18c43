/**
 * Benchmark of rover's stack unwinding (`npm run bench` in apps/rover). Prints:
 * 1. Kernel-side cost per sample of each BPF program (bpf_stats run_time_ns / run_cnt): the
 *    frame-pointer program (bpf_get_stackid, aggregated in the kernel) and the snapshot programs
 *    (registers + kernel stack + FP walk + up to 32 KiB of user stack into a ring buffer).
 * 2. User-space unwinding cost per sample (CPU time, process.cpuUsage) on snapshots of real
 *    processes: cold (first pass, building the .eh_frame tables) and warm.
 * 3. Rover's CPU (% of one core, utime+stime from /proc/self/stat) and RSS while profiling one
 *    busy process at the default period (9 ms) with unwinding on (dwarf) and off (fp), on-CPU and
 *    off-CPU (nginx under wrk), each in a fresh child process doing what rover does per flush
 *    (drain, symbolize, build the upload messages).
 * 4. Samples and losses at 1 kHz with both CPUs busy.
 * 5. The fidelity table (frame pointers only vs CFI; corpus in @swlite/testkit), as e2e/src/fidelity.test.ts measures it;
 *    its nginx-dbgsym/haproxy-dbgsym rows when tools/debian-debug-builds.sh has built them.
 * Flags: --quick (shorter runs), --skip-fidelity. Needs root (BPF).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OnCpuProfiler, StackSnapshotProfiler, type StackSnapshot } from '@swlite/bpf';
import { Symbolizer } from '@swlite/symbolizer';
import { bpfSamplerFactory, type UnwindMode } from '../src/profiling/sampler';
import { symbolizeStacks } from '../src/profiling/stack-converter';
import { fidelitySamplers } from '../src/testing/fidelity-samplers';
import {
  availableCorpus,
  CORPUS,
  corpusUnavailable,
  formatFidelity,
  runFidelity,
  startTarget,
  type CorpusName,
} from '@swlite/testkit';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [fmt(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(fmt)].join('\n');
}

// ---- /proc/self ----------------------------------------------------------------------------

const CLK_TCK = 100;
function cpuTicks(pid: number | 'self' = 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}
function rssKb(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- child mode: one sampler as rover runs it ------------------------------------------------

async function child(mode: UnwindMode, kind: 'ON_CPU' | 'OFF_CPU', pids: number[], seconds: number, periodMs: number): Promise<void> {
  const symbolizer = new Symbolizer();
  const sampler = bpfSamplerFactory(periodMs, { unwind: mode, symbolizer })(kind);
  const flushMs = 1000;
  sampler.start(pids);
  const t0 = cpuTicks();
  const w0 = Date.now();
  let samples = 0;
  let lost = 0;
  let messages = 0;
  let switches = 0;
  const flush = (final: boolean) => {
    const r = final ? sampler.stop() : sampler.drain();
    samples += r.lost.samples;
    switches += r.switchIns ?? 0;
    lost += r.lost.ringBufferFull + r.lost.aggregationFull + r.lost.stackCollisions + r.lost.startMapFull;
    const byPid = new Map<number, typeof r.stacks>();
    for (const s of r.stacks) (byPid.get(s.tgid) ?? byPid.set(s.tgid, []).get(s.tgid)!).push(s);
    for (const [pid, stacks] of byPid) {
      messages += symbolizeStacks(symbolizer, pid, stacks).length; // one upload message per merged stack
    }
  };
  const until = w0 + seconds * 1000;
  while (Date.now() < until) {
    await sleep(Math.min(flushMs, until - Date.now()));
    flush(false);
  }
  flush(true);
  const elapsed = (Date.now() - w0) / 1000;
  const cpu = (cpuTicks() - t0) / CLK_TCK / elapsed;
  const stats = (sampler as { stats?: { snapshots: number; unwindNs: number } }).stats;
  const reused = (sampler as { snapshotsReused?: number }).snapshotsReused ?? 0;
  process.stdout.write(
    JSON.stringify({ cpu, rssKb: rssKb('VmRSS'), hwmKb: rssKb('VmHWM'), samples, switches, lost, messages, elapsed, snapshots: stats?.snapshots ?? 0, reused }) + '\n',
  );
}

interface ChildResult {
  snapshots: number;
  reused: number;
  cpu: number;
  rssKb: number;
  hwmKb: number;
  samples: number;
  switches: number;
  lost: number;
  messages: number;
  elapsed: number;
}

async function runChild(mode: UnwindMode, kind: 'ON_CPU' | 'OFF_CPU', pids: number[], seconds: number, periodMs = 9): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', self, '--child', mode, kind, pids.join(','), String(seconds), String(periodMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let s = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`child ${mode} ${kind} exited ${code}`))));
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

// ---- kernel-side cost ------------------------------------------------------------------------

interface ProgStat {
  id: number;
  runCnt: number;
  runTimeNs: number;
}

/** BPF programs this process holds, from /proc/self/fdinfo (prog_id, run_cnt, run_time_ns). */
function ownProgs(): Map<number, ProgStat> {
  const out = new Map<number, ProgStat>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let link = '';
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:bpf-prog') continue;
    let info = '';
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    const id = num('prog_id');
    if (Number.isFinite(id)) out.set(id, { id, runCnt: num('run_cnt'), runTimeNs: num('run_time_ns') });
  }
  return out;
}

/** Program ids that appeared while running `fn`. */
function newProgs(fn: () => void): number[] {
  const before = new Set(ownProgs().keys());
  fn();
  return [...ownProgs().keys()].filter((id) => !before.has(id));
}

function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const path = '/proc/sys/kernel/bpf_stats_enabled';
  let prev = '0';
  try {
    prev = readFileSync(path, 'utf8').trim();
    writeFileSync(path, '1');
  } catch {
    /* no stats: the table says so */
  }
  return fn().finally(() => {
    try {
      writeFileSync(path, prev);
    } catch {
      /* ignore */
    }
  });
}

/** Runs the three on-CPU programs together on one workload at 1 kHz and reads their stats. */
async function kernelCost(name: CorpusName, seconds: number): Promise<{ rows: string[][]; snapshots: StackSnapshot[]; pids: number[] }> {
  const target = await startTarget(name, seconds + 2);
  try {
    await sleep(400);
    return await withBpfStats(async () => {
      const fp = new OnCpuProfiler();
      const snapFp = new StackSnapshotProfiler();
      const snap8 = new StackSnapshotProfiler();
      const ids = {
        fp: newProgs(() => fp.start(target.pids, { frequency: 1000 })),
        snap8: newProgs(() => snap8.start(target.pids, { frequency: 1000, userStackBytes: 8192, userFpStacks: false })),
        snapFp: newProgs(() => snapFp.start(target.pids, { frequency: 1000, userStackBytes: 32768, userFpStacks: true })),
      };
      await sleep(seconds * 1000);
      const stats = ownProgs();
      const fpSamples = fp.stop().lost.samples;
      const { snapshots } = snapFp.stop();
      const small = snap8.stop();
      const rows: string[][] = [];
      // Runs count every CPU-clock tick of both CPUs (non-targets return at once); the cost per
      // target sample charges all of the program's time to the target's samples.
      const row = (label: string, progIds: number[], targetSamples: number, bytes: string) => {
        let runs = 0;
        let ns = 0;
        for (const id of progIds) {
          runs += stats.get(id)?.runCnt ?? 0;
          ns += stats.get(id)?.runTimeNs ?? 0;
        }
        rows.push([
          `${name}: ${label}`,
          String(runs),
          String(targetSamples),
          runs ? (ns / runs / 1000).toFixed(2) : '-',
          targetSamples ? (ns / targetSamples / 1000).toFixed(2) : '-',
          bytes,
        ]);
      };
      const avg = (ss: StackSnapshot[]) =>
        ss.length ? `${Math.round(ss.reduce((t, s) => t + 56 + s.kernelStack.length * 8 + s.userFpStack.length * 8 + s.userStack.length, 0) / ss.length)}` : '-';
      row('fp (bpf_get_stackid, in-kernel aggregation)', ids.fp, fpSamples, '-');
      row('snapshot, 8 KiB stack copy', ids.snap8, small.snapshots.length, avg(small.snapshots));
      row('snapshot, 32 KiB copy + FP walk (rover default)', ids.snapFp, snapshots.length, avg(snapshots));
      return { rows, snapshots, pids: target.pids };
    });
  } finally {
    // the caller unwinds the snapshots while the process still runs: stop after
    stopLater.push(() => target.stop());
  }
}
const stopLater: Array<() => Promise<void>> = [];

/** CPU time per snapshot to unwind: first pass (builds the tables) and warm passes. */
function unwindCost(name: string, snapshots: StackSnapshot[]): string[] {
  const s = new Symbolizer();
  const cpuUs = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let t = cpuUs();
  let frames = 0;
  for (const x of snapshots) frames += s.unwind(x.tgid, x.regs, x.userStack).length;
  const cold = (cpuUs() - t) / snapshots.length;
  const passes = quick ? 3 : 10;
  t = cpuUs();
  for (let k = 0; k < passes; k++) for (const x of snapshots) s.unwind(x.tgid, x.regs, x.userStack);
  const warm = (cpuUs() - t) / snapshots.length / passes;
  return [name, String(snapshots.length), (frames / snapshots.length).toFixed(1), cold.toFixed(1), warm.toFixed(2), (warm / (frames / snapshots.length)).toFixed(3)];
}

async function main(): Promise<void> {
  if (args[0] === '--child') {
    await child(args[1] as UnwindMode, args[2] as 'ON_CPU' | 'OFF_CPU', args[3]!.split(',').map(Number), Number(args[4]), Number(args[5]));
    return;
  }
  const secs = quick ? 2 : 4;

  // 1 + 2: kernel cost and user-space unwind cost, on three workloads.
  const kRows: string[][] = [];
  const uRows: string[][] = [];
  for (const name of ['libc', 'nginx', 'node'] as const) {
    const { rows, snapshots } = await kernelCost(name, secs);
    kRows.push(...rows);
    uRows.push(unwindCost(name, snapshots));
    for (const f of stopLater.splice(0)) await f();
  }
  console.log('\nKernel side, per sample (bpf_stats; 1 kHz on the workload):');
  console.log(table(['program', 'runs', 'target samples', 'µs/run', 'µs/target sample', 'bytes/record'], kRows));
  console.log('\nUser-space unwinding (CPU time per sample; cold = first pass incl. .eh_frame table builds):');
  console.log(table(['workload', 'samples', 'frames', 'cold µs', 'warm µs', 'µs/frame'], uRows));

  // 3: rover CPU and RSS, default period, unwinding on and off.
  const cRows: string[][] = [];
  const runSecs = quick ? 5 : 10;
  {
    const target = await startTarget('cpp', runSecs * 2 + 10);
    try {
      for (const mode of ['fp', 'dwarf'] as const) {
        const r = await runChild(mode, 'ON_CPU', target.pids, runSecs);
        cRows.push([`ON_CPU ${mode} (cpp, 2 busy threads)`, (r.samples / r.elapsed).toFixed(0), String(r.snapshots), (r.cpu * 100).toFixed(2), (r.rssKb / 1024).toFixed(0), (r.hwmKb / 1024).toFixed(0), String(r.lost)]);
      }
    } finally {
      await target.stop();
    }
  }
  {
    const target = await startTarget('nginx', runSecs * 2 + 10);
    try {
      for (const mode of ['fp', 'dwarf'] as const) {
        const r = await runChild(mode, 'OFF_CPU', target.pids, runSecs);
        cRows.push([`OFF_CPU ${mode} (nginx under wrk; switch-outs/s)`, (r.samples / r.elapsed).toFixed(0), String(r.snapshots), (r.cpu * 100).toFixed(2), (r.rssKb / 1024).toFixed(0), (r.hwmKb / 1024).toFixed(0), String(r.lost)]);
      }
    } finally {
      await target.stop();
    }
  }
  console.log('\nRover pipeline (sampler + drain/symbolize/messages every 1 s) in a fresh process, 9 ms period:');
  console.log(table(['run', 'samples/s', 'snapshots unwound', 'CPU % of a core', 'RSS MiB', 'peak RSS MiB', 'lost'], cRows));

  // 4: 1 kHz on both CPUs.
  const lRows: string[][] = [];
  {
    const target = await startTarget('libc', runSecs * 2 + 10);
    try {
      for (const mode of ['fp', 'dwarf'] as const) {
        const r = await runChild(mode, 'ON_CPU', target.pids, runSecs, 1);
        lRows.push([`1 kHz ${mode} (libc work, 2 busy threads)`, String(r.samples), (r.samples / r.elapsed).toFixed(0), String(r.lost), (r.cpu * 100).toFixed(2)]);
      }
    } finally {
      await target.stop();
    }
  }
  console.log('\nSamples lost at 1 kHz (period 1 ms of CPU time, both CPUs busy):');
  console.log(table(['run', 'samples', 'samples/s', 'lost', 'rover CPU %'], lRows));

  // 5: fidelity.
  if (!args.includes('--skip-fidelity')) {
    const rows = await runFidelity(fidelitySamplers, availableCorpus(), quick ? 2 : 3);
    console.log('\nFidelity (fp = frame-pointer stacks, cfi = snapshot + .eh_frame; rooted = unwound to the thread root):');
    console.log(formatFidelity(rows));
    for (const name of CORPUS) {
      const why = corpusUnavailable(name);
      if (why) console.log(`(${name} left out: ${why})`);
    }
  }
}

await main();
