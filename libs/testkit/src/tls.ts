/** A throwaway CA and a server certificate for "localhost", made with openssl, for TLS tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caPem: string;
  serverKey: string;
  serverPem: string;
  remove(): void;
}

export const opensslAvailable = (): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const makeTestCertificates = (): TestCertificates => {
  const dir = mkdtempSync(join(tmpdir(), 'swlite-tls-'));
  const path = (name: string) => join(dir, name);
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
  return {
    dir,
    caPem: path('ca.pem'),
    serverKey: path('server.key'),
    serverPem: path('server.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
};

/** The oap-lite environment that serves agents over TLS with these certificates. */
export const tlsEnv = (certs: TestCertificates): Record<string, string> => ({
  SW_CORE_GRPC_SSL_ENABLED: 'true',
  SW_CORE_GRPC_SSL_KEY_PATH: certs.serverKey,
  SW_CORE_GRPC_SSL_CERT_CHAIN_PATH: certs.serverPem,
});
