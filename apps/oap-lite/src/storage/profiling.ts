/**
 * Backend-independent helpers for eBPF profiling data: validation of records before a write,
 * the value a record contributes to an aggregate, the canonical form of a frame list, and a
 * reference (in-memory) implementation of `Storage.queryProfilingStacks` semantics that any
 * backend may use for the parts it cannot do natively, and that tests use as an oracle.
 */
import { isProfilingTargetType } from '@swlite/protocol';
import { targetOf } from '../core/targets';
import type { AggregatedStack, AggregateType, ProfilingDataRecord, StackFrame, TimeRange } from './types';

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const invalid = (index: number, what: string): never => {
  throw new TypeError(`invalid profiling data record #${index}: ${what}`);
};

/**
 * Why the frame is not a valid StackFrame (the end of the message after `frames[i]`), or null. Runs for every frame of every upload on the
 * event loop: plain comparisons, no Set lookup nor closure per record (bench:contention spent 3-5%
 * of the event loop's time here).
 */
const frameFault = (f: unknown): string | null => {
  if (f === null || typeof f !== 'object') return ' is not an object';
  const frame = f as Record<string, unknown>;
  if (typeof frame.symbol !== 'string') return '.symbol must be a string';
  const type = frame.stackType;
  if (type !== 'USER_SPACE' && type !== 'KERNEL_SPACE') return '.stackType is invalid';
  return null;
};

/** Throws a TypeError naming the record and the field when `record` is not a valid record. */
export function assertValidProfilingRecord(record: unknown, index = 0): asserts record is ProfilingDataRecord {
  if (record === null || typeof record !== 'object') invalid(index, 'not an object');
  const r = record as Record<string, unknown>;
  if (typeof r.scheduleId !== 'string' || r.scheduleId === '') invalid(index, 'scheduleId must be a non-empty string');
  if (typeof r.taskId !== 'string') invalid(index, 'taskId must be a string');
  if (typeof r.stackIdList !== 'string') invalid(index, 'stackIdList must be a string');
  if (!isProfilingTargetType(r.targetType)) invalid(index, 'bad targetType');
  if (!isFiniteNumber(r.uploadTime)) invalid(index, 'uploadTime must be a finite number');
  if (!isFiniteNumber(r.count)) invalid(index, 'count must be a finite number');
  if (!isFiniteNumber(r.duration)) invalid(index, 'duration must be a finite number');
  if (!Array.isArray(r.frames)) invalid(index, 'frames must be an array');
  const frames = r.frames as unknown[];
  for (let i = 0; i < frames.length; i++) {
    const fault = frameFault(frames[i]);
    if (fault !== null) invalid(index, `frames[${i}]${fault}`);
  }
}

/** Throws a TypeError for a batch that is not an array of valid records (see assertValidProfilingRecord). */
export function assertValidProfilingBatch(records: unknown): asserts records is ProfilingDataRecord[] {
  if (!Array.isArray(records)) throw new TypeError('writeProfilingData: records must be an array');
  for (let i = 0; i < records.length; i++) assertValidProfilingRecord(records[i], i);
}

/** The ranges a query can match: finite bounds, start not after end. */
export const validRanges = (ranges: readonly TimeRange[]): TimeRange[] =>
  ranges.filter((r) => Number.isFinite(r.start) && Number.isFinite(r.end) && r.start <= r.end);

/** The value a record contributes: `count` for COUNT; for DURATION what its target sums (durationAggregate). */
export function profilingValue(
  record: Pick<ProfilingDataRecord, 'targetType' | 'count' | 'duration'>,
  aggregate: AggregateType,
): number {
  if (aggregate === 'COUNT' || targetOf(record.targetType).durationAggregate === 'count') return record.count;
  return record.duration;
}

/** Canonical JSON of a frame list (only symbol and stackType, in that order). Equal frames ⇔ equal strings. */
export function canonicalFramesJson(frames: readonly StackFrame[]): string {
  // One native call: no intermediate strings for the garbage collector (this runs for every new stack).
  return JSON.stringify(frames, FRAME_KEYS);
}

const FRAME_KEYS = ['symbol', 'stackType'];

export const inAnyRange = (t: number, ranges: readonly TimeRange[]): boolean =>
  ranges.some((r) => t >= r.start && t <= r.end);

/**
 * Reference implementation of `Storage.queryProfilingStacks` over records in memory.
 * Records are expected to be the stored ones (already deduplicated on (scheduleId, stackIdList,
 * uploadTime)). Ties in first appearance keep the order of `records`.
 */
export function aggregateProfilingStacks(
  records: readonly ProfilingDataRecord[],
  scheduleIds: readonly string[],
  ranges: readonly TimeRange[],
  aggregate: AggregateType,
): AggregatedStack[] {
  const schedules = new Set(scheduleIds);
  const selected = records
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => schedules.has(r.scheduleId) && inAnyRange(r.uploadTime, ranges))
    .sort((a, b) => a.r.uploadTime - b.r.uploadTime || a.i - b.i);
  const seen = new Set<string>();
  const sums = new Map<string, AggregatedStack>();
  for (const { r } of selected) {
    const frames = canonicalFramesJson(r.frames);
    const value = profilingValue(r, aggregate);
    const key = `${r.uploadTime}\u0000${value}\u0000${frames}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const acc = sums.get(frames);
    if (acc) acc.value += value;
    else sums.set(frames, { frames: JSON.parse(frames) as StackFrame[], value });
  }
  return [...sums.values()];
}
