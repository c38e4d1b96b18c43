/**
 * The fidelity corpus (see fidelity.ts): each binary profiled on-CPU through rover's samplers,
 * frame-pointer stacks (before) and CFI-unwound stacks (after) on the same process at the same
 * time. Floors: ≥95% of samples unwound to the thread root and ≥90% of frames named, per binary,
 * except where names do not exist: Debian's nginx and haproxy ship without .symtab (their static
 * functions are only in the -dbgsym packages), so there the test asserts that every unnamed frame
 * is in the executable itself (never [unknown], never libc) and that ≥55% are named.
 * Frame-pointer binaries must not get worse: the c-fp row must match or beat its before.
 */
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { CORPUS, formatFidelity, profileTarget, startTarget, type CorpusName, type FidelityRow } from './fidelity';

const skip = bpfTestSkip();
const SECONDS = Number(process.env.FIDELITY_SECONDS ?? 4);

const has = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const needs: Record<CorpusName, string[]> = {
  nginx: ['/usr/sbin/nginx', 'wrk'],
  haproxy: ['/usr/sbin/haproxy', 'wrk'],
  libc: ['gcc'],
  'c-fp': ['gcc'],
  node: [],
  go: ['go'],
  cpp: ['g++'],
};

/** Binaries whose own functions have no symbols to find (Debian strips .symtab). */
const DYNSYM_ONLY: Partial<Record<CorpusName, string>> = { nginx: 'nginx', haproxy: 'haproxy' };

describe('fidelity corpus: unwound to the root, frames named', { skip }, () => {
  const rows: FidelityRow[] = [];
  after(() => {
    if (rows.length) console.log(`\n${formatFidelity(rows)}\n`);
  });

  for (const name of CORPUS) {
    const missing = needs[name].filter((c) => !has(c));
    it(name, { skip: missing.length ? `missing ${missing.join(', ')} (tools/setup.sh installs them)` : false, timeout: 180_000 }, async () => {
      const target = await startTarget(name, SECONDS + 1);
      let row: FidelityRow;
      try {
        await new Promise((r) => setTimeout(r, name === 'node' ? 700 : 300));
        row = await profileTarget(target, SECONDS);
      } finally {
        await target.stop();
      }
      rows.push(row);
      const { before, after: a } = row;
      console.log(
        `${name}: before rooted ${(before.rootedShare * 100).toFixed(1)}% named ${(before.namedShare * 100).toFixed(1)}%; ` +
          `after rooted ${(a.rootedShare * 100).toFixed(1)}% named ${(a.namedShare * 100).toFixed(1)}% ` +
          `(${a.samples} samples, depth ${a.meanDepth.toFixed(1)}, unnamed ${JSON.stringify(row.unnamedByModule)}, fp walk chosen ${row.fpChosen})\n  ` +
          row.examples.slice(0, 2).join('\n  '),
      );
      assert.ok(a.samples >= 30, `${name}: only ${a.samples} samples`);
      assert.ok(a.rootedShare >= 0.95, `${name}: ${(a.rootedShare * 100).toFixed(1)}% of samples unwound to the root`);
      const exe = DYNSYM_ONLY[name];
      if (exe) {
        assert.ok(a.namedShare >= 0.55, `${name}: ${(a.namedShare * 100).toFixed(1)}% of frames named`);
        // What stays unnamed is the executable's own static functions (no .symtab in Debian's
        // build); a rare frame outside every mapping (a thread caught exiting) is tolerated.
        const elsewhere = Object.entries(row.unnamedByModule).filter(([m]) => m !== exe);
        const elsewhereFrames = elsewhere.reduce((sum, [, n]) => sum + n, 0);
        const allFrames = a.samples * a.meanDepth;
        assert.ok(elsewhereFrames <= allFrames * 0.005, `${name}: unnamed frames outside ${exe}: ${JSON.stringify(elsewhere)}`);
      } else {
        assert.ok(a.namedShare >= 0.9, `${name}: ${(a.namedShare * 100).toFixed(1)}% of frames named`);
      }
      // Never worse than the frame-pointer stacks.
      assert.ok(a.rootedShare >= before.rootedShare - 0.03, `${name}: rooted ${a.rootedShare} < before ${before.rootedShare}`);
    });
  }
});
