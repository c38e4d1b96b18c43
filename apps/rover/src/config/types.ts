/**
 * Typed rover configuration. Key names follow upstream skywalking-rover's YAML (snake_case there,
 * camelCase here); every duration is a number of milliseconds and carries an `Ms` suffix.
 */

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';

export interface BackendConfig {
  /** `core.backend.addr` / ROVER_BACKEND_ADDR, "host:port" of the gRPC backend. */
  addr: string;
  /** `core.backend.enable_TLS` / ROVER_BACKEND_ENABLE_TLS */
  enableTLS: boolean;
  /** `core.backend.client_pem_path` / ROVER_BACKEND_PEM_PATH: client certificate chain (PEM). */
  clientPemPath: string;
  /** `core.backend.client_key_path` / ROVER_BACKEND_KEY_PATH: client private key (PEM). */
  clientKeyPath: string;
  /** `core.backend.ca_pem_path` / ROVER_BACKEND_CA_PEM_PATH: CA bundle to verify the server. */
  caPemPath: string;
  /** `core.backend.insecure_skip_verify` / ROVER_BACKEND_INSECURE_SKIP_VERIFY */
  insecureSkipVerify: boolean;
  /** `core.backend.check_period` (seconds upstream) / ROVER_BACKEND_CHECK_PERIOD, here in ms. */
  checkPeriodMs: number;
  /** `core.backend.authentication` / ROVER_BACKEND_AUTHENTICATION, sent as "Authentication" metadata. */
  authentication: string;
}

export interface CoreConfig {
  /** `core.cluster_name` / ROVER_CORE_CLUSTER_NAME */
  clusterName: string;
  backend: BackendConfig;
}

export interface HostConfig {
  /** `host.proc_mapping` / ROVER_HOST_PROC_MAPPING: where the host's /proc is mounted. */
  procMapping: string;
}

export type ScanMode = 'AUTO' | 'REGEX' | 'AGENT_SENSOR';

/** One host-mode finder; templates are Go-template strings (see src/process/template.ts). */
export interface RegexFinderConfig {
  /** Regex over the command line (arguments joined by spaces); undefined = not checked. */
  matchCmd?: string;
  /** Regex over the executable's path (/proc/PID/exe); undefined = not checked. */
  matchExe?: string;
  layer: string;
  serviceName: string;
  instanceName: string;
  processName: string;
  labels: string[];
}

export interface ScannerConfig {
  active: boolean;
  periodMs: number;
  mode: ScanMode;
  /** Processes younger than this are not reported yet. */
  minAgeMs: number;
  agent: { processStatusRefreshPeriodMs: number };
  regex: RegexFinderConfig[];
}

export interface KubernetesAnalyzerConfig {
  active: boolean;
  /** Go-template expressions, each evaluated as `{{filter}}`, all must print "true". */
  filters: string[];
  layer: string;
  serviceName: string;
  instanceName: string;
  processName: string;
  labels: string[];
}

export interface KubernetesConfig {
  active: boolean;
  nodeName: string;
  /** Empty = all namespaces. */
  namespaces: string[];
  periodMs: number;
  analyzers: KubernetesAnalyzerConfig[];
}

export interface ProcessDiscoveryConfig {
  heartbeatPeriodMs: number;
  /** Properties are sent every heartbeat period × this factor. */
  propertiesReportPeriod: number;
  scanner: ScannerConfig;
  kubernetes: KubernetesConfig;
}

export interface ProfilingConfig {
  active: boolean;
  checkIntervalMs: number;
  flushIntervalMs: number;
  /** How user stacks are walked: 'auto' | 'fp' | 'dwarf' (see profiling/stack-sampler.ts UnwindMode). */
  unwind: 'auto' | 'fp' | 'dwarf';
  /** Python frames of CPython processes in place of the interpreter's eval-loop frames. */
  python: boolean;
  task: {
    onCpu: {
      dumpPeriodMs: number;
      /** Per-thread sampling events opened at most (beyond: per-CPU events); 0 = always per CPU. */
      threadSamplingMaxThreads: number;
    };
    network: {
      reportIntervalMs: number;
      meterPrefix: string;
      protocolAnalyze: { perCpuBufferBytes: number; parallels: number; queueSize: number };
    };
  };
  continuous: {
    meterPrefix: string;
    fetchIntervalMs: number;
    checkIntervalMs: number;
    trigger: { executeDurationMs: number; silenceDurationMs: number };
  };
}

export interface RoverConfig {
  logger: { level: LogLevel };
  core: CoreConfig;
  host: HostConfig;
  processDiscovery: ProcessDiscoveryConfig;
  profiling: ProfilingConfig;
  /** The file the configuration was read from, if any. */
  source?: string;
}
