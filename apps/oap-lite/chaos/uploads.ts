/**
 * Profiling uploads as rover sends them, and what oap-lite stored of them, for the fault cases that
 * count: every stack's root is 'main', so the stored roots' dump counts sum to what was kept.
 */
import type { EBPFProfilingData } from '@swlite/protocol';
import type { OapProcess } from '@swlite/testkit';

/** `n` distinct stacks of one flush, as rover sends them (stack ids 1..n, the task on the first). */
export const flush = (taskId: string, processId: string, start: number, now: number, n: number, tag: string) =>
  Array.from({ length: n }, (_, i): EBPFProfilingData => ({
    ...(i === 0 ? { task: { taskId, processId, profilingStartTime: start, currentTime: now } } : {}),
    onCPU: {
      stacks: [
        {
          stackType: 'PROCESS_USER_SPACE',
          stackId: i + 1,
          stackSymbols: [
            `${tag}_leaf_${i}`,
            `${tag}_mid_${i % 13}`,
            ...Array.from({ length: 20 }, (_, d) => `frame_${d}`),
            'main',
          ],
        },
      ],
      dumpCount: 1 + (i % 5),
    },
  }));
export const sumOf = (batch: EBPFProfilingData[]) => batch.reduce((s, m) => s + (m.onCPU?.dumpCount ?? 0), 0);

/** The stored sum of dump counts under `root` ('main' is every stack's root) for the task's schedules. */
export const storedSum = async (oap: Pick<OapProcess, 'graphqlUrl'>, taskId: string): Promise<number> => {
  const res = await fetch(oap.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId } }`,
      variables: { t: taskId },
    }),
  });
  const ids = (
    (await res.json()) as { data: { queryEBPFProfilingSchedules: Array<{ scheduleId: string }> } }
  ).data.queryEBPFProfilingSchedules.map((s) => s.scheduleId);
  if (ids.length === 0) return 0;
  const analysis = await fetch(oap.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `query ($ids: [ID!]!, $r: [EBPFProfilingAnalyzeTimeRange!]!) { analysisEBPFProfilingResult(scheduleIdList: $ids, timeRanges: $r, aggregateType: COUNT) { tip trees { elements { parentId dumpCount } } } }`,
      variables: { ids, r: [{ start: 0, end: Date.now() + 3_600_000 }] },
    }),
  });
  const body = (await analysis.json()) as {
    data: {
      analysisEBPFProfilingResult: { trees: Array<{ elements: Array<{ parentId: string; dumpCount: number }> }> };
    };
  };
  return body.data.analysisEBPFProfilingResult.trees
    .flatMap((t) => t.elements)
    .filter((e) => e.parentId === '0' || e.parentId === '')
    .reduce((s, e) => s + Number(e.dumpCount), 0);
};
