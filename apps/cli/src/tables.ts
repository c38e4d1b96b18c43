/** The terminal tables every command prints: cli-table3, no separator lines between rows. */
import Table from 'cli-table3';
import type { Printer } from './printer';

/** No separator lines between rows. */
export const COMPACT = {
  mid: '',
  'left-mid': '',
  'mid-mid': '',
  'right-mid': '',
};

/** A table with this header, coloured only when both stdout and the printer are terminals. */
export const compactTable = (
  printer: Printer,
  head: string[],
  options: { colAligns?: Array<'left' | 'right' | 'center'> } = {},
) =>
  new Table({
    head,
    chars: COMPACT,
    // cli-table3 reads colAligns by index: leave it out rather than undefined
    ...(options.colAligns ? { colAligns: options.colAligns } : {}),
    style: {
      head: printer.tty && process.stdout.isTTY ? ['cyan'] : [],
      border: [],
    },
  });
