// Helpers for tests: build small native programs and run them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'swsym-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function have(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0;
}

/** The go binary, looked up in PATH and the usual install location. */
export function goBinary(): string | undefined {
  if (have('go')) return 'go';
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

export function write(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Starts a program, waits for its first stdout line (addresses it prints), returns both. */
export async function startAndReadLine(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: opts.env, cwd: opts.cwd });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${cmd}: no output in time`)), opts.timeoutMs ?? 20000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(t);
        resolve(buf.slice(0, nl));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${cmd} exited early (${code})`));
    });
  });
  child.removeAllListeners('exit');
  return { child, line };
}

export function stop(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.pid) child.kill('SIGKILL');
}

export const CLI = join(import.meta.dirname, '..', 'cli.ts');

/** Runs the CLI; returns stdout. */
export function cli(args: string[]): string {
  return run(process.execPath, ['--import', 'tsx', CLI, ...args]);
}
