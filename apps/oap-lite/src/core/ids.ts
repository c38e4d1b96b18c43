/**
 * Entity IDs exactly as the Java OAP builds them (IDManager, EBPFProfilingTaskRecord,
 * EBPFProcessProfilingScheduleDispatcher), so IDs are interchangeable between the two backends.
 */
import { createHash } from 'node:crypto';

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unbase64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

/** Guava's Hasher.putLong writes the long little-endian. */
const longLE = (value: number): Buffer => {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64LE(BigInt(Math.trunc(value)));
  return buf;
};

const sha256Hex = (...parts: Array<string | Buffer>): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

export const serviceId = (name: string, normal = true): string => `${base64(name)}.${normal ? 1 : 0}`;

export const parseServiceId = (id: string): { name: string; normal: boolean } => {
  const parts = id.split('.');
  if (parts.length !== 2 || !/^[01]$/.test(parts[1] ?? '')) {
    throw new InvalidIdError(`Can't split service id into 2 parts, ${id}`);
  }
  return { name: unbase64(parts[0] ?? ''), normal: parts[1] === '1' };
};

export const instanceId = (svcId: string, instanceName: string): string => `${svcId}_${base64(instanceName)}`;

export const parseInstanceId = (id: string): { serviceId: string; name: string } => {
  const parts = id.split('_');
  if (parts.length !== 2) throw new InvalidIdError(`Can't split instance id into 2 parts, ${id}`);
  return { serviceId: parts[0] ?? '', name: unbase64(parts[1] ?? '') };
};

/** Const.BLANK_ENTITY_NAME ("_blank") stands in for a blank process name. */
export const processId = (instId: string, name: string): string =>
  sha256Hex(`${name.trim() === '' ? '_blank' : name}_${instId}`);

export const taskLogicalId = (svcId: string, processLabelsJson: string, startTime: number): string =>
  sha256Hex(svcId, processLabelsJson, longLE(startTime));

export const scheduleId = (taskId: string, procId: string, startTime: number): string =>
  sha256Hex(`${taskId}_${procId}_${Math.trunc(startTime)}`);

/**
 * Gson's rendering of a string list, which the OAP hashes into the task ID. Gson escapes the
 * HTML-sensitive characters that JSON.stringify leaves alone, so they are escaped here too.
 */
export const gsonStringList = (values: string[]): string =>
  JSON.stringify(values).replace(
    /[<>&='\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** The task's process_labels_json column: empty when the task takes every process. */
export const labelsJson = (labels: string[]): string => (labels.length === 0 ? '' : gsonStringList(labels));

/** Splits "group::name" the way the OAP does for service short names. */
export const splitServiceName = (name: string): { group: string; shortName: string } => {
  const at = name.indexOf('::');
  return at < 0 ? { group: '', shortName: name } : { group: name.slice(0, at), shortName: name.slice(at + 2) };
};

export class InvalidIdError extends Error {
  override name = 'InvalidIdError';
}
