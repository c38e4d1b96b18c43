/**
 * The agent port (SW_CORE_GRPC_SSL_*) and the HTTP port (SW_CORE_REST_SSL_*) over TLS, with
 * certificates made for the test by openssl and real clients (grpc-js, node:https).
 */
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
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

describe('the HTTP port over TLS', { skip: opensslAvailable() ? false : 'openssl is not installed' }, () => {
  let certs: TestCertificates;
  let oap: TestOap;

  before(async () => {
    certs = makeTestCertificates();
    oap = await startTestOap({
      SW_CORE_REST_SSL_ENABLED: 'true',
      SW_CORE_REST_SSL_KEY_PATH: certs.serverKey,
      SW_CORE_REST_SSL_CERT_CHAIN_PATH: certs.serverPem,
      SW_CORE_REST_AUTHENTICATION: 'ui-token',
    });
  });
  after(async () => {
    await oap?.cleanup();
    certs?.remove();
  });

  /** POSTs `{ __typename }` and answers the status and body. */
  const post = (send: typeof httpsRequest, url: string, options: object) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer ui-token' },
          ...options,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ __typename }' }));
    });

  it('answers GraphQL to a client that trusts its CA', async () => {
    const r = await post(httpsRequest, `https://localhost:${oap.httpPort}/graphql`, { ca: readFileSync(certs.caPem) });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { data: { __typename: 'Query' } });
  });

  it('is refused by a client that does not trust its certificate, and refuses plaintext', async () => {
    await assert.rejects(post(httpsRequest, `https://localhost:${oap.httpPort}/graphql`, {}), /self-signed|unable to verify|certificate/i);
    await assert.rejects(post(httpRequest, `http://localhost:${oap.httpPort}/graphql`, {}));
  });
});
