/**
 * Continuous profiling policies as the backend sends them (the `ContinuousProfilingPolicyQuery`
 * command's `ServiceWithPolicyJSON`): per service a UUID and, per profiling target type, check
 * items keyed by monitor type. Items that upstream rover would refuse (empty
 * threshold, period or count not positive, count over period, unparsable threshold) are dropped
 * with a warning, as upstream does.
 */
import { isProfilingTargetType, type Command__Output, type ProfilingTargetType } from '@swlite/protocol';

export type CheckType =
  'PROCESS_CPU' | 'PROCESS_THREAD_COUNT' | 'SYSTEM_LOAD' | 'HTTP_ERROR_RATE' | 'HTTP_AVG_RESPONSE_TIME';

export const CHECK_TYPES: readonly CheckType[] = [
  'SYSTEM_LOAD',
  'PROCESS_CPU',
  'PROCESS_THREAD_COUNT',
  'HTTP_ERROR_RATE',
  'HTTP_AVG_RESPONSE_TIME',
];
export const HTTP_CHECK_TYPES: readonly CheckType[] = ['HTTP_ERROR_RATE', 'HTTP_AVG_RESPONSE_TIME'];

export interface PolicyItem {
  service: string;
  target: ProfilingTargetType;
  type: CheckType;
  threshold: number;
  /** The threshold as sent (the cause keeps the parsed number). */
  thresholdText: string;
  /** Seconds. */
  period: number;
  count: number;
  uriList: string[];
  uriRegex: RegExp | null;
  /** The regex as sent (RegExp.source escapes slashes). */
  uriRegexText: string;
}

export interface ServicePolicy {
  service: string;
  uuid: string;
  items: PolicyItem[];
}

export const POLICY_COMMAND = 'ContinuousProfilingPolicyQuery';

/** Go's strconv.ParseInt(val, 10, 32) (CPU, thread count) or ParseFloat (load, HTTP). */
const parseThreshold = (type: CheckType, text: string): number | null => {
  const t = text.trim();
  if (type === 'PROCESS_CPU' || type === 'PROCESS_THREAD_COUNT') {
    if (!/^[+-]?\d+$/.test(t)) return null;
    const v = Number(t);
    return v >= -2_147_483_648 && v <= 2_147_483_647 ? v : null;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  return Number(t);
};

export interface ParseProblem {
  service: string;
  target: string;
  type: string;
  reason: string;
}

/** Parses ServiceWithPolicyJSON; problems are the items left out and why. */
export const parsePolicies = (json: string): { policies: ServicePolicy[]; problems: ParseProblem[] } => {
  const raw = JSON.parse(json) as unknown;
  if (!Array.isArray(raw)) throw new Error('ServiceWithPolicyJSON is not a JSON array');
  const policies: ServicePolicy[] = [];
  const problems: ParseProblem[] = [];
  for (const entry of raw as Array<Record<string, unknown>>) {
    if (!entry || typeof entry !== 'object' || typeof entry.ServiceName !== 'string') continue;
    const service = entry.ServiceName;
    const policy: ServicePolicy = { service, uuid: typeof entry.UUID === 'string' ? entry.UUID : '', items: [] };
    const profiling = (entry.Profiling ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
    for (const [target, checks] of Object.entries(profiling)) {
      for (const [type, item] of Object.entries(checks ?? {})) {
        const problem = (reason: string) => problems.push({ service, target, type, reason });
        if (!isProfilingTargetType(target)) {
          problem('unknown target type');
          continue;
        }
        if (!CHECK_TYPES.includes(type as CheckType)) {
          problem('unknown monitor type');
          continue;
        }
        const thresholdText = typeof item?.Threshold === 'string' ? item.Threshold : '';
        const period = Number(item?.Period ?? 0);
        const count = Number(item?.Count ?? 0);
        if (thresholdText === '') {
          problem('threshold cannot be empty');
          continue;
        }
        if (!Number.isInteger(period) || period <= 0) {
          problem('period must be bigger than zero');
          continue;
        }
        if (!Number.isInteger(count) || count <= 0) {
          problem('count must be bigger than zero');
          continue;
        }
        if (count > period) {
          problem('count cannot be bigger than period');
          continue;
        }
        const threshold = parseThreshold(type as CheckType, thresholdText);
        if (threshold === null) {
          problem(`cannot parse threshold "${thresholdText}"`);
          continue;
        }
        const uriList = Array.isArray(item?.URIList) ? (item.URIList as unknown[]).map(String).filter(Boolean) : [];
        let uriRegex: RegExp | null = null;
        if (uriList.length === 0 && typeof item?.URIRegex === 'string' && item.URIRegex !== '') {
          try {
            uriRegex = new RegExp(item.URIRegex);
          } catch {
            problem(`cannot compile URI regex "${item.URIRegex}"`);
            continue;
          }
        }
        policy.items.push({
          service,
          target,
          type: type as CheckType,
          threshold,
          thresholdText,
          period,
          count,
          uriList,
          uriRegex,
          uriRegexText: uriRegex ? String(item?.URIRegex) : '',
        });
      }
    }
    policies.push(policy);
  }
  return { policies, problems };
};

/** The ServiceWithPolicyJSON of a policy command, or null for another command. */
export const policyJsonOf = (command: Command__Output): string | null => {
  if (command.command !== POLICY_COMMAND) return null;
  return command.args.find((a) => a.key === 'ServiceWithPolicyJSON')?.value ?? null;
};
