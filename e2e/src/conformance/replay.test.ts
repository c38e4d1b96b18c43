/**
 * The differential scenario against oap-lite alone, compared with the Java OAP 10.1.0's recorded
 * answers (fixtures/java-oap-10.1.0.json, written by `npm run conformance:java -- --record`): a
 * change that makes oap-lite answer differently from the Java OAP fails here, without a JVM.
 * Differences listed in allowed-differences.json (each with its reason) are accepted.
 */
import { findUiOperations, startOap, type OapProcess } from '@swlite/testkit';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareRuns, formatDifference, loadAllowedDifferences } from './diff';
import { readFixture } from './fixture';
import { normalizeRun } from './normalize';
import { runScenario } from './scenario';

const operations = findUiOperations();
if (!operations && process.env.CI === 'true') {
  throw new Error('shared/conformance/ui-operations.json not found; CI must have ../shared');
}
const skip = operations ? false : 'shared/conformance/ui-operations.json not found (no ../shared checkout here)';

describe('oap-lite answers as the Java OAP 10.1.0 did (recorded fixtures)', { skip }, () => {
  let oap: OapProcess;
  before(async () => {
    // the OAP's own shortest task (60 s): its validation texts are compared
    oap = await startOap({ SW_EBPF_TASK_MIN_DURATION: '60' });
  });
  after(async () => {
    await oap?.cleanup();
  });

  it('has no difference outside the allowed list, and every allowed entry is still needed', async () => {
    const fixture = readFixture();
    const run = await runScenario({
      name: 'oap-lite',
      graphqlUrl: oap.graphqlUrl,
      grpcAddress: oap.grpcAddress,
      settleMs: 0,
    });
    const result = compareRuns(fixture.answers, normalizeRun(run.answers, run.ids), loadAllowedDifferences());
    assert.deepEqual(result.differences.map(formatDifference), []);
    assert.deepEqual(
      result.unused.map((a) => `${a.step} ${a.path}`),
      [],
      'allowed differences that no longer occur: remove them from allowed-differences.json',
    );
    assert.ok(result.steps >= 100, `only ${result.steps} steps compared`);
  });
});
