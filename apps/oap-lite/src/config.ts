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
  rest: {
    host: string;
    port: number;
    /** Optional authentication of the HTTP API (GraphQL and REST); off when both are empty. */
    authentication: { token: string; user: string; password: string };
    tls: { enabled: boolean; keyPath: string; certChainPath: string };
  };
  /** Budgets of what agents may send (each refusal names its variable). */
  receiver: ReceiverLimits;
  storage: {
    kind: 'sqlite' | 'elasticsearch';
    /** Old-generation heap (MB) of each analysis thread, either backend's; past it the analysis is refused. */
    analysisThreadHeapMb: number;
    sqlite: {
      dataDir: string;
      /** Threads with their own connections for the heavy profiling read (0: the main thread). */
      readThreads: number;
      /** A thread of its own writes profiling uploads in group commits (false: the main thread). */
      writeThread: boolean;
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
    /** Estimated bytes of records all streams together keep in memory; past it the pushing stream spills. */
    memoryBytes: number;
    /** Records per storage write when a completed stream is stored. */
    commitRecords: number;
  };
  query: QueryLimits;
  debugging: {
    /** Config keys containing any of these (case-insensitive) are masked in the config dump. */
    maskingKeywords: string[];
  };
  /** Shortest FIXED_TIME task (s); the OAP's is 60. */
  minTaskDurationSeconds: number;
  /** A NETWORK task's duration and keep-alive window (the OAP's fixed 600 s and 60 s). */
  networkTask: { durationSeconds: number; keepAliveThresholdSeconds: number };
  logLevel: string;
}

export interface QueryLimits {
  maxQueryComplexity: number;
  maxDepth: number;
  /** Aliased fields in one GraphQL operation. */
  maxAliases: number;
  /** Fields in one GraphQL operation, fragments expanded. */
  maxFields: number;
  /** analysisEBPFProfilingResult fields in one GraphQL document. */
  maxAnalysesPerRequest: number;
  /** Analyses computed at once over all requests; more wait (bounded) for a turn. */
  maxConcurrentAnalyses: number;
  /** Analyses that may wait for a turn; more are refused at once. */
  maxQueuedAnalyses: number;
  maxAnalysisElements: number;
  maxAnalysisResponseBytes: number;
  /** Longest analysis, waiting for a turn included. */
  analysisTimeoutSeconds: number;
}

export interface ReceiverLimits {
  serviceNameMaxLength: number;
  instanceNameMaxLength: number;
  /** Longest id, name, label, layer or property accepted from an agent. */
  maxStringLength: number;
  /** Longest symbol; longer ones are cut (a real C++ symbol can be long). */
  maxSymbolLength: number;
  maxProcessesPerReport: number;
  /** Symbols in one stack part (user or kernel). */
  maxStackSymbols: number;
  /** Agent timestamps further ahead of this server's clock are refused (ms). */
  maxClockAheadMs: number;
}

/** As the OAP's debugging-query module masks by default. */
export const DEFAULT_MASKING_KEYWORDS = 'user,password,token,accessKey,secretKey,authentication';

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
  if (Boolean(env.SW_CORE_REST_AUTH_USER) !== Boolean(env.SW_CORE_REST_AUTH_PASSWORD)) {
    throw new ConfigError('SW_CORE_REST_AUTH_USER and SW_CORE_REST_AUTH_PASSWORD are set together, or neither');
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
      authentication: {
        token: str(env, 'SW_CORE_REST_AUTHENTICATION', ''),
        user: str(env, 'SW_CORE_REST_AUTH_USER', ''),
        password: str(env, 'SW_CORE_REST_AUTH_PASSWORD', ''),
      },
      tls: {
        enabled: bool(env, 'SW_CORE_REST_SSL_ENABLED', false),
        keyPath: str(env, 'SW_CORE_REST_SSL_KEY_PATH', ''),
        certChainPath: str(env, 'SW_CORE_REST_SSL_CERT_CHAIN_PATH', ''),
      },
    },
    receiver: {
      serviceNameMaxLength: int(env, 'SW_SERVICE_NAME_MAX_LENGTH', 70, 1, 1000),
      instanceNameMaxLength: int(env, 'SW_INSTANCE_NAME_MAX_LENGTH', 70, 1, 1000),
      maxStringLength: int(env, 'SW_RECEIVER_MAX_STRING_LENGTH', 1024, 70),
      maxSymbolLength: int(env, 'SW_RECEIVER_MAX_SYMBOL_LENGTH', 4096, 64),
      maxProcessesPerReport: int(env, 'SW_RECEIVER_MAX_PROCESSES_PER_REPORT', 10_000, 1),
      maxStackSymbols: int(env, 'SW_RECEIVER_MAX_STACK_SYMBOLS', 1024, 1),
      maxClockAheadMs: int(env, 'SW_RECEIVER_MAX_CLOCK_AHEAD_SECONDS', 86_400, 0) * 1000,
    },
    storage: {
      kind,
      analysisThreadHeapMb: int(env, 'SW_QUERY_MAX_ANALYSIS_THREAD_HEAP_MB', 128, 16, 65_536),
      sqlite: {
        dataDir: resolve(str(env, 'SW_STORAGE_SQLITE_DATA_DIR', 'data')),
        readThreads: int(env, 'SW_STORAGE_SQLITE_READ_THREADS', 2, 0, 64),
        writeThread: bool(env, 'SW_STORAGE_SQLITE_WRITE_THREAD', true),
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
      memoryRecords: int(env, 'SW_RECEIVER_STAGING_MEMORY_RECORDS', 100_000, 1),
      memoryBytes: int(env, 'SW_RECEIVER_STAGING_MEMORY_BYTES', 64 * 1024 * 1024, 1),
      commitRecords: int(env, 'SW_RECEIVER_COMMIT_RECORDS', 1_000, 1),
    },
    query: {
      maxQueryComplexity: int(env, 'SW_QUERY_MAX_QUERY_COMPLEXITY', 3000, 1),
      maxDepth: int(env, 'SW_QUERY_MAX_DEPTH', 12, 1),
      maxAliases: int(env, 'SW_QUERY_MAX_ALIASES', 100, 1),
      maxFields: int(env, 'SW_QUERY_MAX_FIELDS', 2000, 1),
      maxAnalysesPerRequest: int(env, 'SW_QUERY_MAX_ANALYSES_PER_REQUEST', 1, 1),
      maxConcurrentAnalyses: int(env, 'SW_QUERY_MAX_CONCURRENT_ANALYSES', 2, 1),
      maxQueuedAnalyses: int(env, 'SW_QUERY_MAX_QUEUED_ANALYSES', 8, 0),
      maxAnalysisElements: int(env, 'SW_QUERY_MAX_ANALYSIS_ELEMENTS', 200_000, 1),
      maxAnalysisResponseBytes: int(env, 'SW_QUERY_MAX_ANALYSIS_RESPONSE_BYTES', 32 * 1024 * 1024, 1024),
      analysisTimeoutSeconds: int(env, 'SW_CORE_MAX_DURATION_OF_ANALYZE_EBPF_PROFILING', 30, 1),
    },
    debugging: {
      maskingKeywords: str(env, 'SW_DEBUGGING_QUERY_KEYWORDS_FOR_MASKING_SECRETS', DEFAULT_MASKING_KEYWORDS)
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    },
    minTaskDurationSeconds: int(env, 'SW_EBPF_TASK_MIN_DURATION', 60, 1),
    networkTask: {
      durationSeconds: int(env, 'SW_EBPF_NETWORK_TASK_DURATION', 600, 1),
      keepAliveThresholdSeconds: int(env, 'SW_EBPF_NETWORK_KEEP_ALIVE_THRESHOLD', 60, 0),
    },
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
