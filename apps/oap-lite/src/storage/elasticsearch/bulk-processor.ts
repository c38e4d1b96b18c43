/**
 * A bulk processor in the spirit of the OAP's BulkProcessor: operations queue up and go to
 * Elasticsearch in `_bulk` requests of at most `bulkActions` operations, with at most
 * `concurrentRequests` requests in flight. A request goes when `bulkActions` operations wait, when
 * `flushIntervalMs` passed since the first one arrived, or at once when no request is in flight
 * (natural batching: under load operations gather while earlier requests run; when idle, a lone
 * writer does not wait out the interval).
 *
 * Unlike a fire-and-forget processor, every `add()` returns a promise that settles when all its
 * operations are durable (acknowledged, and visible to searches: the bulk asks for a refresh).
 * When Elasticsearch cannot be reached (or answers 429/5xx) the operations stay queued and are
 * retried with backoff, so nothing is lost while fewer than `bufferLimit` records wait; past
 * that bound `add()` refuses the new batch at once (and counts it as dropped). An operation that
 * Elasticsearch refuses for a reason retrying cannot fix (a mapping error, say) rejects its batch.
 */

export interface BulkOperation {
  /** The action line, e.g. { index: { _index, _id } }. */
  action: Record<string, { _index: string; _id: string }>;
  /** The document line (absent for deletes). */
  doc?: unknown;
  /** How many user-visible records this operation carries (counted against bufferLimit). */
  records: number;
  /** Item statuses that count as success besides 2xx (409 for a `create` of an existing doc). */
  okStatuses?: readonly number[];
}

export interface BulkResponseItem {
  status: number;
  error?: { type?: string; reason?: string | null } | null;
  _index?: string;
}

export interface BulkLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BulkProcessorOptions {
  /** Sends one _bulk request; resolves with one item per operation, in order. */
  send(operations: BulkOperation[]): Promise<BulkResponseItem[]>;
  bulkActions: number;
  flushIntervalMs: number;
  concurrentRequests: number;
  bufferLimit: number;
  /** For log lines and errors: where Elasticsearch is expected. */
  target: string;
  log: BulkLog;
  onBuffered?(records: number): void;
  onDropped?(records: number): void;
  /** Records held elsewhere that count against the same bound (pending schedule upserts). */
  external?(): number;
  /** Whether an error thrown by send() is worth retrying (connection refused, timeout, 5xx). */
  retryable(err: unknown): boolean;
}

interface Batch {
  pending: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

interface Item {
  op: BulkOperation;
  batch: Batch;
}

const MAX_BACKOFF_MS = 5_000;
const LOG_EVERY_MS = 10_000;

export class BufferFullError extends Error {
  override name = 'BufferFullError';
}

export class BulkProcessor {
  private queue: Item[] = [];
  private inFlight = 0;
  private buffered = 0;
  private timer: NodeJS.Timeout | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private lastLog = 0;
  private closing = false;
  private idleWaiters: Array<() => void> = [];
  /** The flush interval elapsed (or a drain asked): partial chunks may go. */
  private due = false;

  constructor(private readonly o: BulkProcessorOptions) {}

  /** Records waiting (queued or in flight). */
  get bufferedRecords(): number {
    return this.buffered;
  }

  /** True while requests fail and are being retried. */
  get retrying(): boolean {
    return this.failures > 0;
  }

  add(ops: BulkOperation[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    if (this.closing) return Promise.reject(new Error('Elasticsearch storage is closing: write refused'));
    const records = ops.reduce((n, op) => n + op.records, 0);
    const waiting = this.buffered + (this.o.external?.() ?? 0);
    if (waiting + records > this.o.bufferLimit) {
      this.o.onDropped?.(records);
      const msg =
        `Elasticsearch storage buffer full: ${waiting} records are waiting for ${this.o.target} ` +
        `(bufferLimit ${this.o.bufferLimit}); a batch of ${records} records was refused`;
      this.o.log.error({ buffered: waiting, refused: records, bufferLimit: this.o.bufferLimit }, msg);
      return Promise.reject(new BufferFullError(msg));
    }
    return new Promise<void>((resolve, reject) => {
      const batch: Batch = { pending: ops.length, settled: false, resolve, reject };
      for (const op of ops) this.queue.push({ op, batch });
      this.buffered += records;
      this.o.onBuffered?.(this.buffered);
      this.schedule();
    });
  }

  /** Sends everything now and waits until the queue is empty or `timeoutMs` passed. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    this.pump(true);
    while (this.queue.length > 0 || this.inFlight > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      this.pump(true);
    }
    return true;
  }

  /** Stops timers and rejects whatever is still queued. */
  close(reason: string): void {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.timer = this.backoffTimer = null;
    const left = this.queue;
    this.queue = [];
    for (const item of left) this.fail(item.batch, new Error(reason));
    this.buffered = 0;
    this.o.onBuffered?.(0);
  }

  private schedule(): void {
    if (this.backoffTimer) return; // the backoff timer pumps
    if (this.queue.length > 0 && this.inFlight === 0) {
      // Idle: nothing to batch with, so waiting would only add latency.
      this.pump(true);
    } else if (this.queue.length >= this.o.bulkActions && this.inFlight < this.o.concurrentRequests) {
      this.pump(false);
    } else if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.due = true;
        this.pump(true);
      }, this.o.flushIntervalMs);
    }
  }

  /** Starts requests while allowed: full chunks always, a partial one only when `partial`. */
  private pump(partial: boolean): void {
    if (this.backoffTimer) return;
    if (partial) this.due = true;
    while (this.inFlight < this.o.concurrentRequests && this.queue.length > 0) {
      if (!partial && this.queue.length < this.o.bulkActions) break;
      const chunk = this.queue.splice(0, this.o.bulkActions);
      this.inFlight++;
      void this.send(chunk);
    }
    if (this.queue.length === 0) {
      this.due = false;
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    } else if (!this.due) this.schedule();
  }

  private async send(chunk: Item[]): Promise<void> {
    let items: BulkResponseItem[] | null = null;
    let error: unknown = null;
    try {
      items = await this.o.send(chunk.map((c) => c.op));
    } catch (err) {
      error = err;
    }
    this.inFlight--;
    if (error !== null) {
      if (this.o.retryable(error) && !this.closing) {
        this.requeue(chunk, error);
      } else {
        const err = new Error(`Elasticsearch bulk write to ${this.o.target} failed: ${(error as Error).message}`);
        for (const c of chunk) this.finish(c, err);
      }
    } else {
      const retry: Item[] = [];
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i]!;
        const r = items![i];
        const status = r?.status ?? 0;
        if ((status >= 200 && status < 300) || c.op.okStatuses?.includes(status)) {
          this.finish(c, null);
        } else if (status === 429 || status >= 500 || status === 0) {
          retry.push(c);
        } else {
          const index = r?._index ?? Object.values(c.op.action)[0]?._index ?? '?';
          this.finish(
            c,
            new Error(
              `Elasticsearch refused a write to index ${index} (status ${status}): ` +
                `${r?.error?.type ?? 'error'}: ${r?.error?.reason ?? 'no reason given'}`,
            ),
          );
        }
      }
      if (retry.length > 0 && !this.closing) this.requeue(retry, new Error(`${retry.length} items answered 429/5xx`));
      else if (retry.length === 0) this.recovered();
    }
    this.notifyIdle();
    this.pump(this.due);
  }

  private recovered(): void {
    if (this.failures > 0) {
      this.o.log.info(
        { target: this.o.target, buffered: this.buffered },
        `Elasticsearch at ${this.o.target} answers again; flushing the buffer`,
      );
    }
    this.failures = 0;
  }

  private requeue(chunk: Item[], err: unknown): void {
    this.queue.unshift(...chunk);
    this.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.failures, 10));
    const now = Date.now();
    if (now - this.lastLog >= LOG_EVERY_MS || this.failures === 1) {
      this.lastLog = now;
      this.o.log.warn(
        { target: this.o.target, buffered: this.buffered, retryInMs: delay, err: (err as Error)?.message },
        `Elasticsearch at ${this.o.target} unavailable: ${this.buffered} records buffered, retrying`,
      );
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.backoffTimer) {
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = null;
        this.pump(true);
        this.schedule();
      }, delay);
    }
  }

  private finish(item: Item, err: Error | null): void {
    this.buffered -= item.op.records;
    this.o.onBuffered?.(this.buffered);
    if (err) {
      this.fail(item.batch, err);
      return;
    }
    item.batch.pending--;
    if (item.batch.pending === 0 && !item.batch.settled) {
      item.batch.settled = true;
      item.batch.resolve();
    }
  }

  private fail(batch: Batch, err: Error): void {
    if (batch.settled) return;
    batch.settled = true;
    batch.reject(err);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
