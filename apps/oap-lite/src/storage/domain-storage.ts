/**
 * What every backend's `Storage` shares: it holds the six domain stores, and TTL asks each
 * domain to expire its own data. A backend adds its connection's lifecycle (init, close).
 */
import type {
  ContinuousPolicyStore,
  MetadataStore,
  MeterStore,
  NetworkStore,
  ProfilingDataStore,
  Storage,
  TaskStore,
  UiTemplateStore,
} from './types';
import type { StorageHealth } from './write-health';

export abstract class DomainStorage implements Storage {
  abstract readonly metadata: MetadataStore;
  abstract readonly tasks: TaskStore;
  abstract readonly profilingData: ProfilingDataStore;
  abstract readonly policies: ContinuousPolicyStore;
  abstract readonly uiTemplates: UiTemplateStore;
  abstract readonly meters: MeterStore;
  abstract readonly network: NetworkStore;

  abstract init(): Promise<void>;
  abstract close(): Promise<void>;
  abstract health(): Promise<StorageHealth>;

  async deleteExpired(recordsBefore: number, metricsBefore: number): Promise<number> {
    // Data first, so no stored record is left whose schedule has gone.
    let n = await this.profilingData.deleteExpired(recordsBefore);
    n += await this.tasks.deleteExpired(recordsBefore);
    n += await this.metadata.deleteNotSeenSince(metricsBefore);
    n += await this.meters.deleteExpired(metricsBefore);
    n += await this.network.deleteExpired(recordsBefore, metricsBefore);
    return n;
  }
}
