export type * from './types.js';
export { DEFAULT_CONFIG_YAML } from './defaults.js';
export { DurationError, formatDuration, parseDuration } from './duration.js';
export {
  ConfigError,
  buildConfig,
  loadConfig,
  loadConfigFromProcess,
  resolveConfigPath,
  resolvePlaceholder,
  resolvePlaceholders,
  type Env,
  type LoadConfigOptions,
} from './load.js';
