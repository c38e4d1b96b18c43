/**
 * Many real processes for the shared-sampler test and the many-processes benchmark: `count`
 * sleeping children forked by one shell (fast: no node spawn per process) plus `busy` shells
 * spinning on the CPU. All in one process group, ended together by end().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ProcessCrowd {
  /** The sleeping processes. */
  sleepers: number[];
  /** The processes burning CPU. */
  busy: number[];
  end(): Promise<void>;
}

const groupOf = (script: string): ChildProcess => spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });

/** Reads `n` pids, one a line, from the child's stdout. */
const readPids = (child: ChildProcess, n: number): Promise<number[]> =>
  new Promise((resolve, reject) => {
    const pids: number[] = [];
    const lines = createInterface({ input: child.stdout! });
    const done = (err?: Error) => {
      lines.close();
      if (err) reject(err);
      else resolve(pids);
    };
    if (n === 0) return done();
    lines.on('line', (l) => {
      pids.push(Number(l));
      if (pids.length === n) done();
    });
    child.once('exit', (code) => done(new Error(`process crowd shell exited (${code}) after ${pids.length} of ${n} processes`)));
  });

const spawnGroup = async (n: number, body: string): Promise<{ child: ChildProcess; pids: number[] }> => {
  const child = groupOf(`i=0; while [ $i -lt ${n} ]; do ${body} & echo $!; i=$((i+1)); done; wait`);
  return { child, pids: await readPids(child, n) };
};

export const startProcessCrowd = async (count: number, busy: number): Promise<ProcessCrowd> => {
  const groups = await Promise.all([spawnGroup(count, 'sleep 600'), spawnGroup(busy, "sh -c 'while :; do :; done'")]);
  const [sleepers, spinners] = groups;
  return {
    sleepers: sleepers.pids,
    busy: spinners.pids,
    end: async () => {
      await Promise.all(
        groups.map(({ child }) => {
          if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            return Promise.resolve(); // the group is gone already
          }
          return exited;
        }),
      );
    },
  };
};

/** This process's open file descriptors. */
export const openFds = (): number => readdirSync('/proc/self/fd').length;
