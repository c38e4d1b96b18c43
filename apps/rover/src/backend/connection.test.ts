/** rover's backend connection against a real oap-lite with TLS and an authentication token. */
import * as grpc from '@grpc/grpc-js';
import { startTestOap, type TestOap } from '@swlite/oap-lite/testing/start';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BackendConfig } from '../config';
import { BackendConnection } from './connection';

describe('BackendConnection over TLS with a token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rover-tls-'));
  const path = (name: string) => join(dir, name);
  let oap: TestOap;

  before(async () => {
    const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    run(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
      '-keyout',
      path('ca.key'),
      '-out',
      path('ca.pem'),
    );
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-keyout',
      path('server.key'),
      '-out',
      path('server.csr'),
    );
    run(
      'x509',
      '-req',
      '-in',
      path('server.csr'),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      path('server.pem'),
    );
    oap = await startTestOap({
      SW_CORE_GRPC_SSL_ENABLED: 'true',
      SW_CORE_GRPC_SSL_KEY_PATH: path('server.key'),
      SW_CORE_GRPC_SSL_CERT_CHAIN_PATH: path('server.pem'),
      SW_AUTHENTICATION: 'rover-token',
    });
  });
  after(async () => {
    await oap?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (overrides: Partial<BackendConfig>): BackendConfig => ({
    addr: `localhost:${oap.grpcPort}`,
    enableTLS: true,
    clientPemPath: '',
    clientKeyPath: '',
    caPemPath: path('ca.pem'),
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
