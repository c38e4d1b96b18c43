/**
 * The extension of a NETWORK task: its HTTP sampling rules. Stored (extension_config_json) as
 * the OAP stores EBPFProfilingTaskExtension, Gson with the query protocol's camelCase names;
 * sent to rover (the EBPFProfilingTaskQuery command's ExtensionConfigJSON) as the OAP's
 * EBPFProfilingTaskExtensionConfig, PascalCase names, absent values left out, the literal null
 * when there is nothing to send.
 *
 * One deliberate difference: the OAP (10.2 to 10.4) copies when5xx into When4xx while converting
 * (CommandService.convertExtension); oap-lite sends the rule's own when4xx.
 */
import { gsonJson } from './gson';

export interface NetworkDataCollectingSettings {
  requireCompleteRequest: boolean;
  maxRequestSize?: number | null;
  requireCompleteResponse: boolean;
  maxResponseSize?: number | null;
}

export interface NetworkSamplingRule {
  uriRegex?: string | null;
  minDuration?: number | null;
  when4xx: boolean;
  when5xx: boolean;
  settings?: NetworkDataCollectingSettings | null;
}

/**
 * The OAP's validateSamplingRules and validateSingleSampleRule, with their texts; null when the
 * rules are acceptable. An empty uriRegex is the default rule (at most one).
 */
export const checkSamplingRules = (rules: readonly NetworkSamplingRule[]): string | null => {
  let hasDefault = false;
  const regexes = new Set<string>();
  for (const rule of rules) {
    const regex = rule.uriRegex ?? '';
    if (regex === '') {
      if (hasDefault) return 'already contains the default sampling config';
      hasDefault = true;
    } else {
      if (regexes.has(regex)) return `already contains the "${regex}" sampling config`;
      regexes.add(regex);
    }
    const error = checkSamplingRule(rule);
    if (error) return error;
  }
  return null;
};

const checkSamplingRule = (rule: NetworkSamplingRule): string | null => {
  if (rule.minDuration != null && rule.minDuration < 0) return 'the min duration must bigger or equals zero';
  const s = rule.settings;
  if (s == null) return 'the rule sampling setting cannot be null';
  if (!s.requireCompleteRequest && !s.requireCompleteResponse) {
    return 'please collect at least one of request or response';
  }
  if (s.maxRequestSize != null && s.maxRequestSize <= 0) return 'the max request size must bigger than zero';
  if (s.maxResponseSize != null && s.maxResponseSize <= 0) return 'the max response size must bigger than zero';
  return null;
};

const present = <K extends string, V>(key: K, value: V | null | undefined): Partial<Record<K, V>> =>
  value == null ? {} : ({ [key]: value } as Record<K, V>);

/** The stored extension_config_json of rules as given (Gson: nulls left out). */
export const storedNetworkExtension = (rules: readonly NetworkSamplingRule[] | null | undefined): string =>
  gsonJson(
    rules == null
      ? {}
      : {
          networkSamplings: rules.map((r) => ({
            ...present('uriRegex', r.uriRegex),
            ...present('minDuration', r.minDuration),
            when4xx: r.when4xx,
            when5xx: r.when5xx,
            ...(r.settings
              ? {
                  settings: {
                    requireCompleteRequest: r.settings.requireCompleteRequest,
                    ...present('maxRequestSize', r.settings.maxRequestSize),
                    requireCompleteResponse: r.settings.requireCompleteResponse,
                    ...present('maxResponseSize', r.settings.maxResponseSize),
                  },
                }
              : {}),
          })),
        },
  );

/** The sampling rules of a stored extension; null when it holds none ("" or no list). */
export const parseStoredNetworkExtension = (stored: string): NetworkSamplingRule[] | null => {
  if (!stored) return null;
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    return null;
  }
  const list = (value as { networkSamplings?: unknown } | null)?.networkSamplings;
  return Array.isArray(list) ? (list as NetworkSamplingRule[]) : null;
};

/** ExtensionConfigJSON of the command for a task's stored extension. */
export const commandExtensionJson = (stored: string): string => {
  const rules = parseStoredNetworkExtension(stored);
  if (rules === null) return 'null';
  return gsonJson({
    NetworkSamplings: rules.map((r) => ({
      ...present('URIRegex', r.uriRegex),
      ...present('MinDuration', r.minDuration),
      When4xx: r.when4xx === true,
      When5xx: r.when5xx === true,
      ...(r.settings
        ? {
            Settings: {
              RequireCompleteRequest: r.settings.requireCompleteRequest === true,
              ...present('MaxRequestSize', r.settings.maxRequestSize),
              RequireCompleteResponse: r.settings.requireCompleteResponse === true,
              ...present('MaxResponseSize', r.settings.maxResponseSize),
            },
          }
        : {}),
    })),
  });
};
