// The statistics behind the sample-count bounds of the profiler tests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertJudgeable, checkCount, countBound, ratioTolerance, samplesToJudge, zForTwoSided } from './testing/sampling.js';

describe('sample-count bounds', () => {
  it('z of a two-sided normal tail matches the tables', () => {
    assert.ok(Math.abs(zForTwoSided(0.0027) - 3.0) < 0.005);
    assert.ok(Math.abs(zForTwoSided(0.05) - 1.96) < 0.005);
    assert.ok(Math.abs(zForTwoSided(1e-5) - 4.417) < 0.005);
    assert.throws(() => zForTwoSided(0), /within \(0, 1\)/);
  });

  it('a Poisson count stays inside its bound at the stated rate (simulated)', () => {
    // Poisson(400) drawn 20,000 times with a 1e-2 bound: about 200 outside, never 3x that.
    let seed = 12345;
    const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 0.5) / 2 ** 31;
    const poisson = (mean: number) => {
      let k = 0;
      let p = Math.exp(-mean);
      let cdf = p;
      const u = uniform();
      while (u > cdf) {
        k++;
        p *= mean / k;
        cdf += p;
      }
      return k;
    };
    const bound = countBound(400, { failureRate: 1e-2 });
    let outside = 0;
    for (let i = 0; i < 20_000; i++) if (checkCount('x', poisson(400), bound) !== null) outside++;
    assert.ok(outside < 600, `${outside} of 20000 outside a 1% bound`);
  });

  it('says why a count is out, and why a starved run cannot be judged', () => {
    assert.equal(checkCount('hot_a', 100, countBound(100)), null);
    assert.match(checkCount('hot_a', 10, countBound(100)) ?? '', /hot_a: 10 samples, expected 100 .* within \[56, 144\]/);
    assert.throws(
      () => assertJudgeable('on-CPU', { cpuMs: 450, wallMs: 8000, periodMs: 9, needSamples: 100 }),
      /too busy to judge .* 450 ms of CPU in 8\.0 s \(6% of a core\), 50 samples at 9 ms; at least 100/,
    );
    assertJudgeable('on-CPU', { cpuMs: 900, wallMs: 8000, periodMs: 9, needSamples: 100 });
    assert.equal(samplesToJudge(0.5), 79);
    assert.ok(Math.abs(ratioTolerance(300, 100, 0.1) - 4.417 * Math.sqrt(1 / 300 + 1 / 100)) < 0.01);
  });
});
