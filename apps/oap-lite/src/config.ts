/**
 * oap-lite's configuration, from environment variables named as in the OAP's application.yml
 * where a counterpart exists. `SW_STORAGE` picks the storage: "sqlite" (embedded, default; the
 * OAP names have no embedded store, so "h2" is accepted as an alias) or "elasticsearch".
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface OapConfig {
  grpc: {
    host: string;
    port: number;
    maxMessageSize: number;
    tls: { enabled: boolean; keyPath: string; certChainPath: string; trustedCaPath: string };
    /** Empty: no authentication. Otherwise the "Authentication" metadata every agent must send. */
    authentication: string;
  };
  rest: { host: string; port: number };
  storage: {
    kind: 'sqlite' | 'elasticsearch';
    sqlite: {
      dataDir: string;
      /** Threads with their own connections for the heavy profiling read (0: the main thread). */
      readThreads: number;
    };
    elasticsearch: {
      clusterNodes: string;
      protocol: 'http' | 'https';
      namespace: string;
      user: string;
      password: string;
      caPath: string;
      bulkActions: number;
      flushIntervalSeconds: number;
      concurrentRequests: number;
      /** Records kept in memory while Elasticsearch is unreachable before new ones are refused. */
      bufferLimit: number;
    };
  };
  ttl: { recordDays: number; metricsDays: number; keeperPeriodMinutes: number };
  /** How upload streams are held until they complete (receivers/upload-staging.ts). */
  staging: {
    dir: string;
    /** Records of one stream kept in memory; more spill to a file in `dir`. */
    memoryRecords: number;
    /** Records per storage write when a completed stream is stored. */
    commitRecords: number;
  };
  query: { maxQueryComplexity: number; maxDepth: number };
  /** Shortest FIXED_TIME task (s); the OAP's is 60. */
  minTaskDurationSeconds: number;
  logLevel: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const str = (env: Env, key: string, fallback: string): string => {
  const v = env[key];
  return v === undefined || v === '' ? fallback : v;
};

const int = (env: Env, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key}="${raw}" must be an integer between ${min} and ${max}`);
  }
  return value;
};

const bool = (env: Env, key: string, fallback: boolean): boolean => {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`${key}="${raw}" must be true or false`);
};

export const loadConfig = (env: Env = process.env): OapConfig => {
  const storageKind = str(env, 'SW_STORAGE', 'sqlite').toLowerCase();
  const kind = storageKind === 'h2' ? 'sqlite' : storageKind;
  if (kind !== 'sqlite' && kind !== 'elasticsearch') {
    throw new ConfigError(`SW_STORAGE="${storageKind}" is not supported: use sqlite (default) or elasticsearch`);
  }
  const protocol = str(env, 'SW_STORAGE_ES_HTTP_PROTOCOL', 'http');
  if (protocol !== 'http' && protocol !== 'https') {
    throw new ConfigError(`SW_STORAGE_ES_HTTP_PROTOCOL="${protocol}" must be http or https`);
  }
  return {
    grpc: {
      host: str(env, 'SW_CORE_GRPC_HOST', '0.0.0.0'),
      port: int(env, 'SW_CORE_GRPC_PORT', 11800, 0, 65535),
      maxMessageSize: int(env, 'SW_CORE_GRPC_MAX_MESSAGE_SIZE', 52_428_800, 1024),
      tls: {
        enabled: bool(env, 'SW_CORE_GRPC_SSL_ENABLED', false),
        keyPath: str(env, 'SW_CORE_GRPC_SSL_KEY_PATH', ''),
        certChainPath: str(env, 'SW_CORE_GRPC_SSL_CERT_CHAIN_PATH', ''),
        trustedCaPath: str(env, 'SW_CORE_GRPC_SSL_TRUSTED_CA_PATH', ''),
      },
      authentication: str(env, 'SW_AUTHENTICATION', ''),
    },
    rest: {
      host: str(env, 'SW_CORE_REST_HOST', '0.0.0.0'),
      port: int(env, 'SW_CORE_REST_PORT', 12800, 0, 65535),
    },
    storage: {
      kind,
      sqlite: {
        dataDir: resolve(str(env, 'SW_STORAGE_SQLITE_DATA_DIR', 'data')),
        readThreads: int(env, 'SW_STORAGE_SQLITE_READ_THREADS', 2, 0, 64),
      },
      elasticsearch: {
        clusterNodes: str(env, 'SW_STORAGE_ES_CLUSTER_NODES', 'localhost:9200'),
        protocol,
        namespace: str(env, 'SW_NAMESPACE', ''),
        user: str(env, 'SW_ES_USER', ''),
        password: str(env, 'SW_ES_PASSWORD', ''),
        caPath: str(env, 'SW_STORAGE_ES_SSL_CA_PATH', ''),
        bulkActions: int(env, 'SW_STORAGE_ES_BULK_ACTIONS', 5000, 1),
        flushIntervalSeconds: int(env, 'SW_STORAGE_ES_FLUSH_INTERVAL', 1, 1),
        concurrentRequests: int(env, 'SW_STORAGE_ES_CONCURRENT_REQUESTS', 2, 1),
        bufferLimit: int(env, 'SW_STORAGE_ES_BUFFER_LIMIT', 500_000, 1000),
      },
    },
    ttl: {
      recordDays: int(env, 'SW_CORE_RECORD_DATA_TTL', 3, 1),
      metricsDays: int(env, 'SW_CORE_METRICS_DATA_TTL', 7, 1),
      keeperPeriodMinutes: int(env, 'SW_CORE_DATA_KEEPER_EXECUTE_PERIOD', 5, 1),
    },
    staging: {
      dir: resolve(str(env, 'SW_RECEIVER_STAGING_DIR', join(tmpdir(), 'oap-lite-staging'))),
      memoryRecords: int(env, 'SW_RECEIVER_STAGING_MEMORY_RECORDS', 5_000, 1),
      commitRecords: int(env, 'SW_RECEIVER_COMMIT_RECORDS', 5_000, 1),
    },
    query: {
      maxQueryComplexity: int(env, 'SW_QUERY_MAX_QUERY_COMPLEXITY', 3000, 1),
      maxDepth: int(env, 'SW_QUERY_MAX_DEPTH', 12, 1),
    },
    minTaskDurationSeconds: int(env, 'SW_EBPF_TASK_MIN_DURATION', 60, 1),
    logLevel: str(env, 'SW_LOG_LEVEL', 'info'),
  };
};

/** Reads a TLS file named by a config key, saying which key when it cannot. */
export const readTlsFile = (path: string, key: string): Buffer => {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read "${path}": ${(err as Error).message}`);
  }
};
