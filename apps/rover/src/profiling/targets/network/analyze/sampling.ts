/**
 * HTTP sampling of a NETWORK task, as upstream rover's http1 sampler decides it: the rules come
 * from the task command's ExtensionConfigJSON (`NetworkSamplings`), a request is a candidate only
 * with a trace context, the rule is chosen by URI, and the exchange is classified 5xx, else 4xx,
 * else slow. Each class keeps the ten slowest exchanges per traffic until the next flush.
 *
 * One deliberate difference: the OAP (10.2 to 10.4) sends When4xx equal to When5xx because of a
 * copy bug in its command conversion; this module takes When4xx as sent (a correct OAP sends the
 * user's choice), and so does upstream rover.
 */
import type { HttpExchange } from './http1/message';
import { traceContextOf, type TraceContext } from './tracing';

export interface DataCollectingSettings {
  requireCompleteRequest: boolean;
  /** Bytes of request content kept in the attached event; undefined keeps all. */
  maxRequestSize?: number;
  requireCompleteResponse: boolean;
  maxResponseSize?: number;
}

export interface SamplingRule {
  /** The regular expression as sent; undefined for the default rule. */
  uriRegex?: string;
  /** Sample exchanges at least this slow (ms); undefined: never as slow. */
  minDurationMs?: number;
  when4xx: boolean;
  when5xx: boolean;
  /** What to attach; undefined attaches nothing (the OAP refuses such rules). */
  settings?: DataCollectingSettings;
}

/** A bad ExtensionConfigJSON (the whole value) or a bad rule in it. */
export class SamplingConfigError extends Error {
  override name = 'SamplingConfigError';
}

/** Go's encoding/json matches keys case-insensitively; the OAP sends PascalCase. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalInt(obj: Record<string, unknown>, name: string, where: string): number | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new SamplingConfigError(`${where}.${name} must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

function bool(obj: Record<string, unknown>, name: string, where: string): boolean {
  const v = field(obj, name);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean')
    throw new SamplingConfigError(`${where}.${name} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function parseRule(raw: unknown, where: string): SamplingRule {
  if (!isObject(raw)) throw new SamplingConfigError(`${where} must be an object`);
  const regex = field(raw, 'URIRegex');
  if (regex !== undefined && regex !== null && typeof regex !== 'string')
    throw new SamplingConfigError(`${where}.URIRegex must be a string`);
  const rawSettings = field(raw, 'Settings');
  let settings: DataCollectingSettings | undefined;
  if (rawSettings !== undefined && rawSettings !== null) {
    if (!isObject(rawSettings)) throw new SamplingConfigError(`${where}.Settings must be an object`);
    const w = `${where}.Settings`;
    settings = {
      requireCompleteRequest: bool(rawSettings, 'RequireCompleteRequest', w),
      maxRequestSize: optionalInt(rawSettings, 'MaxRequestSize', w),
      requireCompleteResponse: bool(rawSettings, 'RequireCompleteResponse', w),
      maxResponseSize: optionalInt(rawSettings, 'MaxResponseSize', w),
    };
  }
  return {
    uriRegex: typeof regex === 'string' ? regex : undefined,
    minDurationMs: optionalInt(raw, 'MinDuration', where),
    when4xx: bool(raw, 'When4xx', where),
    when5xx: bool(raw, 'When5xx', where),
    settings,
  };
}

/**
 * The sampling rules of an ExtensionConfigJSON value. `null` (the literal, or an empty value)
 * means "no change": the OAP sends it on every keep-alive command, and the rules must survive.
 */
export function parseNetworkSamplings(extensionConfigJson: string): SamplingRule[] | null {
  const text = extensionConfigJson.trim();
  if (text === '' || text === 'null') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SamplingConfigError(`ExtensionConfigJSON is not JSON: ${(e as Error).message}`);
  }
  if (value === null) return null;
  if (!isObject(value)) throw new SamplingConfigError('ExtensionConfigJSON must be a JSON object');
  const list = field(value, 'NetworkSamplings');
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) throw new SamplingConfigError('NetworkSamplings must be an array');
  return list.map((r, i) => parseRule(r, `NetworkSamplings[${i}]`));
}

export const RULE_CACHE_SIZE = 200;

interface UriRule {
  matcher: RegExp;
  rule: SamplingRule;
}

/** The rules of one runner; they only accumulate over its lifetime, as upstream. */
export class SamplingRules {
  private defaultRule: SamplingRule | undefined;
  private readonly uriRules: UriRule[] = [];
  /** No rule installed: no exchange can be sampled (the kernel may meter HTTP/1 alone). */
  get empty(): boolean {
    return this.defaultRule === undefined && this.uriRules.length === 0;
  }

  /** URI -> chosen rule (null: none), least recently used first. */
  private readonly cache = new Map<string, SamplingRule | null>();
  /** Rules not installed, with why (a second default rule, a regex that does not compile). */
  readonly rejected: Array<{ rule: SamplingRule; reason: string }> = [];

  /** Add rules; null or an empty list keeps the current ones. */
  update(rules: SamplingRule[] | null): void {
    if (!rules || rules.length === 0) return;
    for (const rule of rules) {
      if (rule.uriRegex === undefined) {
        if (this.defaultRule) this.rejected.push({ rule, reason: 'a default rule is already installed' });
        else this.defaultRule = rule;
        continue;
      }
      try {
        this.uriRules.push({ matcher: new RegExp(rule.uriRegex), rule });
      } catch (e) {
        this.rejected.push({ rule, reason: `bad URI regex: ${(e as Error).message}` });
      }
    }
    this.cache.clear();
  }

  /** The last URI rule whose regex matches, else the default rule. */
  ruleFor(uri: string): SamplingRule | undefined {
    if (this.uriRules.length === 0) return this.defaultRule;
    const cached = this.cache.get(uri);
    if (cached !== undefined) {
      this.cache.delete(uri);
      this.cache.set(uri, cached);
      return cached ?? undefined;
    }
    let found = this.defaultRule;
    for (const { matcher, rule } of this.uriRules) if (matcher.test(uri)) found = rule;
    this.cache.set(uri, found ?? null);
    if (this.cache.size > RULE_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return found;
  }

  get cachedUris(): number {
    return this.cache.size;
  }
}

export type SampleReason = 'status_5xx' | 'status_4xx' | 'slow';

/** Exclusive, in this order: a slow 500 is a 5xx sample only. */
export function classify(rule: SamplingRule, status: number, durationMs: number): SampleReason | undefined {
  if (rule.when5xx && status >= 500 && status < 600) return 'status_5xx';
  if (rule.when4xx && status >= 400 && status < 500) return 'status_4xx';
  if (rule.minDurationMs !== undefined && rule.minDurationMs <= durationMs) return 'slow';
  return undefined;
}

/** The request URI without its query string, as sampled records name it. */
export function sampledUri(target: string): string {
  const q = target.indexOf('?');
  return q > 0 ? target.slice(0, q) : target;
}

export interface SampledExchange {
  exchange: HttpExchange;
  trace: TraceContext;
  uri: string;
  reason: SampleReason;
  /** Whole milliseconds, truncated as upstream's Duration.Milliseconds(). */
  durationMs: number;
  rule: SamplingRule;
}

export const TOP_N = 10;

/** The `size` slowest samples; a sample no slower than the slowest kept ones is dropped when full. */
export class SlowestSamples {
  private readonly items: SampledExchange[] = [];
  constructor(readonly size = TOP_N) {}

  add(s: SampledExchange): void {
    if (this.items.length >= this.size && this.items[this.items.length - 1]!.durationMs >= s.durationMs) return;
    const at = this.items.findIndex((x) => x.durationMs < s.durationMs);
    if (at < 0) this.items.push(s);
    else this.items.splice(at, 0, s);
    if (this.items.length > this.size) this.items.pop();
  }

  /** Slowest first. */
  get list(): readonly SampledExchange[] {
    return this.items;
  }

  /** Move `other`'s samples into this one (merging connections into a traffic). */
  mergeFrom(other: SlowestSamples): void {
    for (const s of other.items) this.add(s);
    other.items.length = 0;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** One traffic's (or connection's) samples of one flush interval. */
export class HttpSampler {
  readonly byReason: Record<SampleReason, SlowestSamples> = {
    slow: new SlowestSamples(),
    status_4xx: new SlowestSamples(),
    status_5xx: new SlowestSamples(),
  };
  /** Requests with a trace header that could not be read. */
  badTraceHeaders = 0;

  /** Consider one exchange; returns the sample when it was taken. */
  consider(rules: SamplingRules, exchange: HttpExchange): SampledExchange | undefined {
    const req = exchange.request.request;
    const status = exchange.response.response?.status;
    if (!req || status === undefined) return undefined;
    let trace: TraceContext | undefined;
    try {
      trace = traceContextOf(exchange.request.headers);
    } catch {
      this.badTraceHeaders++;
      return undefined;
    }
    if (!trace) return undefined;
    const uri = sampledUri(req.target);
    const rule = rules.ruleFor(uri);
    if (!rule) return undefined;
    const durationMs = Math.floor(exchange.durationNs / 1e6);
    const reason = classify(rule, status, durationMs);
    if (!reason) return undefined;
    const sample: SampledExchange = { exchange, trace, uri, reason, durationMs, rule };
    this.byReason[reason].add(sample);
    return sample;
  }

  mergeFrom(other: HttpSampler): void {
    for (const r of Object.keys(this.byReason) as SampleReason[]) this.byReason[r].mergeFrom(other.byReason[r]);
    this.badTraceHeaders += other.badTraceHeaders;
    other.badTraceHeaders = 0;
  }

  /** All samples (slow, 4xx, 5xx, each slowest first, as upstream flushes them), then empty. */
  drain(): SampledExchange[] {
    const out = [...this.byReason.slow.list, ...this.byReason.status_4xx.list, ...this.byReason.status_5xx.list];
    for (const s of Object.values(this.byReason)) s.clear();
    return out;
  }
}
