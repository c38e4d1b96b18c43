import { readFileSync } from 'node:fs';
import { createTask, processNames } from '../../../e2e/src/harness/flows';
import { startOap, startRover, waitFor } from '../../../e2e/src/harness/processes';
import { buildWorkload, runWorkload } from '../../../e2e/src/harness/workload';
const mode = process.argv[2] ?? 'auto';
const oap = await startOap({ SW_LOG_LEVEL: 'warn' });
const rover = await startRover({ backend: oap.grpcAddress, matchCmd: '.+', env: { ROVER_PROFILING_UNWIND: mode, ROVER_PROFILING_FLUSH_INTERVAL: '5s', ROVER_PROCESS_DISCOVERY_HEARTBEAT_PERIOD: '20s', ROVER_PROCESS_DISCOVERY_SCAN_PERIOD: '3s' } });
const wl = runWorkload(buildWorkload('swlite-steady-wl'), 'cpu', 60);
try {
  await waitFor('wl', async () => (await processNames(oap.graphqlUrl, 'swlite-steady-wl')).length > 0, 30_000);
  await createTask(oap.graphqlUrl, 'swlite-steady-wl', 'ON_CPU', 50);
  await new Promise((r) => setTimeout(r, 30_000));
  const smaps = readFileSync(`/proc/${rover.child.pid}/smaps`, 'utf8');
  const rows: Array<[number, string]> = [];
  let head = '';
  for (const line of smaps.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line;
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) rows.push([Number(m[1]), head]);
  }
  rows.sort((a, b) => b[0] - a[0]);
  const total = rows.reduce((s, r) => s + r[0], 0);
  console.log(mode, 'total RSS kB', total);
  for (const [kb, h] of rows.slice(0, 4)) console.log(String(kb).padStart(7), h.slice(0, 150));
  const { execFileSync } = await import('node:child_process');
  execFileSync('gdb', ['-p', String(rover.child.pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], { stdio: 'ignore' });
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${rover.child.pid}/status`, 'utf8'))![1]);
  console.log('after malloc_trim RSS kB', rss());
  await new Promise((r) => setTimeout(r, 15_000));
  console.log('15 s later RSS kB', rss());
} finally { wl.child.kill(); await rover.stop(); await oap.cleanup(); }
