/**
 * Storage of oap-lite: the `Storage` contract (types.ts: one store per domain, see domains/),
 * shared profiling helpers, and the factory that picks a backend from configuration.
 */
import { ElasticsearchStorage, type ElasticsearchStorageOptions } from './elasticsearch/elasticsearch-storage';
import { SqliteStorage } from './sqlite/sqlite-storage';
import type { Storage } from './types';

export type * from './types';
export { aggregateProfilingStacks, assertValidProfilingRecord, canonicalFramesJson, profilingValue } from './profiling';
export { SqliteStorage, type SqliteStorageOptions } from './sqlite/sqlite-storage';
export { ElasticsearchStorage, type ElasticsearchStorageOptions } from './elasticsearch/elasticsearch-storage';

export interface StorageConfig {
  kind: 'sqlite' | 'elasticsearch';
  /** Heap limit (MB) of each analysis thread; none when absent. */
  analysisThreadHeapMb?: number;
  sqlite?: { dataDir: string; fileName?: string; readThreads?: number; writeThread?: boolean };
  /** OapConfig.storage.elasticsearch (SW_STORAGE_ES_* and SW_NAMESPACE). */
  elasticsearch?: Omit<ElasticsearchStorageOptions, 'log' | 'metrics'>;
}

/** What a backend may report through: the server's logger and its /metrics registry. */
export interface StorageServices {
  log?: ElasticsearchStorageOptions['log'];
  metrics?: ElasticsearchStorageOptions['metrics'];
}

/** Builds the configured backend. The caller must `await storage.init()` before using it. */
export function createStorage(config: StorageConfig, services: StorageServices = {}): Storage {
  switch (config.kind) {
    case 'sqlite': {
      if (!config.sqlite?.dataDir) throw new Error('storage: sqlite.dataDir is required for kind "sqlite"');
      return new SqliteStorage({
        dataDir: config.sqlite.dataDir,
        fileName: config.sqlite.fileName,
        readThreads: config.sqlite.readThreads,
        writeThread: config.sqlite.writeThread,
        analysisThreadHeapMb: config.analysisThreadHeapMb,
        log: services.log,
      });
    }
    case 'elasticsearch': {
      const es = config.elasticsearch;
      if (!es?.clusterNodes)
        throw new Error('storage: elasticsearch.clusterNodes is required for kind "elasticsearch"');
      return new ElasticsearchStorage({
        ...es,
        analysisThreadHeapMb: config.analysisThreadHeapMb,
        log: services.log,
        metrics: services.metrics,
      });
    }
    default:
      throw new Error(`storage: unknown kind ${JSON.stringify((config as { kind: unknown }).kind)}`);
  }
}
