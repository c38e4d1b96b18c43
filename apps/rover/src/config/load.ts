import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { compileFilter, compileTemplate } from '../process/template.js';
import { DEFAULT_CONFIG_YAML } from './defaults.js';
import { DurationError, parseDuration } from './duration.js';
import type { KubernetesAnalyzerConfig, LogLevel, RegexFinderConfig, RoverConfig, ScanMode } from './types.js';

/** Thrown for any invalid setting; `key` is the YAML path (e.g. "process_discovery.scanner.period"). */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  /** YAML file to read; its keys override the built-in defaults (DEFAULT_CONFIG_YAML). */
  file?: string;
  /** YAML text instead of a file (tests, embedding). Ignored when `file` is given. */
  yaml?: string;
  /** Environment for `${NAME:default}` placeholders; default process.env. */
  env?: Env;
  /** Called for ignored keys (unknown to this rover). */
  onWarning?: (message: string) => void;
}

/**
 * Upstream's placeholder: the whole value is `${NAME:default}`; NAME is [_A-Z0-9]+, the default is
 * everything after the first ":" up to the final "}". A set, non-empty env var wins.
 */
const UNWIND_MODES = ['auto', 'fp', 'dwarf'] as const;
const PLACEHOLDER = /^\$\{([_A-Z0-9]+):([\s\S]*)\}$/;

/** Resolves one value: returns the resolved value and the env var it named, if any. */
export function resolvePlaceholder(value: unknown, env: Env): { value: unknown; envName?: string } {
  if (typeof value !== 'string') return { value };
  const m = PLACEHOLDER.exec(value.trim());
  if (!m) return { value };
  const envName = m[1] as string;
  const fromEnv = env[envName];
  return { value: fromEnv !== undefined && fromEnv !== '' ? fromEnv : (m[2] as string), envName };
}

/** Resolves every placeholder in a parsed YAML tree (objects, arrays, strings). */
export function resolvePlaceholders(tree: unknown, env: Env): unknown {
  if (Array.isArray(tree)) return tree.map((v) => resolvePlaceholders(v, env));
  if (tree && typeof tree === 'object') {
    return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, resolvePlaceholders(v, env)]));
  }
  return resolvePlaceholder(tree, env).value;
}

type Tree = Record<string, unknown>;

const isObject = (v: unknown): v is Tree => !!v && typeof v === 'object' && !Array.isArray(v);

/** Lower-cases keys (upstream's viper matches keys case-insensitively: enable_TLS == enable_tls). */
function normalizeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalizeKeys);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), normalizeKeys(x)]));
  return v;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isObject(base) && isObject(over)) {
    const out: Tree = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
    return out;
  }
  return over; // scalars and arrays replace
}

function parseYamlText(text: string, where: string): unknown {
  try {
    const doc = parseYaml(text) as unknown;
    if (doc === null || doc === undefined) return {};
    if (!isObject(doc)) throw new ConfigError(`${where}: the top level must be a mapping`);
    return normalizeKeys(doc);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${where}: invalid YAML: ${(err as Error).message}`);
  }
}

/** Finds the config file from `--config <file>`, `--config=<file>`, `-c <file>`, else ROVER_CONFIG. */
export function resolveConfigPath(
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config' || a === '-c') {
      const next = argv[i + 1];
      if (!next || next.startsWith('-')) throw new ConfigError(`${a} needs a file path`);
      return next;
    }
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  const fromEnv = env.ROVER_CONFIG;
  return fromEnv ? fromEnv : undefined;
}

// ---------------------------------------------------------------------------------------------

/** Reads typed values from the merged raw tree, resolving placeholders and naming keys in errors. */
class Reader {
  private readonly used = new Set<string>();

  constructor(
    private readonly root: Tree,
    private readonly env: Env,
  ) {}

  private raw(path: string): { value: unknown; envName?: string } {
    this.used.add(path);
    let cur: unknown = this.root;
    for (const part of splitPath(path)) {
      if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
      else if (isObject(cur)) cur = cur[part];
      else return { value: undefined };
    }
    return resolvePlaceholder(cur, this.env);
  }

  private fail(path: string, envName: string | undefined, msg: string): never {
    const from = envName && this.env[envName] ? ` (from ${envName})` : '';
    throw new ConfigError(`config ${path}${from}: ${msg}`, path);
  }

  has(path: string): boolean {
    return this.raw(path).value !== undefined;
  }

  node(path: string): unknown {
    return this.raw(path).value;
  }

  str(path: string, fallback?: string): string {
    const { value, envName } = this.raw(path);
    if (value === undefined || value === null) {
      if (fallback !== undefined) return fallback;
      this.fail(path, envName, 'is required');
    }
    if (typeof value === 'string') return value.trim();
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return this.fail(path, envName, `expected a string, got ${describe(value)}`);
  }

  bool(path: string, fallback?: boolean): boolean {
    const { value, envName } = this.raw(path);
    if (value === undefined || value === null || value === '') {
      if (fallback !== undefined) return fallback;
      this.fail(path, envName, 'is required');
    }
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') {
      const v = value.trim().toLowerCase();
      if (['true', '1', 't', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'f', 'no', 'off'].includes(v)) return false;
    }
    return this.fail(path, envName, `expected true or false, got ${describe(value)}`);
  }

  int(path: string, opts: { min?: number; fallback?: number } = {}): number {
    const { value, envName } = this.raw(path);
    if (value === undefined || value === null || value === '') {
      if (opts.fallback !== undefined) return opts.fallback;
      this.fail(path, envName, 'is required');
    }
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isInteger(n)) this.fail(path, envName, `expected an integer, got ${describe(value)}`);
    if (opts.min !== undefined && n < opts.min) this.fail(path, envName, `must be at least ${opts.min}, got ${n}`);
    return n;
  }

  /** Go duration → ms. With `bareSeconds`, a plain integer means seconds (upstream's int settings). */
  duration(path: string, opts: { positive?: boolean; fallback?: string; bareSeconds?: boolean } = {}): number {
    const { value, envName } = this.raw(path);
    let v = value;
    if (v === undefined || v === null || v === '') {
      if (opts.fallback === undefined) this.fail(path, envName, 'is required');
      v = opts.fallback;
    }
    let ms: number;
    if (opts.bareSeconds && typeof v === 'string' && /^\s*\d+\s*$/.test(v)) v = Number(v);
    if (typeof v === 'number') {
      if (!opts.bareSeconds) this.fail(path, envName, `missing unit in duration ${v} (write e.g. "${v}s")`);
      ms = v * 1000;
    } else if (typeof v === 'string') {
      try {
        ms = parseDuration(v);
      } catch (err) {
        if (err instanceof DurationError) this.fail(path, envName, err.message);
        throw err;
      }
    } else return this.fail(path, envName, `expected a duration like "20s", got ${describe(v)}`);
    if (opts.positive && !(ms > 0)) this.fail(path, envName, `must be a positive duration, got ${describe(v)}`);
    if (ms < 0) this.fail(path, envName, `must not be negative, got ${describe(v)}`);
    return ms;
  }

  /** Sizes like "400KB", "2MB", "512" (bytes); K/M/G are powers of 1024 as in upstream. */
  size(path: string): number {
    const { value, envName } = this.raw(path);
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    const m = typeof value === 'string' ? /^\s*(\d+)\s*([KMG]i?B?|B)?\s*$/i.exec(value) : null;
    if (!m) return this.fail(path, envName, `expected a size like "400KB", got ${describe(value)}`);
    const unit = (m[2] ?? 'B').toUpperCase()[0];
    const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
    return Number(m[1]) * mult;
  }

  /** Comma-separated list (or a YAML sequence of strings); empty items dropped. */
  list(path: string): string[] {
    const { value, envName } = this.raw(path);
    if (value === undefined || value === null || value === '') return [];
    if (Array.isArray(value)) {
      return value
        .map((v, i) => {
          const r = resolvePlaceholder(v, this.env).value;
          if (typeof r !== 'string') this.fail(`${path}[${i}]`, envName, `expected a string, got ${describe(r)}`);
          return (r as string).trim();
        })
        .filter((s) => s !== '');
    }
    if (typeof value !== 'string')
      return this.fail(path, envName, `expected a comma-separated list, got ${describe(value)}`);
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  oneOf<T extends string>(path: string, allowed: readonly T[], opts: { upper?: boolean } = {}): T {
    const { envName } = this.raw(path);
    let v = this.str(path);
    if (opts.upper) v = v.toUpperCase();
    if (!(allowed as readonly string[]).includes(v))
      this.fail(path, envName, `must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  }

  regex(path: string): string | undefined {
    const { envName } = this.raw(path);
    const v = this.str(path, '');
    if (v === '') return undefined;
    try {
      new RegExp(v);
    } catch (err) {
      this.fail(path, envName, `invalid regular expression: ${(err as Error).message}`);
    }
    return v;
  }

  template(path: string, fallback?: string): string {
    const { envName } = this.raw(path);
    const v = this.str(path, fallback);
    if (v === '') this.fail(path, envName, 'must not be empty');
    try {
      compileTemplate(path, v);
    } catch (err) {
      this.fail(path, envName, (err as Error).message);
    }
    return v;
  }

  filter(path: string): string {
    const { envName } = this.raw(path);
    const v = this.str(path);
    try {
      compileFilter(path, v);
    } catch (err) {
      this.fail(path, envName, (err as Error).message);
    }
    return v;
  }

  array(path: string): unknown[] {
    const { value, envName } = this.raw(path);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(path, envName, `expected a list, got ${describe(value)}`);
    return value as unknown[];
  }

  /** Lists keys present in the tree that no reader call asked for. */
  unknownKeys(): string[] {
    const out: string[] = [];
    const walk = (v: unknown, path: string) => {
      if (isObject(v)) {
        for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
      } else if (Array.isArray(v) && v.some(isObject)) {
        v.forEach((x, i) => walk(x, `${path}[${i}]`));
      } else if (!this.used.has(path)) {
        out.push(path);
      }
    };
    walk(this.root, '');
    return out;
  }
}

function splitPath(path: string): string[] {
  return path.replace(/\[(\d+)\]/g, '.$1').split('.');
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (v && typeof v === 'object') return 'a mapping';
  return String(v);
}

const LOG_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const SCAN_MODES: readonly ScanMode[] = ['AUTO', 'REGEX', 'AGENT_SENSOR'];

/** Builds the typed configuration from a raw (already merged) tree. */
export function buildConfig(rawTree: unknown, env: Env = process.env, onWarning?: (m: string) => void): RoverConfig {
  const r = new Reader(isObject(rawTree) ? rawTree : {}, env);

  const regexFinders: RegexFinderConfig[] = r.array('process_discovery.scanner.regex').map((_, i) => {
    const p = `process_discovery.scanner.regex[${i}]`;
    if (!isObject(r.node(p))) throw new ConfigError(`config ${p}: expected a mapping`, p);
    const matchCmd = r.regex(`${p}.match_cmd`);
    const matchExe = r.regex(`${p}.match_exe`);
    return {
      ...(matchCmd !== undefined ? { matchCmd } : {}),
      ...(matchExe !== undefined ? { matchExe } : {}),
      layer: r.str(`${p}.layer`, 'OS_LINUX') || 'OS_LINUX',
      serviceName: r.template(`${p}.service_name`, '{{.Process.ExeName}}'),
      instanceName: r.template(`${p}.instance_name`, '{{.Rover.HostName}}'),
      processName: r.template(`${p}.process_name`, '{{.Process.ExeName}}'),
      labels: r.list(`${p}.labels`),
    };
  });

  const analyzers: KubernetesAnalyzerConfig[] = r.array('process_discovery.kubernetes.analyzers').map((_, i) => {
    const p = `process_discovery.kubernetes.analyzers[${i}]`;
    if (!isObject(r.node(p))) throw new ConfigError(`config ${p}: expected a mapping`, p);
    const filters = r.array(`${p}.filters`).map((__, j) => r.filter(`${p}.filters[${j}]`));
    return {
      active: r.bool(`${p}.active`, true),
      filters,
      layer: r.str(`${p}.layer`),
      serviceName: r.template(`${p}.service_name`),
      instanceName: r.template(`${p}.instance_name`, '{{.Pod.Name}}'),
      processName: r.template(`${p}.process_name`, '{{.Process.ExeName}}'),
      labels: r.list(`${p}.labels`),
    };
  });

  const config: RoverConfig = {
    logger: { level: r.oneOf('logger.level', LOG_LEVELS, { upper: true }) },
    core: {
      clusterName: r.str('core.cluster_name', ''),
      backend: {
        addr: r.str('core.backend.addr'),
        enableTLS: r.bool('core.backend.enable_tls', false),
        clientPemPath: r.str('core.backend.client_pem_path', ''),
        clientKeyPath: r.str('core.backend.client_key_path', ''),
        caPemPath: r.str('core.backend.ca_pem_path', ''),
        insecureSkipVerify: r.bool('core.backend.insecure_skip_verify', false),
        checkPeriodMs: r.duration('core.backend.check_period', { positive: true, fallback: '5s', bareSeconds: true }),
        authentication: r.str('core.backend.authentication', ''),
      },
    },
    host: { procMapping: r.str('host.proc_mapping', '/proc') || '/proc' },
    processDiscovery: {
      heartbeatPeriodMs: r.duration('process_discovery.heartbeat_period', { positive: true }),
      propertiesReportPeriod: r.int('process_discovery.properties_report_period', { min: 1 }),
      scanner: {
        active: r.bool('process_discovery.scanner.active', true),
        periodMs: r.duration('process_discovery.scanner.period', { positive: true }),
        mode: r.oneOf('process_discovery.scanner.mode', SCAN_MODES, { upper: true }),
        minAgeMs: r.duration('process_discovery.scanner.min_age', { fallback: '0s' }),
        agent: {
          processStatusRefreshPeriodMs: r.duration('process_discovery.scanner.agent.process_status_refresh_period', {
            positive: true,
            fallback: '1m',
          }),
        },
        regex: regexFinders,
      },
      kubernetes: {
        active: r.bool('process_discovery.kubernetes.active', false),
        nodeName: r.str('process_discovery.kubernetes.node_name', ''),
        namespaces: r.list('process_discovery.kubernetes.namespaces'),
        periodMs: r.duration('process_discovery.kubernetes.period', { positive: true, fallback: '5s' }),
        analyzers,
      },
    },
    profiling: {
      active: r.bool('profiling.active'),
      checkIntervalMs: r.duration('profiling.check_interval', { positive: true }),
      flushIntervalMs: r.duration('profiling.flush_interval', { positive: true }),
      unwind: r.oneOf('profiling.unwind', UNWIND_MODES),
      python: r.bool('profiling.python'),
      task: {
        onCpu: {
          dumpPeriodMs: r.duration('profiling.task.on_cpu.dump_period', { positive: true }),
          threadSamplingMaxThreads: r.int('profiling.task.on_cpu.thread_sampling_max_threads', { min: 0 }),
        },
        network: {
          reportIntervalMs: r.duration('profiling.task.network.report_interval', { positive: true }),
          meterPrefix: r.str('profiling.task.network.meter_prefix'),
          protocolAnalyze: {
            perCpuBufferBytes: r.size('profiling.task.network.protocol_analyze.per_cpu_buffer'),
            parallels: r.int('profiling.task.network.protocol_analyze.parallels', { min: 1 }),
            queueSize: r.int('profiling.task.network.protocol_analyze.queue_size', { min: 1 }),
          },
        },
      },
      continuous: {
        meterPrefix: r.str('profiling.continuous.meter_prefix'),
        fetchIntervalMs: r.duration('profiling.continuous.fetch_interval', { positive: true }),
        checkIntervalMs: r.duration('profiling.continuous.check_interval', { positive: true }),
        trigger: {
          executeDurationMs: r.duration('profiling.continuous.trigger.execute_duration', { positive: true }),
          silenceDurationMs: r.duration('profiling.continuous.trigger.silence_duration', { positive: true }),
        },
      },
    },
  };

  const scanner = config.processDiscovery.scanner;
  if (scanner.active && scanner.mode !== 'AGENT_SENSOR' && scanner.regex.length === 0) {
    throw new ConfigError(
      'config process_discovery.scanner.regex: REGEX and AUTO modes need at least one finder',
      'process_discovery.scanner.regex',
    );
  }
  const k8s = config.processDiscovery.kubernetes;
  if (k8s.active && k8s.nodeName === '') {
    throw new ConfigError(
      'config process_discovery.kubernetes.node_name: is required when kubernetes discovery is active ' +
        '(set ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME, e.g. from the downward API spec.nodeName)',
      'process_discovery.kubernetes.node_name',
    );
  }
  if (config.core.backend.enableTLS) {
    const b = config.core.backend;
    if ((b.clientPemPath === '') !== (b.clientKeyPath === '')) {
      throw new ConfigError(
        'config core.backend.client_pem_path/client_key_path: set both or neither for mutual TLS',
        b.clientPemPath === '' ? 'core.backend.client_pem_path' : 'core.backend.client_key_path',
      );
    }
  }

  if (onWarning) for (const k of r.unknownKeys()) onWarning(`config ${k}: unknown key, ignored`);
  return config;
}

/**
 * Loads the configuration: built-in defaults (DEFAULT_CONFIG_YAML, same as config/rover.yaml),
 * overlaid with the user's YAML file (mappings merge, lists replace), then `${NAME:default}`
 * placeholders resolved against `env`. Throws {@link ConfigError} naming the bad key.
 */
export function loadConfig(opts: LoadConfigOptions = {}): RoverConfig {
  const env = opts.env ?? process.env;
  const defaults = parseYamlText(DEFAULT_CONFIG_YAML, 'built-in defaults');
  let user: unknown = {};
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read config file ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    user = parseYamlText(text, opts.file);
  } else if (opts.yaml !== undefined) {
    user = parseYamlText(opts.yaml, 'config');
  }
  const merged = deepMerge(defaults, user);
  const config = buildConfig(merged, env, opts.onWarning);
  if (opts.file !== undefined) config.source = opts.file;
  return config;
}

/** What rover's main does: the file from `--config`/`-c`/ROVER_CONFIG (if any), env from the process. */
export function loadConfigFromProcess(
  argv: readonly string[] = process.argv.slice(2),
  env: Env = process.env,
  onWarning?: (message: string) => void,
): RoverConfig {
  const file = resolveConfigPath(argv, env);
  return loadConfig({ ...(file !== undefined ? { file } : {}), env, ...(onWarning ? { onWarning } : {}) });
}
