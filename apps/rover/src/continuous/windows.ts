/**
 * Per-second time windows, as upstream rover's TimeWindows: each slot is one second of data
 * (folded by an accumulator), the window keeps the last `size` seconds, and a rule matches when
 * at least `count` of the last `period` seconds hold data that crosses the threshold.
 */

export interface SlotValue<V> {
  second: number;
  value: V;
}

export class SecondWindow<A, V> {
  private readonly slots = new Map<number, A>();
  /** The newest second handed to the meters so far (upstream's lastFlushTime). */
  private flushedThrough = Number.NEGATIVE_INFINITY;

  constructor(
    private size: number,
    private readonly create: () => A,
    private readonly fold: (acc: A) => V,
  ) {}

  get capacity(): number {
    return this.size;
  }

  /** Grows or shrinks the window (a changed policy period keeps the data it still covers). */
  resize(size: number): void {
    this.size = Math.max(1, size);
  }

  /** The accumulator of the second holding `ms` (created on first use); older data than the window is dropped. */
  slot(ms: number, latestMs: number = ms): A | null {
    const second = Math.floor(ms / 1000);
    const newest = Math.floor(latestMs / 1000);
    if (second <= newest - this.size) return null;
    let acc = this.slots.get(second);
    if (!acc) {
      acc = this.create();
      this.slots.set(second, acc);
      this.prune(Math.max(second, newest));
    }
    return acc;
  }

  private prune(newestSecond: number): void {
    for (const s of this.slots.keys()) if (s <= newestSecond - this.size) this.slots.delete(s);
  }

  /** Values of the seconds with data among the `period` seconds ending at `nowMs`, oldest first. */
  recent(period: number, nowMs: number): Array<SlotValue<V>> {
    const end = Math.floor(nowMs / 1000);
    this.prune(end);
    const out: Array<SlotValue<V>> = [];
    for (const [second, acc] of this.slots) {
      if (second > end - Math.min(period, this.size) && second <= end) out.push({ second, value: this.fold(acc) });
    }
    return out.sort((a, b) => a.second - b.second);
  }

  /**
   * The seconds with data not yet flushed to the meters, oldest first, then marks them flushed
   * (upstream's FlushMultipleRecentData; FlushMostRecentData is the last of them).
   */
  flush(nowMs: number): Array<SlotValue<V>> {
    const out = this.recent(this.size, nowMs).filter((s) => s.second > this.flushedThrough);
    const newest = out.at(-1);
    if (newest) this.flushedThrough = newest.second;
    return out;
  }

  /**
   * Upstream's MatchRule: how many of the last `period` seconds satisfy `check`, and the newest
   * value that did; matched when that number reaches `count`.
   */
  match(
    period: number,
    count: number,
    nowMs: number,
    check: (v: V) => boolean,
  ): { matched: boolean; last: V | undefined; hits: number } {
    let hits = 0;
    let last: V | undefined;
    for (const { value } of this.recent(period, nowMs)) {
      if (check(value)) {
        hits++;
        last = value;
      }
    }
    return { matched: hits >= count, last, hits };
  }
}

/** A window whose second holds the latest sample (process and system values). */
export const latestValueWindow = (size: number): SecondWindow<{ v: number }, number> =>
  new SecondWindow(
    size,
    () => ({ v: 0 }),
    (a) => a.v,
  );

export interface HttpSlot {
  total: number;
  errors: number;
  durationMs: number;
}

/** A window of HTTP exchanges per second. */
export const httpWindow = (size: number): SecondWindow<HttpSlot, HttpSlot> =>
  new SecondWindow(
    size,
    () => ({ total: 0, errors: 0, durationMs: 0 }),
    (a) => ({ ...a }),
  );

/** Upstream: error rate in percent of the second's requests (status >= 500); 0 without requests. */
export const errorRate = (s: HttpSlot): number => (s.total === 0 ? 0 : (s.errors / s.total) * 100);
/** Upstream: average response time in ms (NaN without requests, which never crosses). */
export const avgResponseTime = (s: HttpSlot): number => s.durationMs / s.total;
