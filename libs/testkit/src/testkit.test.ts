/** The shared helpers against the real things they drive: fixtures on disk, oap-lite as a process. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentClient, hostProcess } from './agent-client';
import { fixturesDir, isRootName } from './fidelity';
import { processNames } from './flows';
import { graphqlOk, minuteDuration } from './graphql-client';
import { FIXTURES_DIR, REPO_ROOT } from './paths';
import { freePort, startOap, type OapProcess } from './processes';
import { blockedWithin, cpuWithin } from './workload';

describe('paths', () => {
  it('find the repository and every fixture the helpers compile', () => {
    assert.ok(existsSync(join(REPO_ROOT, 'apps', 'oap-lite', 'src', 'main.ts')));
    for (const f of ['workload.c', 'continuous/workload.c']) assert.ok(existsSync(join(FIXTURES_DIR, f)), f);
    for (const f of ['libc_work.c', 'cpp_work.cpp', 'go_work.go', 'node_work.js'])
      assert.ok(existsSync(join(fixturesDir, f)), f);
  });
});

describe('workload intervals', () => {
  // "name start_ns end_ns [cpu_ns]", as fixtures/workload.c prints them.
  const out = ['spin 1000000000 3000000000 2000000000', 'wait 4000000000 5000000000', 'half', ''].join('\n');

  it('sum the blocked time of intervals wholly inside the window', () => {
    assert.deepEqual(
      blockedWithin(out, 0, 10_000),
      new Map([
        ['spin', 2e9],
        ['wait', 1e9],
      ]),
    );
    assert.deepEqual(blockedWithin(out, 3_500, 10_000), new Map([['wait', 1e9]]));
  });

  it('share the CPU time of a call across the window edge by its wall time inside', () => {
    assert.deepEqual(cpuWithin(out, 2_000, 10_000), new Map([['spin', 1e9]]));
  });
});

describe('minuteDuration', () => {
  it('writes a MINUTE-step range in local time, as the UI sends it', () => {
    const from = new Date(2026, 0, 2, 3, 4).getTime();
    assert.deepEqual(minuteDuration(from, from + 61 * 60_000), {
      start: '2026-01-02 0304',
      end: '2026-01-02 0405',
      step: 'MINUTE',
    });
  });
});

describe('fidelity roots', () => {
  it('take version and Go ABI suffixes off a thread root', () => {
    assert.ok(isRootName('__libc_start_main@@GLIBC_2.34'));
    assert.ok(isRootName('runtime.goexit.abi0'));
    assert.ok(!isRootName('ngx_worker_process_cycle'));
  });
});

describe('oap-lite as a child process', () => {
  let oap: OapProcess;
  before(async () => {
    oap = await startOap();
  });
  after(async () => {
    await oap?.cleanup();
  });

  it('serves the agent port and GraphQL, and keeps its data across a restart', async () => {
    const agent = new AgentClient(oap.grpcAddress, 'testkit-rover');
    try {
      await agent.reportProcesses([hostProcess('testkit-proc', { service: 'testkit-svc' })]);
    } finally {
      agent.close();
    }
    assert.deepEqual(await processNames(oap.graphqlUrl, 'testkit-svc'), ['testkit-proc']);
    oap = await oap.restart();
    const services = await graphqlOk<{ listServices: Array<{ name: string }> }>(
      oap.graphqlUrl,
      '{ listServices { name } }',
    );
    assert.deepEqual(
      services.listServices.map((s) => s.name),
      ['testkit-svc'],
    );
  });

  it('gives a port nobody listens on', async () => {
    const port = await freePort();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });
});
