/**
 * One request's analyses: they share the request's element and byte budget, each takes a turn
 * at the server-wide gate, and each is stopped when the client closes the request or when the
 * analysis timeout passes (the timeout counts the wait for a turn).
 */
import {
  AnalysisBudget,
  AnalysisLimitError,
  type AnalysisLimits,
  type AnalysisSpending,
} from '../analysis/analysis-budget';
import type { AnalysisGate } from './analysis-gate';

export interface AnalysisScopeOptions {
  gate: AnalysisGate;
  limits: AnalysisLimits;
  timeoutSeconds: number;
  /** The request's signal: aborts when the client goes away. */
  requestSignal: AbortSignal;
}

export class AnalysisScope {
  private readonly spent: AnalysisSpending = { elements: 0, bytes: 0 };

  constructor(private readonly options: AnalysisScopeOptions) {}

  async run<T>(work: (budget: AnalysisBudget) => Promise<T>): Promise<T> {
    const { gate, limits, timeoutSeconds, requestSignal } = this.options;
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(
          new AnalysisLimitError(
            'SW_CORE_MAX_DURATION_OF_ANALYZE_EBPF_PROFILING',
            timeoutSeconds,
            `the analysis took longer than ${timeoutSeconds} s (SW_CORE_MAX_DURATION_OF_ANALYZE_EBPF_PROFILING): ` +
              'select fewer schedules or a shorter time range (timeRanges)',
          ),
        ),
      timeoutSeconds * 1000,
    );
    const signal = AbortSignal.any([requestSignal, timeout.signal]);
    try {
      return await gate.run(signal, () => work(new AnalysisBudget(limits, signal, this.spent)));
    } finally {
      clearTimeout(timer);
    }
  }
}
