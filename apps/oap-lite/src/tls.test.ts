/** The agent port over TLS (SW_CORE_GRPC_SSL_*), with certificates made for the test by openssl. */
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestOap, type TestOap } from './testing/start';

const openssl = (() => {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
})();

describe('gRPC over TLS', { skip: openssl ? false : 'openssl is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'oap-lite-tls-'));
  let oap: TestOap;
  const path = (name: string) => join(dir, name);

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
    });
  });
  after(async () => {
    await oap?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const queryTasks = (creds: grpc.ChannelCredentials) => {
    const pkg = loadSkyWalkingGrpc().skywalking.v3;
    const client = new pkg.EBPFProfilingService(`localhost:${oap.grpcPort}`, creds);
    return new Promise<grpc.ServiceError | null>((resolve) =>
      client.queryTasks(
        { roverInstanceId: 'tls-rover', latestUpdateTime: 0 },
        { deadline: Date.now() + 5_000 },
        (err) => {
          client.close();
          resolve(err);
        },
      ),
    );
  };

  it('serves agents that trust its CA', async () => {
    assert.equal(await queryTasks(grpc.credentials.createSsl(readFileSync(path('ca.pem')))), null);
  });

  it('refuses plaintext agents', async () => {
    const err = await queryTasks(grpc.credentials.createInsecure());
    assert.ok(err, 'a plaintext call must fail');
    assert.equal(err.code, grpc.status.UNAVAILABLE);
  });

  it('names the bad key when a certificate file cannot be read', async () => {
    await assert.rejects(
      startTestOap({
        SW_CORE_GRPC_SSL_ENABLED: 'true',
        SW_CORE_GRPC_SSL_KEY_PATH: path('missing.key'),
        SW_CORE_GRPC_SSL_CERT_CHAIN_PATH: path('server.pem'),
      }),
      /SW_CORE_GRPC_SSL_KEY_PATH: cannot read/,
    );
  });
});
