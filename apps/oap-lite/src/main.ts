#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --heap-growing-percent=50
/**
 * oap-lite: `dist/oap-lite.js`; configured by SW_* environment variables (see README).
 *
 * The settings above are chosen by measurement (bench:contention, BENCH_STACKS=30000: 50 agents
 * uploading at full speed, then with 10 clients repeating the worst-case analysis; peak RSS of
 * the second phase, the same build). V8 let each thread's heap (the event loop's, the writer's,
 * the readers') grow to about 4 times what survived its last full collection: the event loop's
 * reached 300 MiB over 60-90 MiB alive, the writer's 200 over 50. Growth by at most 50% and 4 MiB
 * semi-spaces (they apply to every thread): 815 -> 519 MiB; glibc's malloc then kept 88 MiB in
 * one arena per thread that had used SQLite, 2 arenas: 463 MiB, at the same CPU per stored record.
 * (2 MiB semi-spaces and 30% growth: 430 MiB, but 1.5 times the CPU per record.) `node
 * dist/oap-lite.js` runs without them; the image, tools/run.sh and the tests run the script as its
 * first line says.
 */
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
