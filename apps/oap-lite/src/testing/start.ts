/** Starts a real oap-lite on free loopback ports over a fresh data directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type OapConfig } from '../config';
import { createLog } from '../log';
import { startOapLite, type OapLite } from '../server';

export interface TestOap extends OapLite {
  config: OapConfig;
  graphqlUrl: string;
  grpcAddress: string;
  dataDir: string;
  /** Stops the server; the data directory stays until cleanup(). */
  cleanup(): Promise<void>;
}

export const startTestOap = async (
  env: Record<string, string> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'oap-lite-test-')),
): Promise<TestOap> => {
  const config = loadConfig({
    SW_CORE_GRPC_HOST: '127.0.0.1',
    SW_CORE_GRPC_PORT: '0',
    SW_CORE_REST_HOST: '127.0.0.1',
    SW_CORE_REST_PORT: '0',
    SW_STORAGE_SQLITE_DATA_DIR: dataDir,
    SW_LOG_LEVEL: 'warn',
    ...env,
  });
  const oap = await startOapLite(config, createLog(config.logLevel));
  let stopped = false;
  return {
    ...oap,
    config,
    dataDir,
    graphqlUrl: `http://127.0.0.1:${oap.httpPort}/graphql`,
    grpcAddress: `127.0.0.1:${oap.grpcPort}`,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await oap.stop();
    },
    cleanup: async () => {
      if (!stopped) {
        stopped = true;
        await oap.stop();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
