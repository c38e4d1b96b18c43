/** Runs the swlite CLI as a child process (`node --import tsx src/main.ts`), as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MAIN = join(REPO, 'apps/cli/src/main.ts');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `swlite ...args` from the repository root; `done` resolves when it exits (killed after `timeoutMs`). */
export const startSwlite = (
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): { child: ChildProcess; done: Promise<Run> } => {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO,
    env: { ...process.env, SW_OAP_ADDRESS: '', SWLITE_OAP: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<Run>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
};

export const swlite = (args: string[], env: Record<string, string> = {}): Promise<Run> => startSwlite(args, env).done;

/** No "    at fn (file:line)" lines: a user error is one message. */
export const assertNoStack = (run: Run) => assert.doesNotMatch(run.stderr + run.stdout, /^\s+at .+[:(]/m, run.stderr);
