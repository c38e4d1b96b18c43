/**
 * The fidelity corpus (libs/testkit/src/fidelity.ts): each binary profiled on-CPU through rover's samplers,
 * frame-pointer stacks (before) and CFI-unwound stacks (after) on the same process at the same
 * time. Floors: ≥95% of samples unwound to the thread root and ≥90% of frames named, per binary,
 * except where names do not exist: Debian's nginx and haproxy ship without .symtab (their static
 * functions are only in the -dbgsym packages), so there the test asserts that every unnamed frame
 * is in the executable itself (never [unknown], never libc) and that ≥55% are named.
 * The nginx-dbgsym and haproxy-dbgsym rows run the same Debian source rebuilt with Debian's flags
 * (tools/debian-debug-builds.sh, which `bash tools/setup.sh --tests` runs) and symbolize with that
 * build's -dbgsym debug files: there the full floors hold (≥95% rooted, ≥90% named). Without the
 * build they skip with the reason, and fail under CI=true.
 * No row may do worse than its frame-pointer stacks (the c-fp row is built with frame pointers).
 * The signal row spins inside a SIGALRM handler: ≥95% rooted means the walk crossed the kernel's
 * signal frame (glibc's __restore_rt, CFI by DWARF expressions). The -dbgsym rows, with DWARF at
 * hand, must show inlined functions as frames of their own.
 */
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { fidelitySamplers } from '@swlite/rover/testing';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import {
  CORPUS,
  corpusUnavailable,
  DEBUG_BUILD_ROWS,
  formatFidelity,
  profileTarget,
  startTarget,
  symbolizerFor,
  type CorpusName,
  type FidelityRow,
} from '@swlite/testkit';

const skip = bpfTestSkip();
const SECONDS = Number(process.env.FIDELITY_SECONDS ?? 4);
const inCI = process.env.CI === 'true';

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
  'nginx-dbgsym': ['wrk'],
  'haproxy-dbgsym': ['wrk'],
  libc: ['gcc'],
  'c-fp': ['gcc'],
  node: [],
  go: ['go'],
  cpp: ['g++'],
  signal: ['gcc'],
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
    // A -dbgsym row without its build: skipped with the reason, except under CI (the test fails).
    const unavailable = corpusUnavailable(name);
    const skipReason = missing.length
      ? `missing ${missing.join(', ')} (tools/setup.sh installs them)`
      : unavailable && !inCI
        ? unavailable
        : false;
    it(name, { skip: skipReason, timeout: 180_000 }, async () => {
      if (unavailable) assert.fail(`${name}: ${unavailable}; CI runs it through \`bash tools/setup.sh --tests\``);
      const target = await startTarget(name, SECONDS + 1);
      let row: FidelityRow;
      try {
        await new Promise((r) => setTimeout(r, name === 'node' ? 700 : 300));
        row = await profileTarget(target, SECONDS, fidelitySamplers, symbolizerFor(name));
      } finally {
        await target.stop();
      }
      rows.push(row);
      const { before, after: a } = row;
      console.log(
        `${name}: before rooted ${(before.rootedShare * 100).toFixed(1)}% named ${(before.namedShare * 100).toFixed(1)}%; ` +
          `after rooted ${(a.rootedShare * 100).toFixed(1)}% named ${(a.namedShare * 100).toFixed(1)}% ` +
          `inlined leaf ${(a.inlinedLeafShare * 100).toFixed(1)}% any ${(a.inlinedAnyShare * 100).toFixed(1)}% ` +
          `rooted through expression rules ${a.rootedByExpression} ` +
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
      if (name === 'signal') {
        assert.ok(a.rootedByExpression >= a.samples * 0.5, `signal: ${a.rootedByExpression} of ${a.samples} samples rooted through the signal frame`);
      }
      if (DEBUG_BUILD_ROWS[name]) {
        assert.ok(a.inlinedAnyShare > 0, `${name}: no inlined frame in any stack although its DWARF is at hand`);
        // With the debug files the frame-pointer frames are named too: CFI must keep up.
        assert.ok(a.namedShare >= before.namedShare - 0.03, `${name}: named ${a.namedShare} < before ${before.namedShare}`);
      }
    });
  }
});
