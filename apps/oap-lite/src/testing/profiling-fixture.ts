/** A reported process and a FIXED_TIME task on it, ready for uploads (tests and benchmarks). */
import { AgentClient, hostProcess, type UploadTask, graphqlOk } from '@swlite/testkit';
import type { TestOap } from './start';

export const SERVICE_ID = `${Buffer.from('demo-service').toString('base64')}.1`;

export const createTaskWithProcess = async (
  oap: TestOap,
  agent: AgentClient,
  processName = 'worker',
  start = Date.now() - 60_000,
): Promise<UploadTask> => {
  const [proc] = (await agent.reportProcesses([hostProcess(processName)])).processes;
  const created = await graphqlOk(
    oap.graphqlUrl,
    `mutation ($r: EBPFProfilingTaskFixedTimeCreationRequest!) { createEBPFProfilingFixedTimeTask(request: $r) { status errorReason id } }`,
    { r: { serviceId: SERVICE_ID, processLabels: [], startTime: start, duration: 60, targetType: 'ON_CPU' } },
  );
  const result = created.createEBPFProfilingFixedTimeTask as { status: boolean; errorReason: string; id: string };
  if (!result.status) throw new Error(`cannot create the task: ${result.errorReason}`);
  return { taskId: result.id, processId: proc!.processId, start, now: start + 5_000 };
};

export const scheduleIdsOf = async (oap: TestOap, taskId: string): Promise<string[]> =>
  (
    await graphqlOk(oap.graphqlUrl, `query ($t: ID!) { queryEBPFProfilingSchedules(taskId: $t) { scheduleId } }`, {
      t: taskId,
    })
  ).queryEBPFProfilingSchedules.map((s: { scheduleId: string }) => s.scheduleId);
