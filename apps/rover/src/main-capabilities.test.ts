/**
 * rover started without the capabilities BPF needs (root, with capsh dropping them from the
 * bounding set, as a container without BPF/PERFMON would run it): the real main must exit at once
 * with one clear line naming the missing capability, not a libbpf errno or a kernel blame.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const roverDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = process.getuid?.() === 0;
const skip = !root && process.env.CI !== 'true' ? 'needs root to drop capabilities (capsh --drop)' : false;

const roverWithout = (caps: string) => {
  const run = spawnSync(
    'capsh',
    [`--drop=${caps}`, '--', '-c', `exec "${process.execPath}" --import tsx src/main.ts`],
    // An unreachable backend: the capability check must come before any connection.
    { cwd: roverDir, encoding: 'utf8', timeout: 90_000, env: { ...process.env, ROVER_BACKEND_ADDR: '127.0.0.1:1' } },
  );
  assert.equal(run.error, undefined, `capsh: ${run.error?.message}`);
  return { status: run.status, stderr: run.stderr, capLines: run.stderr.split('\n').filter((l) => /CAP_/.test(l)) };
};

test(
  'without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN rover exits 3 naming CAP_BPF and CAP_PERFMON on one line',
  { skip },
  () => {
    const { status, stderr, capLines } = roverWithout('cap_bpf,cap_perfmon,cap_sys_admin');
    assert.equal(status, 3, stderr);
    assert.equal(capLines.length, 1, stderr);
    assert.match(
      capLines[0]!,
      /BPF was refused: this process lacks CAP_BPF and CAP_PERFMON; run as root or grant CAP_BPF and CAP_PERFMON/,
    );
    assert.doesNotMatch(stderr, /does not support|EPERM|errno/);
  },
);

test('with CAP_BPF kept, rover names only CAP_PERFMON', { skip }, () => {
  const { status, stderr, capLines } = roverWithout('cap_perfmon,cap_sys_admin');
  assert.equal(status, 3, stderr);
  assert.equal(capLines.length, 1, stderr);
  assert.match(capLines[0]!, /lacks CAP_PERFMON;/);
  assert.doesNotMatch(capLines[0]!, /lacks CAP_BPF/);
});
