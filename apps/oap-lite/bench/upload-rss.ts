/**
 * Peak memory of oap-lite (a real process, the bundle when built) while it takes one upload stream
 * of BENCH_STACKS distinct stacks of depth 30: the stream is staged (memory bound, then a file)
 * rather than held whole.
 *
 *   npx tsx apps/oap-lite/bench/upload-rss.ts
 */
import { readFileSync } from 'node:fs';
import type { EBPFProfilingData } from '@swlite/protocol';
import { AgentClient, createTask, hostProcess, startOap } from '@swlite/testkit';

const STACKS = Number(process.env.BENCH_STACKS ?? 100_000);
const kib = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const oap = await startOap();
try {
  const pid = oap.child.pid!;
  const agent = new AgentClient(oap.grpcAddress, 'rss-rover');
  const processId = (await agent.reportProcesses([hostProcess('big', { service: 'rss-service', pid: 9 })]))
    .processes[0]!.processId;
  const { taskId } = await createTask(oap.graphqlUrl, 'rss-service', 'ON_CPU', 600);
  const idle = kib(pid, 'VmRSS');
  const now = Date.now();
  const messages = Array.from({ length: STACKS }, (_, i): EBPFProfilingData => ({
    ...(i === 0 ? { task: { taskId, processId, profilingStartTime: now - 1000, currentTime: now } } : {}),
    onCPU: {
      stacks: [
        {
          stackType: 'PROCESS_USER_SPACE',
          stackId: i + 1,
          stackSymbols: Array.from({ length: 30 }, (_, d) => `fn_${d}_${i}_${'x'.repeat(20)}`),
        },
      ],
      dumpCount: 1,
    },
  }));
  const t0 = Date.now();
  await agent.collect(messages);
  const took = Date.now() - t0;
  agent.close();
  console.log(
    `one stream of ${STACKS} stacks (depth 30) stored in ${took} ms; oap-lite RSS idle ${Math.round(idle / 1024)} MiB, ` +
      `peak ${Math.round(kib(pid, 'VmHWM') / 1024)} MiB, after ${Math.round(kib(pid, 'VmRSS') / 1024)} MiB`,
  );
} finally {
  await oap.cleanup();
}
