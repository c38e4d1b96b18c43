/** rover's backend connection against a real oap-lite (a child process) with TLS and an authentication token. */
import * as grpc from '@grpc/grpc-js';
import { makeTestCertificates, startOap, tlsEnv, type OapProcess, type TestCertificates } from '@swlite/testkit';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BackendConfig } from '../config';
import { BackendConnection } from './connection';

describe('BackendConnection over TLS with a token', () => {
  let certs: TestCertificates;
  let oap: OapProcess;

  before(async () => {
    certs = makeTestCertificates();
    oap = await startOap({ ...tlsEnv(certs), SW_AUTHENTICATION: 'rover-token' });
  });
  after(async () => {
    await oap?.cleanup();
    certs?.remove();
  });

  const config = (overrides: Partial<BackendConfig>): BackendConfig => ({
    addr: `localhost:${oap.grpcPort}`,
    enableTLS: true,
    clientPemPath: '',
    clientKeyPath: '',
    caPemPath: certs.caPem,
    insecureSkipVerify: false,
    checkPeriodMs: 5_000,
    authentication: 'rover-token',
    ...overrides,
  });

  it('reports processes and polls tasks with TLS and the token', async () => {
    const backend = new BackendConnection(config({}));
    try {
      const answer = await backend.reportProcesses({
        ebpfAgentID: 'tls-rover',
        processes: [
          {
            hostProcess: {
              entity: { layer: 'OS_LINUX', serviceName: 'svc', instanceName: 'host', processName: 'p-1', labels: [] },
              pid: 1,
              properties: [{ key: 'support_ebpf_profiling', value: 'true' }],
            },
          },
        ],
      });
      assert.equal(answer.processes.length, 1);
      assert.deepEqual((await backend.queryTasks({ roverInstanceId: 'tls-rover', latestUpdateTime: 0 })).commands, []);
    } finally {
      backend.close();
    }
  });

  it('is refused with a wrong token', async () => {
    const backend = new BackendConnection(config({ authentication: 'wrong' }));
    try {
      await assert.rejects(
        backend.queryTasks({ roverInstanceId: 'x', latestUpdateTime: 0 }),
        (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED,
      );
    } finally {
      backend.close();
    }
  });
});

describe('BackendConnection.onReady', () => {
  it('fires when the channel connects, and again when a restarted backend is back on its port', async () => {
    let oap = await startOap();
    const port = oap.grpcPort;
    const backend = new BackendConnection({
      addr: `127.0.0.1:${port}`,
      enableTLS: false,
      clientPemPath: '',
      clientKeyPath: '',
      caPemPath: '',
      insecureSkipVerify: false,
      checkPeriodMs: 5_000,
      authentication: '',
    });
    let ready = 0;
    backend.onReady(() => ready++);
    const query = () => backend.queryTasks({ roverInstanceId: 'ready-rover', latestUpdateTime: 0 });
    try {
      await query();
      assert.equal(ready, 1);
      await oap.stop();
      await assert.rejects(query());
      oap = await oap.restart();
      for (let deadline = Date.now() + 10_000; ; ) {
        try {
          await query();
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(ready, 2);
    } finally {
      backend.close();
      await oap.cleanup();
    }
  });
});
