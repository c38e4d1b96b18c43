/**
 * The differential scenario against oap-lite alone, compared with the Java OAP 10.1.0's recorded
 * answers (fixtures/java-oap-10.1.0.json, written by `npm run conformance:java -- --record`): a
 * change that makes oap-lite answer differently from the Java OAP fails here, without a JVM.
 * Differences listed in allowed-differences.json (each with its reason) are accepted.
 */
import { startTestOap, type TestOap } from '@swlite/oap-lite/testing/start';
import { findUiOperations } from '@swlite/oap-lite/testing/ui-documents';
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
  let oap: TestOap;
  before(async () => {
    oap = await startTestOap();
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
