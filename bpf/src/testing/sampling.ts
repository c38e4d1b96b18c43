// Test support: bounds on sample counts derived from the CPU time a workload actually got, so a
// test judges the profiler and not how busy the machine was.
//
// Why a Poisson bound holds for periodic sampling: a per-CPU clock event fires every `period` of
// wall time and the sample lands on whatever runs at that instant. Given that the workload ran
// for a measured CPU time T in intervals whose phases are independent of the timer, an interval
// shorter than the period collects 0 or 1 sample (variance p(1-p) ≤ p), a longer one collects
// floor or ceil of its expected count (variance ≤ 1/4 ≤ its expectation): the count has mean
// T/period and a variance at most that mean. The bound is therefore conservative on an idle
// machine (where the count is nearly exact) and still right on a busy one.

/** Chance that one assertion built on these bounds fails for a correct profiler. */
export const FAILURE_RATE = 1e-5;

/** z such that P(|N(0,1)| > z) = p (bisection on erfc; exact enough for test bounds). */
export function zForTwoSided(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`a tail probability must be within (0, 1), got ${p}`);
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (erfc(mid / Math.SQRT2) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  // prettier-ignore
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export interface CountBoundOptions {
  /** Chance that a correct profiler falls outside (default FAILURE_RATE). */
  failureRate?: number;
  /** Systematic error allowed on top of sampling noise, as a share of the expectation. */
  relative?: number;
  /** Systematic error allowed in samples (e.g. one per segment cut by the window's edges). */
  absolute?: number;
  /**
   * Share of the machine's busy time the hypervisor stole over the run (ProcMeter's stealShare).
   * The CPU clock fires on wall time and samples whatever the stolen vCPU had current, while the
   * workload's CPU time leaves stolen time out: the count may exceed the expectation by up to
   * stealShare / (1 − stealShare) of it, never fall short because of it.
   */
  stealShare?: number;
}

export interface CountBound {
  expected: number;
  low: number;
  high: number;
  /** The stolen share `high` allows for (0 when none was given). */
  stealShare: number;
}

/** Where a correct sampler's count falls, given its expectation (CPU time / period). */
export function countBound(expected: number, opts: CountBoundOptions = {}): CountBound {
  const z = zForTwoSided(opts.failureRate ?? FAILURE_RATE);
  const slack = z * Math.sqrt(Math.max(expected, 1)) + (opts.relative ?? 0) * expected + (opts.absolute ?? 0);
  const steal = Math.min(0.9, Math.max(0, opts.stealShare ?? 0));
  return {
    expected,
    low: expected - slack,
    high: expected + slack + (expected * steal) / (1 - steal),
    stealShare: steal,
  };
}

/** `got` against a bound, with every figure in the message. */
export function checkCount(what: string, got: number, bound: CountBound): string | null {
  if (got >= bound.low && got <= bound.high) return null;
  return (
    `${what}: ${got} samples, expected ${bound.expected.toFixed(0)} from the CPU time the workload got ` +
    `(a correct profiler stays within [${Math.max(0, bound.low).toFixed(0)}, ${bound.high.toFixed(0)}]` +
    `${bound.stealShare > 0 ? `; ${(100 * bound.stealShare).toFixed(1)}% of the machine's busy time was stolen` : ''})`
  );
}

/**
 * Relative tolerance of a ratio of two independent counts a and b: z·√(1/a + 1/b) (the counts'
 * relative errors add in quadrature), never below `floor`.
 */
export function ratioTolerance(a: number, b: number, floor: number, failureRate = FAILURE_RATE): number {
  const z = zForTwoSided(failureRate);
  return Math.max(floor, z * Math.sqrt(1 / Math.max(a, 1) + 1 / Math.max(b, 1)));
}

/**
 * Samples a workload must be expected to give before a count can be judged: enough that the
 * noise bound is at most `maxRelativeNoise` of the expectation.
 */
export function samplesToJudge(maxRelativeNoise: number, failureRate = FAILURE_RATE): number {
  const z = zForTwoSided(failureRate);
  return Math.ceil((z / maxRelativeNoise) ** 2);
}

/**
 * Throws when a workload got too little CPU for its samples to be judged, saying so with the
 * figures: a starved machine is reported as such, never as a profiler fault.
 */
export function assertJudgeable(
  what: string,
  fig: { cpuMs: number; wallMs: number; periodMs: number; needSamples: number },
): void {
  const expected = fig.cpuMs / fig.periodMs;
  if (expected >= fig.needSamples) return;
  throw new Error(
    `${what}: the machine is too busy to judge the sample count: the workload got ${fig.cpuMs.toFixed(0)} ms of CPU in ` +
      `${(fig.wallMs / 1000).toFixed(1)} s (${((100 * fig.cpuMs) / Math.max(1, fig.wallMs)).toFixed(0)}% of a core), ` +
      `${expected.toFixed(0)} samples at ${fig.periodMs} ms; at least ${fig.needSamples} are needed ` +
      `(${(fig.needSamples * fig.periodMs).toFixed(0)} ms of CPU)`,
  );
}
