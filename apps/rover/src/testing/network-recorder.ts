/** What a NETWORK run sends, kept in memory for tests, with lookups by meter name and label. */
import type { LogData, MeterData, MeterDataCollection, SpanAttachedEvent } from '@swlite/protocol';
import type { NetworkReporter } from '../profiling/targets/target';

export class NetworkRecorder implements NetworkReporter {
  readonly collections: MeterDataCollection[] = [];
  readonly logList: LogData[] = [];
  readonly eventList: SpanAttachedEvent[] = [];
  meters(c: MeterDataCollection[]): Promise<void> {
    this.collections.push(...c);
    return Promise.resolve();
  }
  logs(_service: string, logs: LogData[]): Promise<void> {
    this.logList.push(...logs);
    return Promise.resolve();
  }
  events(events: SpanAttachedEvent[]): Promise<void> {
    this.eventList.push(...events);
    return Promise.resolve();
  }

  /** Every meter sent so far. */
  all(): MeterData[] {
    return this.collections.flatMap((c) => c.meterData ?? []);
  }

  /** Sum of the single values named `name` whose labels include every pair of `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.all()
      .filter((m) => meterName(m) === name && Object.entries(labels).every(([k, v]) => meterLabel(m, k) === v))
      .reduce((s, m) => s + Number(m.singleValue?.value ?? 0), 0);
  }
}

export const meterName = (m: MeterData): string => (m.singleValue ?? m.histogram)?.name ?? '';
export const meterLabel = (m: MeterData, name: string): string | undefined =>
  (m.singleValue ?? m.histogram)?.labels?.find((l) => l.name === name)?.value;
export const meterValue = (m: MeterData): number => Number(m.singleValue?.value ?? 0);
