/**
 * What the rover fault cases share: rover's own delivery totals (its "profiling uploads at stop"
 * log line), the samples oap-lite stored for a task, and RSS read from /proc.
 */
import { readFileSync } from 'node:fs';
import { analyze, graphqlOk, rootTotal, schedules, type RoverProcess } from '@swlite/testkit';

export interface UploadTotals {
  sentMessages: number;
  droppedMessages: number;
  bufferedMessages: number;
  failedAttempts: number;
  sentSamples: number;
  droppedSamples: number;
  sentSamplesWithoutFrames: number;
}

/**
 * The acked samples the backend's analysis can show: a stack without any symbol is stored but has
 * no frame to hang under in a flame graph (the OAP skips it too).
 */
export const ackedWithFrames = (t: UploadTotals): number => t.sentSamples - t.sentSamplesWithoutFrames;

/** rover's JSON log lines with the given message. */
export const logLines = (rover: RoverProcess, msg: string): Array<Record<string, unknown>> =>
  rover
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Stops rover (SIGTERM: final flush and upload) and reads the delivery totals it logged. */
export const stopAndReadTotals = async (rover: RoverProcess): Promise<UploadTotals> => {
  const code = await rover.stop();
  const line = logLines(rover, 'profiling uploads at stop').pop();
  if (!line) throw new Error(`rover (exit ${code}) logged no upload totals:\n${rover.output().slice(-3000)}`);
  return line as unknown as UploadTotals;
};

/**
 * The samples (COUNT: dumps on-CPU, switches off-CPU) oap-lite holds for the task, summed over its
 * schedules one by one: an analysis of several schedules at once counts records identical in
 * (upload time, count, frames) once, as the OAP's analyzer does (its `distinct()`), so two
 * processes of one binary with the same stack and count in one flush show as one there.
 */
export const storedSamples = async (graphqlUrl: string, taskId: string): Promise<number> => {
  let sum = 0;
  for (const schedule of await schedules(graphqlUrl, taskId))
    sum += rootTotal(await analyze(graphqlUrl, [schedule], 'COUNT'));
  return sum;
};

/** Samples stored for the task with upload times inside [from, to] (the analysis' time ranges). */
export const storedSamplesWithin = async (
  graphqlUrl: string,
  taskId: string,
  from: number,
  to: number,
): Promise<number> => {
  const ids = (await schedules(graphqlUrl, taskId)).map((s) => s.scheduleId);
  if (ids.length === 0) return 0;
  const result = await graphqlOk(
    graphqlUrl,
    `query ($ids: [ID!]!, $r: [EBPFProfilingAnalyzeTimeRange!]!) {
      analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $r, aggregateType: COUNT) { trees { elements { parentId dumpCount } } } }`,
    { ids, r: [{ start: from, end: to }] },
  );
  return (
    result.analysisEBPFProfilingResult.trees as Array<{ elements: Array<{ parentId: string; dumpCount: number }> }>
  )
    .flatMap((t) => t.elements)
    .filter((e) => e.parentId === '0' || e.parentId === '')
    .reduce((s, e) => s + Number(e.dumpCount), 0);
};

export const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Peak RSS of a process, sampled every `everyMs` until stopped. */
export const watchRss = (pid: number, everyMs = 500) => {
  let peak = 0;
  const read = () => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      clearInterval(timer); // exited
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop: (): number => {
      clearInterval(timer);
      read();
      return peak;
    },
  };
};

/** Lines of rover's output that mean something went wrong beyond the fault a case injects. */
export const unexpectedErrors = (rover: RoverProcess): string[] =>
  rover
    .output()
    .split('\n')
    .filter((l) => /unhandled rejection|"level":60|TypeError|RangeError/.test(l));

/**
 * Waits until the task's stored samples stop changing (the same for `quietMs`): the last
 * uploads, final flush included, have landed. A busy host makes the final flush of many processes
 * slow, so a fixed pause would stop rover with data still on its way.
 */
export const settled = async (
  graphqlUrl: string,
  taskIds: string[],
  quietMs = 4_000,
  timeoutMs = 90_000,
): Promise<number> => {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    let now = 0;
    for (const id of taskIds) now += await storedSamples(graphqlUrl, id);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
    if (Date.now() > deadline) throw new Error(`stored samples still changing after ${timeoutMs} ms (${now})`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
};
