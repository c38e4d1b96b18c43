/**
 * The budgets of what an agent may send (config `receiver`, SW_RECEIVER_* and the OAP's
 * SW_SERVICE_NAME_MAX_LENGTH / SW_INSTANCE_NAME_MAX_LENGTH). A value over its budget is refused
 * with INVALID_ARGUMENT naming the field and the variable; what a refusal quotes of the input is
 * cut short, so neither the answer nor the log line grows with the input.
 */
import * as grpc from '@grpc/grpc-js';
import type { ReceiverLimits } from '../config';
import { GrpcStatusError } from './grpc-errors';

/** Earliest timestamp accepted from an agent: 2000-01-01T00:00:00Z. */
export const MIN_AGENT_TIMESTAMP = 946_684_800_000;

/** Entries of one list (labels, properties) from an agent. */
export const MAX_LIST_ENTRIES = 256;

/** How much of a refused value an error quotes. */
const QUOTE_LENGTH = 64;

/** A value as an error message may show it: JSON-quoted and cut to a few dozen characters. */
export const quote = (value: unknown): string => {
  const text = typeof value === 'string' ? value : String(value);
  return text.length > QUOTE_LENGTH
    ? `${JSON.stringify(text.slice(0, QUOTE_LENGTH))}… (${text.length} characters)`
    : JSON.stringify(text);
};

const invalid = (message: string) => new GrpcStatusError(grpc.status.INVALID_ARGUMENT, message);

export class InputLimits {
  constructor(
    readonly limits: ReceiverLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** An id, name, layer or label: refused when longer than SW_RECEIVER_MAX_STRING_LENGTH. */
  string(value: string, field: string): string {
    if (value.length > this.limits.maxStringLength) {
      throw invalid(
        `${field} has ${value.length} characters, more than SW_RECEIVER_MAX_STRING_LENGTH=${this.limits.maxStringLength}: ${quote(value)}`,
      );
    }
    return value;
  }

  strings(values: readonly string[], field: string): string[] {
    this.entries(values.length, field);
    return values.map((v, i) => this.string(v, `${field}[${i}]`));
  }

  entries(count: number, field: string): void {
    if (count > MAX_LIST_ENTRIES) throw invalid(`${field} has ${count} entries, more than ${MAX_LIST_ENTRIES}`);
  }

  /** A free-form property value (a command line can be long): cut, not refused. */
  propertyValue(value: string): string {
    return value.length > this.limits.maxStringLength ? value.slice(0, this.limits.maxStringLength) : value;
  }

  /** A symbol: cut to SW_RECEIVER_MAX_SYMBOL_LENGTH (a real C++ symbol can be long). */
  symbol(value: string): string {
    return value.length > this.limits.maxSymbolLength ? value.slice(0, this.limits.maxSymbolLength) : value;
  }

  stackSymbols(count: number, field: string): void {
    if (count > this.limits.maxStackSymbols) {
      throw invalid(
        `${field} has ${count} symbols, more than SW_RECEIVER_MAX_STACK_SYMBOLS=${this.limits.maxStackSymbols}`,
      );
    }
  }

  processes(count: number): void {
    if (count > this.limits.maxProcessesPerReport) {
      throw invalid(
        `the report has ${count} processes, more than SW_RECEIVER_MAX_PROCESSES_PER_REPORT=${this.limits.maxProcessesPerReport}: report them in several calls`,
      );
    }
  }

  /** Epoch ms from an agent: a safe integer from 2000 until SW_RECEIVER_MAX_CLOCK_AHEAD_SECONDS past this server's clock. */
  timestamp(value: number, field: string): number {
    const latest = this.now() + this.limits.maxClockAheadMs;
    if (!Number.isSafeInteger(value) || value < MIN_AGENT_TIMESTAMP || value > latest) {
      throw invalid(
        `${field}=${quote(value)} is not a time between 2000-01-01 and ${new Date(latest).toISOString()} ` +
          `(epoch milliseconds; SW_RECEIVER_MAX_CLOCK_AHEAD_SECONDS=${this.limits.maxClockAheadMs / 1000})`,
      );
    }
    return value;
  }
}
