/**
 * The preflight check in real processes with real credentials: dropped to an unprivileged user
 * (setpriv), rover must name the missing capabilities instead of blaming the kernel; with
 * CAP_BPF and CAP_PERFMON as ambient capabilities it must pass.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { PreflightResult } from './preflight';

const roverDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = process.getuid?.() === 0;
/** The unprivileged process must read this checkout (and its node_modules) to run the check. */
const readableByNobody = () =>
  spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'test', '-r', join(roverDir, 'src', 'preflight.ts')])
    .status === 0;
const skip =
  !root && process.env.CI !== 'true'
    ? 'needs root to drop to another user (setpriv)'
    : root && !readableByNobody()
      ? 'this checkout is not readable by the user nobody'
      : false;

const preflightAs = (setprivArgs: string[]): PreflightResult => {
  const run = spawnSync(
    'setpriv',
    [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      ...setprivArgs,
      process.execPath,
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { preflight } from './src/preflight.ts'; console.log(JSON.stringify(preflight()));",
    ],
    { cwd: roverDir, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 0, `setpriv/node failed: ${run.error?.message ?? ''} ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as PreflightResult;
};

test('without privileges, preflight names CAP_BPF and CAP_PERFMON instead of blaming the kernel', { skip }, () => {
  const result = preflightAs([]);
  assert.equal(result.ok, false);
  const problem = result.problems.find((p) => /BPF/.test(p)) ?? '';
  assert.match(problem, /^BPF was refused: this process lacks CAP_BPF and CAP_PERFMON; run as root/);
  assert.match(problem, /CAP_SYS_ADMIN/);
  assert.doesNotMatch(problem, /does not support/);
});

test('with only CAP_BPF, preflight names CAP_PERFMON', { skip }, () => {
  const result = preflightAs(['--inh-caps=+bpf', '--ambient-caps=+bpf']);
  assert.match(result.problems.join('\n'), /lacks CAP_PERFMON;/);
});

test('with CAP_BPF and CAP_PERFMON, an unprivileged user passes preflight', { skip }, () => {
  const result = preflightAs(['--inh-caps=+bpf,+perfmon', '--ambient-caps=+bpf,+perfmon']);
  assert.deepEqual(result, { ok: true, problems: [] });
});
