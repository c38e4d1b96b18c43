#!/usr/bin/env -S node --max-semi-space-size=1
/**
 * rover: `dist/rover.js [--config rover.yaml]`; ROVER_* environment variables override.
 *
 * The node flags above are chosen by measurement (`bench:cost --node-args`, same run, ON_CPU with
 * CFI under nginx + wrk): 1 MiB semi-spaces held V8's heap at 22–26 MiB instead of 35–52 MiB and
 * rover's RSS 10–15 MiB lower, at the same CPU. (Without TurboFan, `--max-opt=1`, the first flush
 * took 4.6 s instead of 2.1 s: not taken.) `node dist/rover.js` runs without them; the image
 * and the tests run the script as its first line says.
 */
import { pino } from 'pino';
import { startRover } from './agent';
import { ConfigError, loadConfigFromProcess } from './config';
import { preflight } from './preflight';

const main = async () => {
  let config;
  try {
    config = loadConfigFromProcess(process.argv.slice(2), process.env, (m) => console.error(`rover: warning: ${m}`));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`rover: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({
    level: config.logger.level.toLowerCase() === 'fatal' ? 'fatal' : config.logger.level.toLowerCase(),
  });
  const check = preflight();
  if (!check.ok && config.profiling.active) {
    for (const problem of check.problems) log.error(problem);
    console.error(`rover: cannot profile on this host:\n  - ${check.problems.join('\n  - ')}`);
    process.exit(3);
  }
  // An agent keeps running: a failure in one background round is logged, not fatal.
  process.on('unhandledRejection', (reason) => {
    log.error(
      { err: reason instanceof Error ? reason.stack : String(reason) },
      'unhandled rejection; rover keeps running',
    );
  });
  const rover = await startRover(config, { log });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'rover stopping: detaching every BPF program');
    rover
      .stop()
      .then(() => process.exit(0))
      .catch((err: Error) => {
        log.error({ err: err.message }, 'rover did not stop cleanly');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
};

main().catch((err: Error) => {
  console.error(`rover: ${err.message}`);
  process.exit(1);
});
