/**
 * The query protocol's Duration: start/end strings whose format depends on the step
 * ("2026-11-27 1530" for MINUTE), read in the server's time zone as the OAP does.
 */
export type Step = 'DAY' | 'HOUR' | 'MINUTE' | 'SECOND';

export interface DurationInput {
  start: string;
  end: string;
  step: Step;
  coldStage?: boolean | null;
}

export class InvalidDurationError extends Error {
  override name = 'InvalidDurationError';
}

const PATTERNS: Record<Step, RegExp> = {
  DAY: /^(\d{4})-(\d{2})-(\d{2})$/,
  HOUR: /^(\d{4})-(\d{2})-(\d{2}) (\d{2})$/,
  MINUTE: /^(\d{4})-(\d{2})-(\d{2}) (\d{2})(\d{2})$/,
  SECOND: /^(\d{4})-(\d{2})-(\d{2}) (\d{2})(\d{2})(\d{2})$/,
};

const SPAN_MS: Record<Step, number> = { DAY: 86_400_000, HOUR: 3_600_000, MINUTE: 60_000, SECOND: 1_000 };

const parsePoint = (text: string, step: Step, field: string): number => {
  const match = PATTERNS[step]?.exec(text.trim());
  if (!match) {
    throw new InvalidDurationError(`duration ${field} "${text}" does not match the ${step} format`);
  }
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map(Number) as number[];
  const date = new Date(year!, month! - 1, day, hour, minute, second);
  if (date.getMonth() !== month! - 1 || date.getDate() !== day) {
    throw new InvalidDurationError(`duration ${field} "${text}" is not a real date`);
  }
  return date.getTime();
};

/** Epoch ms of the first and the last millisecond the duration covers. */
export const durationToRange = (duration: DurationInput): { start: number; end: number } => {
  if (!PATTERNS[duration.step]) throw new InvalidDurationError(`unknown step "${duration.step}"`);
  const start = parsePoint(duration.start, duration.step, 'start');
  const end = parsePoint(duration.end, duration.step, 'end') + SPAN_MS[duration.step] - 1;
  if (end < start) throw new InvalidDurationError('duration end is before its start');
  return { start, end };
};

/** "+0800"-style offset of this server, as getTimeInfo reports it. */
export const serverTimezone = (now = new Date()): string => {
  const offset = -now.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
};

/** Most points a duration may have for a time-series query (a week of minutes is 10 080). */
export const MAX_DURATION_POINTS = 100_000;

/**
 * The points of a duration, as the OAP's assembleDurationPoints gives them: the epoch ms of the
 * start of every step (minute, hour, day, second, in the server's time zone) from start to end.
 */
export const durationPoints = (duration: DurationInput): number[] => {
  const { start, end } = durationToRange(duration);
  const points: number[] = [];
  for (let t = start; t <= end;) {
    points.push(t);
    if (points.length > MAX_DURATION_POINTS) {
      throw new InvalidDurationError(`the duration has more than ${MAX_DURATION_POINTS} ${duration.step} points`);
    }
    if (duration.step === 'DAY') {
      // the next local midnight (a day is not 24 h across a daylight-saving change)
      const d = new Date(t);
      d.setDate(d.getDate() + 1);
      t = d.getTime();
    } else {
      t += SPAN_MS[duration.step];
    }
  }
  return points;
};
