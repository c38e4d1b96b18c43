/**
 * Durations written the way Go's `time.ParseDuration` accepts them: a possibly signed sequence of
 * decimal numbers, each with an optional fraction and a unit, e.g. "300ms", "-1.5h", "2h45m",
 * "9ms", "20s". Valid units: "ns", "us" (or "µs"/"μs"), "ms", "s", "m", "h". A lone "0" is zero.
 * The result is in milliseconds (fractions kept, so "500us" is 0.5).
 */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

/** Parses a Go duration string into milliseconds; throws {@link DurationError} when malformed. */
export function parseDuration(input: string): number {
  const original = input;
  let s = input.trim();
  if (s === '') throw new DurationError(`invalid duration "${original}": empty`);
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new DurationError(`invalid duration "${original}"`);
  let total = 0;
  while (s.length > 0) {
    const m = PART.exec(s);
    if (!m) {
      if (/^(\d+(?:\.\d*)?|\.\d+)$/.test(s)) {
        throw new DurationError(`missing unit in duration "${original}" (use ns, us, ms, s, m or h)`);
      }
      throw new DurationError(`invalid duration "${original}"`);
    }
    const value = Number(m[1]);
    const unit = UNIT_NS[m[2] as string];
    if (unit === undefined || !Number.isFinite(value)) throw new DurationError(`invalid duration "${original}"`);
    total += value * unit;
    s = s.slice(m[0].length);
  }
  return (sign * total) / 1e6;
}

/** Formats milliseconds back into a Go-style duration ("1h2m3s", "9ms", "500us", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1) {
    const us = rest * 1000;
    return Number.isInteger(us) ? `${sign}${us}us` : `${sign}${Math.round(rest * 1e6)}ns`;
  }
  if (rest < 1000) return `${sign}${rest}ms`;
  let out = '';
  const h = Math.floor(rest / 3_600_000);
  if (h) out += `${h}h`;
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  if (m || h) out += `${m}m`;
  rest -= m * 60_000;
  out += `${Number((rest / 1000).toFixed(9))}s`;
  return sign + out;
}
