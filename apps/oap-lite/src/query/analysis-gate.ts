/**
 * Turns for analyses: at most `maxConcurrent` build trees at once, at most `maxQueued` wait for a
 * turn, and a waiter that is aborted (client gone, timeout) leaves the queue. Analyses are the
 * one kind of query whose cost grows with the data; everything else passes freely.
 */
import { AnalysisAbortedError, AnalysisLimitError } from '../analysis/analysis-budget';

const abortReason = (signal: AbortSignal): Error =>
  signal.reason instanceof AnalysisLimitError
    ? signal.reason
    : new AnalysisAbortedError('the analysis was cancelled while waiting for a turn: the client closed the request');

export class AnalysisGate {
  private running = 0;
  private readonly waiting: Array<{ grant: () => void }> = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {}

  /** Runs `work` in a turn; rejects at once when too many already wait, or when `signal` aborts first. */
  async run<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(
        new AnalysisLimitError(
          'SW_QUERY_MAX_CONCURRENT_ANALYSES',
          this.maxConcurrent,
          `${this.running} analyses are running and ${this.waiting.length} waiting ` +
            `(SW_QUERY_MAX_CONCURRENT_ANALYSES, SW_QUERY_MAX_QUEUED_ANALYSES): try again shortly`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The turn passes straight to the next waiter; `running` stays the same.
    if (next) next.grant();
    else this.running--;
  }
}
