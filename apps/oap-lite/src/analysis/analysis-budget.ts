/**
 * What one request may spend on flame-tree analysis: tree elements and (estimated) response
 * bytes, shared by every analysis field of the request, plus the request's abort signal (client
 * gone, or the analysis timeout). The tree builder charges each new element as it creates it,
 * so an oversized analysis stops at the limit instead of being built first and refused after.
 */

export interface AnalysisLimits {
  /** Tree elements (nodes) over all trees of all analyses of one request. */
  maxElements: number;
  /** Estimated JSON bytes of those elements. */
  maxResponseBytes: number;
}

/** A limit of the analysis was reached; `setting` is the variable that raises it. */
export class AnalysisLimitError extends Error {
  override name = 'AnalysisLimitError';
  constructor(
    readonly setting: string,
    readonly limit: number,
    message: string,
  ) {
    super(message);
  }
}

/** The analysis was stopped from outside: the client went away or the timeout passed. */
export class AnalysisAbortedError extends Error {
  override name = 'AnalysisAbortedError';
}

/**
 * An element as JSON is about this many bytes besides its symbol:
 * {"id":"123456","parentId":"12345","symbol":"","stackType":"KERNEL_SPACE","dumpCount":123456}
 */
const ELEMENT_JSON_OVERHEAD = 90;

const NARROW = 'select fewer schedules or a shorter time range (timeRanges), or raise the limit on the server';

/** What the analyses of one request have spent so far. */
export interface AnalysisSpending {
  elements: number;
  bytes: number;
}

export class AnalysisBudget {
  constructor(
    readonly limits: AnalysisLimits,
    readonly signal?: AbortSignal,
    /** Shared with the request's other analyses. */
    private readonly spent: AnalysisSpending = { elements: 0, bytes: 0 },
  ) {}

  /** Fails before any tree is built when `distinctStacks` alone exceed the element limit. */
  checkStacks(distinctStacks: number): void {
    // Every distinct stack ends at a node of its own, so a tree has at least as many elements.
    if (this.spent.elements + distinctStacks > this.limits.maxElements) this.failElements();
  }

  /** Charges one new element. */
  addElement(symbol: string): void {
    this.spent.elements++;
    this.spent.bytes += ELEMENT_JSON_OVERHEAD + symbol.length;
    if (this.spent.elements > this.limits.maxElements) this.failElements();
    if (this.spent.bytes > this.limits.maxResponseBytes) this.failBytes();
  }

  /**
   * Charges what a build elsewhere (an analysis thread, from a copy of this budget) spent; fails
   * when the request's analyses together now pass a limit.
   */
  charge(spending: AnalysisSpending): void {
    this.spent.elements += spending.elements;
    this.spent.bytes += spending.bytes;
    if (this.spent.elements > this.limits.maxElements) this.failElements();
    if (this.spent.bytes > this.limits.maxResponseBytes) this.failBytes();
  }

  /** Throws when the request was aborted. */
  checkAborted(): void {
    if (!this.signal?.aborted) return;
    const reason: unknown = this.signal.reason;
    if (reason instanceof AnalysisLimitError || reason instanceof AnalysisAbortedError) throw reason;
    throw new AnalysisAbortedError('the analysis was cancelled: the client closed the request');
  }

  get used(): AnalysisSpending {
    return { ...this.spent };
  }

  private failBytes(): never {
    throw new AnalysisLimitError(
      'SW_QUERY_MAX_ANALYSIS_RESPONSE_BYTES',
      this.limits.maxResponseBytes,
      `the analysis answer would exceed ${this.limits.maxResponseBytes} bytes ` +
        `(SW_QUERY_MAX_ANALYSIS_RESPONSE_BYTES): ${NARROW}`,
    );
  }

  private failElements(): never {
    throw new AnalysisLimitError(
      'SW_QUERY_MAX_ANALYSIS_ELEMENTS',
      this.limits.maxElements,
      `the analysis has more than ${this.limits.maxElements} flame-graph elements ` +
        `(SW_QUERY_MAX_ANALYSIS_ELEMENTS): ${NARROW}`,
    );
  }
}

export const unlimitedBudget = (): AnalysisBudget =>
  new AnalysisBudget({ maxElements: Number.POSITIVE_INFINITY, maxResponseBytes: Number.POSITIVE_INFINITY });
