/** The waiting side of long commands: a progress bar on stderr and an interruptible sleep. */
import cliProgress from 'cli-progress';
import type { Printer } from './printer';

/**
 * A progress bar on stderr: live on a terminal, a line every few seconds in a log (CI, pipes).
 * `format` is cli-progress's, with its own payload fields.
 */
export const progressBar = (printer: Printer, format: string): cliProgress.SingleBar =>
  new cliProgress.SingleBar(
    {
      format,
      stream: process.stderr,
      hideCursor: true,
      barsize: 32,
      noTTYOutput: !printer.tty,
      notTTYSchedule: 5000,
      forceRedraw: false,
    },
    cliProgress.Presets.shades_classic,
  );

/** Resolves after `ms`, or at once when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
