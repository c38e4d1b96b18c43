#!/usr/bin/env node
/** oap-lite: `node dist/oap-lite.js`; configured by SW_* environment variables (see README). */
import { isMainThread } from 'node:worker_threads';
import { createLog } from './log';
import { ConfigError, loadConfig } from './config';
import { startOapLite } from './server';

const main = async () => {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`oap-lite: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLog(config.logLevel);
  const oap = await startOapLite(config, log);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'oap-lite stopping');
    oap
      .stop()
      .then(() => process.exit(0))
      .catch((err: Error) => {
        log.error({ err: err.message }, 'oap-lite did not stop cleanly');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
};

// The bundle is also the entry of oap-lite's worker threads (storage/sqlite/stack-readers.ts):
// there it must not start a server.
if (isMainThread) {
  main().catch((err: Error) => {
    console.error(`oap-lite: ${err.message}`);
    process.exit(1);
  });
}
