/**
 * A tree build in an analysis thread, seen from both sides. The event loop hands the thread a
 * ticket: the request's limits, what its analyses spent so far, and a shared stop flag it raises
 * when the request is aborted (client gone, timeout), which the thread's builder reads at each
 * check. The thread answers with an outcome; the event loop settles it against the real budget:
 * the forest, with its spending charged, or the budget's own error.
 */
import type { FlameForest } from '../storage/types';
import {
  AnalysisAbortedError,
  AnalysisBudget,
  AnalysisLimitError,
  type AnalysisLimits,
  type AnalysisSpending,
} from './analysis-budget';
import { FlameForestBuilder } from './flame-forest';

export interface BudgetTicket {
  limits: AnalysisLimits;
  spent: AnalysisSpending;
  /** [0] becomes 1 when the request is aborted. */
  stop: Int32Array;
}

export type BuildOutcome =
  | { forest: FlameForest; spent: AnalysisSpending }
  | { limit: { setting: string; limit: number; message: string } }
  | { stopped: true };

/** The event loop's side of one remote build. */
export class RemoteBuild {
  readonly ticket: BudgetTicket;
  private readonly onAbort = () => Atomics.store(this.ticket.stop, 0, 1);

  constructor(private readonly budget: AnalysisBudget) {
    budget.checkAborted();
    this.ticket = {
      limits: budget.limits,
      spent: budget.used,
      stop: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
    };
    budget.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The forest, its spending charged to the budget; or the error the thread stopped with. */
  settle(outcome: BuildOutcome): FlameForest {
    this.release();
    if ('limit' in outcome) {
      const { setting, limit, message } = outcome.limit;
      throw new AnalysisLimitError(setting, limit, message);
    }
    if ('stopped' in outcome) {
      this.budget.checkAborted();
      throw new AnalysisAbortedError('the analysis was stopped');
    }
    this.budget.charge({
      elements: outcome.spent.elements - this.ticket.spent.elements,
      bytes: outcome.spent.bytes - this.ticket.spent.bytes,
    });
    return outcome.forest;
  }

  /** Stops listening to the request (also when the build failed otherwise). */
  release(): void {
    this.budget.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The budget a thread builds with: the ticket's limits and spending; aborted by the stop flag. */
class TicketBudget extends AnalysisBudget {
  constructor(
    private readonly stop: Int32Array,
    limits: AnalysisLimits,
    spent: AnalysisSpending,
  ) {
    super(limits, undefined, { ...spent });
  }

  override checkAborted(): void {
    if (Atomics.load(this.stop, 0) !== 0) throw new AnalysisAbortedError('stopped by the event loop');
  }
}

const failure = (err: unknown): BuildOutcome => {
  if (err instanceof AnalysisLimitError)
    return { limit: { setting: err.setting, limit: err.limit, message: err.message } };
  if (err instanceof AnalysisAbortedError) return { stopped: true };
  throw err;
};

/** A thread's build under a ticket, fed as the stacks come; a limit or the stop flag ends it early. */
export class TicketBuild {
  private readonly budget: TicketBudget;
  private readonly builder: FlameForestBuilder;
  /** Set once the build ended early. */
  ended: BuildOutcome | null = null;

  constructor(ticket: BudgetTicket) {
    this.budget = new TicketBudget(ticket.stop, ticket.limits, ticket.spent);
    this.builder = new FlameForestBuilder(this.budget);
  }

  /** Runs `add` on the builder; false when the build ended (now or before): see `ended`. */
  feed(add: (builder: FlameForestBuilder) => void): boolean {
    if (this.ended) return false;
    try {
      add(this.builder);
      return true;
    } catch (err) {
      this.ended = failure(err);
      return false;
    }
  }

  finish(): BuildOutcome {
    if (this.ended) return this.ended;
    try {
      this.budget.checkAborted();
      return { forest: this.builder.finish(), spent: this.budget.used };
    } catch (err) {
      return failure(err);
    }
  }
}
