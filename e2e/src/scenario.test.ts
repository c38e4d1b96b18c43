/**
 * The seed's service-mesh experiment (see src/scenario/): nginx as a sidecar proxy in front of an
 * nginx app under wrk, oap-lite + rover profiling the proxy through GraphQL tasks, access log
 * verbose / minimal / off (to stdout, a pipe, as in a pod) and verbose to a file. Asserts every
 * check of scenario/checks.ts on the trees read back through GraphQL, prints the seed-style table
 * and writes the flame graphs to e2e/out/scenario/. About 90 s; skips (with the reason) without
 * BPF, nginx or wrk (under CI=true a missing tool fails instead).
 */
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkScenario } from './scenario/checks';
import { NGINX } from './scenario/nginx';
import { details, OUT_DIR, table, writeFlameGraphs } from './scenario/report';
import { runScenario } from './scenario/run';

const missingTool = (): string | false => {
  if (!existsSync(NGINX)) return `${NGINX} missing (tools/setup.sh installs nginx-light)`;
  if (!['/usr/bin/wrk', '/usr/local/bin/wrk'].some(existsSync)) return 'wrk missing (tools/setup.sh installs it)';
  return false;
};

const skip = bpfTestSkip() || (process.env.CI === 'true' ? false : missingTool());

describe('scenario: the seed experiment on one machine', { skip, timeout: 290_000 }, () => {
  it('shows the access log in the proxy profiles: off-CPU write switches, on-CPU formatting that drops with a minimal format', async () => {
    assert.equal(missingTool(), false);
    const result = await runScenario({ log: (l) => console.log(`# ${l}`), keepLogs: OUT_DIR });
    console.log(table(result));
    for (const v of result.variants) console.log(details(v));
    const files = writeFlameGraphs(result);
    assert.ok(files.every(existsSync), 'flame graph files written');
    assert.ok(result.seconds < 240, `bounded: ${result.seconds.toFixed(0)} s`);
    const { checks } = checkScenario(result);
    for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.what}`);
    const failed = checks.filter((c) => !c.ok).map((c) => c.what);
    assert.deepEqual(failed, [], `failed checks:\n${failed.join('\n')}`);
  });
});
