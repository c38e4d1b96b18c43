import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkBpfCapabilities, permissionProblem } from './errors.js';

/** Writes a /proc/self/status and cap_last_cap pair and checks them. */
const check = (capEff: string, lastCap: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'caps-'));
  try {
    writeFileSync(join(dir, 'status'), `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`);
    writeFileSync(join(dir, 'cap_last_cap'), `${lastCap}\n`);
    return checkBpfCapabilities(join(dir, 'status'), join(dir, 'cap_last_cap'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('effective capabilities decide what BPF lacks', () => {
  assert.deepEqual(check('0000000000000000', 40), { missing: ['CAP_BPF', 'CAP_PERFMON'], legacyKernel: false });
  assert.deepEqual(check('000000c000000000', 40), { missing: [], legacyKernel: false });
  assert.deepEqual(check('0000008000000000', 40), { missing: ['CAP_PERFMON'], legacyKernel: false });
  // CAP_SYS_ADMIN alone is enough, on any kernel.
  assert.deepEqual(check('0000000000200000', 40), { missing: [], legacyKernel: false });
  // Before 5.8 (cap_last_cap 37) only CAP_SYS_ADMIN grants BPF.
  assert.deepEqual(check('0000000000000000', 37), { missing: ['CAP_SYS_ADMIN'], legacyKernel: true });
  assert.equal(check('garbage', 40), null);
});

test('the permission line names the missing capabilities and how to grant them', () => {
  assert.equal(permissionProblem({ missing: [], legacyKernel: false }), null);
  assert.match(permissionProblem({ missing: ['CAP_BPF', 'CAP_PERFMON'], legacyKernel: false })!, /lacks CAP_BPF and CAP_PERFMON; run as root/);
  assert.match(permissionProblem({ missing: ['CAP_SYS_ADMIN'], legacyKernel: true })!, /kernels before 5\.8/);
});
