/** Seeds a running oap-lite like a rover would: processes over gRPC, then stacks for a task. */
import { AgentClient, hostProcess, onCpuData } from '@swlite/testkit';

export { AgentClient, hostProcess, onCpuData };

/** Reports nginx (label proxy, pid 10) and worker (pid 11) for demo-service on host-1; returns their IDs. */
export const seedProcesses = async (agent: AgentClient): Promise<{ nginx: string; worker: string }> => {
  const res = await agent.reportProcesses([
    hostProcess('nginx', { labels: ['proxy'], pid: 10 }),
    hostProcess('worker', { pid: 11 }),
  ]);
  return {
    nginx: res.processes[0]!.processId,
    worker: res.processes[1]!.processId,
  };
};

/** Plays the rover for one task: polls for it, then uploads the known stacks (leaf first, as rover sends them). */
export const uploadStacks = async (
  agent: AgentClient,
  taskId: string,
  processId: string,
  start = Date.now() - 1000,
): Promise<void> => {
  const task = { taskId, processId, start, now: start + 500 };
  await agent.collect([
    onCpuData(
      task,
      ['ngx_process_events', 'ngx_worker_process_cycle', 'main'],
      ['do_syscall_64', 'entry_SYSCALL_64'],
      35,
    ),
    onCpuData(null, ['ngx_http_log_handler', 'ngx_worker_process_cycle', 'main'], [], 10),
  ]);
};
