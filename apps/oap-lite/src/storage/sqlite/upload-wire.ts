/**
 * Profiling records as they cross to the writer thread: every distinct string once (symbols,
 * schedule and task ids, stack id lists, target types) and the rest as typed arrays, which move
 * without a copy. Cloning the records as objects cost the event loop ~10 ms per 500-record upload
 * (one object per frame); this costs a map lookup per frame.
 */
import type { ProfilingDataRecord, StackFrame } from '../types';

export interface WireRecords {
  strings: string[];
  /** Per record: indexes into `strings`. */
  schedule: Int32Array;
  task: Int32Array;
  stackIdList: Int32Array;
  targetType: Int32Array;
  uploadTime: Float64Array;
  count: Float64Array;
  duration: Float64Array;
  /** Per record: where its frames end in `frames` (exclusive). */
  frameEnds: Int32Array;
  /** Per frame: its symbol's index in `strings` * 2, + 1 for a kernel frame. */
  frames: Int32Array;
}

export const encodeRecords = (records: readonly ProfilingDataRecord[]): WireRecords => {
  const ids = new Map<string, number>();
  const strings: string[] = [];
  const at = (s: string): number => {
    let i = ids.get(s);
    if (i === undefined) {
      i = strings.length;
      ids.set(s, i);
      strings.push(s);
    }
    return i;
  };
  const n = records.length;
  let frameCount = 0;
  for (const r of records) frameCount += r.frames.length;
  const wire: WireRecords = {
    strings,
    schedule: new Int32Array(n),
    task: new Int32Array(n),
    stackIdList: new Int32Array(n),
    targetType: new Int32Array(n),
    uploadTime: new Float64Array(n),
    count: new Float64Array(n),
    duration: new Float64Array(n),
    frameEnds: new Int32Array(n),
    frames: new Int32Array(frameCount),
  };
  let f = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    wire.schedule[i] = at(r.scheduleId);
    wire.task[i] = at(r.taskId);
    wire.stackIdList[i] = at(r.stackIdList);
    wire.targetType[i] = at(r.targetType);
    wire.uploadTime[i] = r.uploadTime;
    wire.count[i] = r.count;
    wire.duration[i] = r.duration;
    for (const frame of r.frames)
      wire.frames[f++] = at(frame.symbol) * 2 + (frame.stackType === 'KERNEL_SPACE' ? 1 : 0);
    wire.frameEnds[i] = f;
  }
  return wire;
};

/** The buffers to transfer with the message (they leave the sending thread). */
export const wireBuffers = (w: WireRecords): ArrayBuffer[] =>
  [w.schedule, w.task, w.stackIdList, w.targetType, w.uploadTime, w.count, w.duration, w.frameEnds, w.frames].map(
    (a) => a.buffer as ArrayBuffer,
  );

export const decodeRecords = (w: WireRecords): ProfilingDataRecord[] => {
  const records: ProfilingDataRecord[] = new Array(w.schedule.length);
  let f = 0;
  for (let i = 0; i < records.length; i++) {
    const end = w.frameEnds[i]!;
    const frames: StackFrame[] = new Array(end - f);
    for (let k = 0; f < end; f++, k++) {
      const code = w.frames[f]!;
      frames[k] = { symbol: w.strings[code >> 1]!, stackType: code & 1 ? 'KERNEL_SPACE' : 'USER_SPACE' };
    }
    records[i] = {
      scheduleId: w.strings[w.schedule[i]!]!,
      taskId: w.strings[w.task[i]!]!,
      stackIdList: w.strings[w.stackIdList[i]!]!,
      targetType: w.strings[w.targetType[i]!] as ProfilingDataRecord['targetType'],
      uploadTime: w.uploadTime[i]!,
      frames,
      count: w.count[i]!,
      duration: w.duration[i]!,
    };
  }
  return records;
};
