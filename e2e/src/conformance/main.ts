/**
 * The differential harness: the Java SkyWalking OAP 10.1.0 (tools/java-oap, on Elasticsearch from
 * tools/elasticsearch) and oap-lite side by side, the same scenario against both, the normalized
 * answers compared. Prints the differences outside allowed-differences.json and exits 1 if any.
 *
 *   npm run conformance:java -w e2e [-- --record]
 *
 * --record also writes the Java OAP's normalized answers to fixtures/java-oap-10.1.0.json, which
 * the fast replay test (replay.test.ts) compares oap-lite with in `npm test`.
 * Needs SWLITE_JAVA_OAP_CONFIG: the upstream source tree's oap-server/server-starter/src/main/resources
 * at tag v10.1.0 (brought by the developer, never committed); without it the harness skips.
 * SWLITE_JAVA_OAP_URL + SWLITE_JAVA_OAP_GRPC use an OAP already running instead (it must be fresh:
 * the scenario creates tasks and policies).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT, startOap } from '@swlite/testkit';
import { compareRuns, formatDifference, loadAllowedDifferences } from './diff';
import { FIXTURE_FILE, writeFixture } from './fixture';
import { normalizeRun } from './normalize';
import { runScenario } from './scenario';

const record = process.argv.includes('--record');
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (text: string) => process.stdout.write(`[conformance ${elapsed()}] ${text}\n`);

const config = process.env.SWLITE_JAVA_OAP_CONFIG;
const reuse = process.env.SWLITE_JAVA_OAP_URL && process.env.SWLITE_JAVA_OAP_GRPC;
if (!reuse && (!config || !existsSync(join(config, 'application.yml')))) {
  say(
    "SKIPPED: set SWLITE_JAVA_OAP_CONFIG to the upstream SkyWalking source tree's oap-server/server-starter/src/main/resources " +
      'at tag v10.1.0 (git archive v10.1.0 oap-server/server-starter/src/main/resources from apache/skywalking; it is not in this repository).',
  );
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'swlite-conformance-'));
const es = join(REPO_ROOT, 'tools', 'elasticsearch');
const oap = join(REPO_ROOT, 'tools', 'java-oap');
const cleanups: Array<() => void> = [];
const cleanup = () => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch (err) {
      say(`cleanup: ${(err as Error).message}`);
    }
  }
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  let javaUrl: string;
  let javaGrpc: string;
  if (reuse) {
    javaUrl = process.env.SWLITE_JAVA_OAP_URL!;
    javaGrpc = process.env.SWLITE_JAVA_OAP_GRPC!;
  } else {
    const esPort = await freePort();
    const esData = join(work, 'es');
    say(`starting Elasticsearch on ${esPort}`);
    say(
      execFileSync(
        'bash',
        [join(es, 'start.sh'), '--port', String(esPort), '--data', esData, '--parent-pid', String(process.pid)],
        { encoding: 'utf8' },
      ).trim(),
    );
    cleanups.push(() => execFileSync('bash', [join(es, 'stop.sh'), '--data', esData], { stdio: 'ignore' }));
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const oapData = join(work, 'oap');
    say('starting the Java OAP 10.1.0 (90 to 190 s on 2 cores)');
    say(
      execFileSync(
        'bash',
        [
          join(oap, 'start.sh'),
          '--es',
          `http://127.0.0.1:${esPort}`,
          '--grpc-port',
          String(grpcPort),
          '--http-port',
          String(httpPort),
          '--data',
          oapData,
          '--parent-pid',
          String(process.pid),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      ).trim(),
    );
    cleanups.push(() => execFileSync('bash', [join(oap, 'stop.sh'), '--data', oapData], { stdio: 'ignore' }));
    javaUrl = `http://127.0.0.1:${httpPort}/graphql`;
    javaGrpc = `127.0.0.1:${grpcPort}`;
  }
  // the OAP's own shortest task (60 s): its validation texts are compared
  const lite = await startOap({ SW_EBPF_TASK_MIN_DURATION: '60' });
  cleanups.push(() => void lite.cleanup());

  say('scenario against the Java OAP');
  const java = await runScenario({ name: 'java', graphqlUrl: javaUrl, grpcAddress: javaGrpc, settleMs: 120_000 });
  java.log.forEach(say);
  say('scenario against oap-lite');
  const mine = await runScenario({
    name: 'oap-lite',
    graphqlUrl: lite.graphqlUrl,
    grpcAddress: lite.grpcAddress,
    settleMs: 0,
  });
  mine.log.forEach(say);

  const javaNormalized = normalizeRun(java.answers, java.ids);
  const liteNormalized = normalizeRun(mine.answers, mine.ids);
  const out = join(REPO_ROOT, 'e2e', '.conformance');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'java.json'), JSON.stringify({ raw: java, normalized: javaNormalized }, null, 2));
  writeFileSync(join(out, 'oap-lite.json'), JSON.stringify({ raw: mine, normalized: liteNormalized }, null, 2));
  if (record) {
    writeFixture(javaNormalized);
    say(`recorded the Java OAP's answers in ${FIXTURE_FILE}`);
  }

  const result = compareRuns(javaNormalized, liteNormalized, loadAllowedDifferences());
  for (const d of result.differences) say(`DIFFERENCE ${formatDifference(d)}`);
  for (const a of result.unused) say(`allowed difference not seen (stale entry?): ${a.step} ${a.path}`);
  say(
    `SUMMARY ${result.steps} steps compared, ${result.differences.length} differences outside the allowed list, ` +
      `${result.allowed.length} allowed (${new Set(result.allowed.map((a) => `${a.step}|${a.reason}`)).size} entries), run time ${elapsed()}` +
      ` (raw and normalized answers in e2e/.conformance/)`,
  );
  cleanup();
  process.exit(result.differences.length === 0 ? 0 : 1);
} catch (err) {
  say(`FAILED: ${(err as Error).stack ?? err}`);
  cleanup();
  process.exit(2);
}
