/** Where commands write: results to stdout, progress and messages to stderr. */
export interface Printer {
  out(line: string): void;
  err(line: string): void;
  /** Whether stderr is a terminal (live progress bar) or a log (a line now and then). */
  tty: boolean;
}

export const consolePrinter = (): Printer => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  tty: Boolean(process.stderr.isTTY),
});
