/**
 * Storage of oap-lite: the `Storage` contract (types.ts), shared profiling helpers, and the
 * factory that picks a backend from configuration.
 */
import { SqliteStorage } from './sqlite/sqlite-storage';
import type { Storage } from './types';

export type * from './types';
export {
  aggregateProfilingStacks,
  assertValidProfilingRecord,
  canonicalFramesJson,
  profilingValue,
} from './profiling';
export { SqliteStorage, type SqliteStorageOptions } from './sqlite/sqlite-storage';

export interface StorageConfig {
  kind: 'sqlite' | 'elasticsearch';
  sqlite?: { dataDir: string; fileName?: string };
  /** Read by the Elasticsearch backend once it exists. */
  elasticsearch?: unknown;
}

/** Builds the configured backend. The caller must `await storage.init()` before using it. */
export function createStorage(config: StorageConfig): Storage {
  switch (config.kind) {
    case 'sqlite': {
      if (!config.sqlite?.dataDir) throw new Error('storage: sqlite.dataDir is required for kind "sqlite"');
      return new SqliteStorage({ dataDir: config.sqlite.dataDir, fileName: config.sqlite.fileName });
    }
    case 'elasticsearch':
      throw new Error('elasticsearch storage is not available in this build');
    default:
      throw new Error(`storage: unknown kind ${JSON.stringify((config as { kind: unknown }).kind)}`);
  }
}
