/**
 * Uploads profiling data with a bounded buffer: while the backend is down, batches wait and are
 * retried with exponential backoff (cut short when the channel reports the backend is back); past
 * the bound the oldest batches are dropped and counted.
 * A batch is resent whole, and the backend stores a stream atomically and keys records by
 * (schedule, stacks, upload time), so a resend never duplicates data.
 */
import type { EBPFProfilingData } from '@swlite/protocol';
import type { Logger } from 'pino';

export interface UploadQueueOptions {
  /** Most messages held while the backend is unreachable. */
  maxBufferedMessages: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface UploadStats {
  sentMessages: number;
  droppedMessages: number;
  bufferedMessages: number;
  failedAttempts: number;
  /**
   * Stack counts (on-CPU dumpCount, off-CPU switchCount) in acknowledged and in dropped messages:
   * what the backend's COUNT analysis must add up to, so a fault test can tell lost from doubled.
   */
  sentSamples: number;
  droppedSamples: number;
  /**
   * Of sentSamples, those whose stack has no symbol at all (an unwind that found nothing): the
   * backend stores them, but a flame graph has no frame to show them under.
   */
  sentSamplesWithoutFrames: number;
}

/** The stack count of a batch's messages (0 for other payloads); `frameless` keeps only stacks without symbols. */
const samplesOf = (batch: EBPFProfilingData[], frameless = false): number =>
  batch.reduce((sum, m) => {
    const stacks = m.onCPU?.stacks ?? m.offCPU?.stacks ?? [];
    if (frameless && stacks.some((s) => (s.stackSymbols?.length ?? 0) > 0)) return sum;
    return sum + Number(m.onCPU?.dumpCount ?? m.offCPU?.switchCount ?? 0);
  }, 0);

export class UploadQueue {
  private readonly batches: EBPFProfilingData[][] = [];
  private buffered = 0;
  private sending = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Failed attempts since the last successful send: a recovery is logged once, with its figures. */
  private failingSince = 0;
  readonly stats: UploadStats = {
    sentMessages: 0,
    droppedMessages: 0,
    bufferedMessages: 0,
    failedAttempts: 0,
    sentSamples: 0,
    droppedSamples: 0,
    sentSamplesWithoutFrames: 0,
  };

  constructor(
    private readonly send: (batch: EBPFProfilingData[]) => Promise<unknown>,
    private readonly log: Logger,
    private readonly options: UploadQueueOptions = {
      maxBufferedMessages: 200_000,
      initialBackoffMs: 1_000,
      maxBackoffMs: 10_000,
    },
  ) {
    this.backoffMs = options.initialBackoffMs;
  }

  push(batch: EBPFProfilingData[]): void {
    if (batch.length === 0) return;
    this.batches.push(batch);
    this.buffered += batch.length;
    while (this.buffered > this.options.maxBufferedMessages && this.batches.length > 1) {
      const dropped = this.batches.shift()!;
      this.buffered -= dropped.length;
      this.stats.droppedMessages += dropped.length;
      this.stats.droppedSamples += samplesOf(dropped);
      this.log.warn(
        { dropped: dropped.length, bound: this.options.maxBufferedMessages },
        'upload buffer full; dropped the oldest profiling data',
      );
    }
    this.stats.bufferedMessages = this.buffered;
    if (!this.timer) void this.drain();
  }

  /** Sends everything now; resolves when the buffer is empty or a send failed. */
  async drain(): Promise<boolean> {
    if (this.sending) return false;
    this.sending = true;
    try {
      while (this.batches.length > 0 && !this.closed) {
        const batch = this.batches[0]!;
        try {
          await this.send(batch);
        } catch (err) {
          this.stats.failedAttempts++;
          this.failingSince++;
          if (this.stats.failedAttempts === 1 || this.backoffMs >= this.options.maxBackoffMs) {
            this.log.warn(
              { err: (err as Error).message, buffered: this.buffered, retryInMs: this.backoffMs },
              'cannot upload profiling data; will retry',
            );
          }
          this.schedule();
          return false;
        }
        this.batches.shift();
        this.buffered -= batch.length;
        this.stats.sentMessages += batch.length;
        this.stats.sentSamples += samplesOf(batch);
        this.stats.sentSamplesWithoutFrames += samplesOf(batch, true);
        this.stats.bufferedMessages = this.buffered;
        this.backoffMs = this.options.initialBackoffMs;
        if (this.failingSince > 0) {
          this.log.info({ ...this.stats, failedInARow: this.failingSince }, 'profiling data uploads resumed');
          this.failingSince = 0;
        }
      }
      return this.batches.length === 0;
    } finally {
      this.sending = false;
    }
  }

  /** The backend is reachable again: ends a pending backoff and sends now. */
  retryNow(): void {
    if (!this.timer || this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.backoffMs = this.options.initialBackoffMs;
    void this.drain();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.backoffMs);
    this.timer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
  }

  get pending(): number {
    return this.buffered;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
