// `perf record -g` of one process over a bench's measured window (`--perf DIR` of bench:cost and
// bench:continuous). perf sends the process no signals, unlike --cpu-prof (V8's SIGPROF can make
// a BPF program load fail with EAGAIN).
import { spawn } from 'node:child_process';

export interface PerfRecording {
  /** Stops perf (SIGINT: it writes its data file) and waits for it to exit. */
  stop(): Promise<void>;
}

export function perfRecord(pid: number, file: string): PerfRecording {
  const perf = spawn('perf', ['record', '-F', '997', '-g', '-o', file, '-p', String(pid)], { stdio: 'ignore' });
  return {
    stop: async () => {
      if (perf.exitCode !== null || perf.signalCode !== null) return;
      const done = new Promise((r) => perf.once('exit', r));
      perf.kill('SIGINT');
      await done;
    },
  };
}
