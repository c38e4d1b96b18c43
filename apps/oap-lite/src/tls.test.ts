/** The agent port over TLS (SW_CORE_GRPC_SSL_*), with certificates made for the test by openssl. */
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestOap, type TestOap } from './testing/start';
import { makeTestCertificates, opensslAvailable, tlsEnv, type TestCertificates } from '@swlite/testkit';

describe('gRPC over TLS', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  let certs: TestCertificates;
  let oap: TestOap;

  before(async () => {
    certs = makeTestCertificates();
    oap = await startTestOap(tlsEnv(certs));
  });
  after(async () => {
    await oap?.cleanup();
    certs?.remove();
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
    assert.equal(await queryTasks(grpc.credentials.createSsl(readFileSync(certs.caPem))), null);
  });

  it('refuses plaintext agents', async () => {
    const err = await queryTasks(grpc.credentials.createInsecure());
    assert.ok(err, 'a plaintext call must fail');
    assert.equal(err.code, grpc.status.UNAVAILABLE);
  });

  it('names the bad key when a certificate file cannot be read', async () => {
    await assert.rejects(
      startTestOap({ ...tlsEnv(certs), SW_CORE_GRPC_SSL_KEY_PATH: join(certs.dir, 'missing.key') }),
      /SW_CORE_GRPC_SSL_KEY_PATH: cannot read/,
    );
  });
});
