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
}

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

/** The samples (COUNT: dumps on-CPU, switches off-CPU) oap-lite holds for the task, all processes. */
export const storedSamples = async (graphqlUrl: string, taskId: string): Promise<number> =>
  rootTotal(await analyze(graphqlUrl, await schedules(graphqlUrl, taskId), 'COUNT'));

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
