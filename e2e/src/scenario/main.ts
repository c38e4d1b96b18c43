/**
 * `npm run scenario -w @swlite/e2e`: the seed's mesh experiment as one command. Prints the
 * seed-style table, checks the expectations (exit 1 when one fails) and writes flame graphs to
 * e2e/out/scenario/ (with rover's and oap-lite's logs). Options: --seconds N (load per variant,
 * default 12), --connections N, --variants a,b (names from VARIANTS), --unwind auto|fp|dwarf
 * (rover's ROVER_PROFILING_UNWIND; with fp only the leaf-frame checks apply).
 */
import { checkScenario } from './checks';
import { details, table, writeFlameGraphs } from './report';
import { DEFAULT_OPTIONS, runScenario, VARIANTS } from './run';
import { OUT_DIR } from './report';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} wants a positive number`);
  return v;
};

const onlyAt = process.argv.indexOf('--variants');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : undefined;

const unwindAt = process.argv.indexOf('--unwind');
if (unwindAt >= 0 && !['auto', 'fp', 'dwarf'].includes(process.argv[unwindAt + 1] ?? ''))
  throw new Error('--unwind auto|fp|dwarf');

const main = async () => {
  const result = await runScenario({
    loadSeconds: arg('seconds', DEFAULT_OPTIONS.loadSeconds),
    connections: arg('connections', DEFAULT_OPTIONS.connections),
    variants: only ? VARIANTS.filter((v) => only.includes(v.name)) : VARIANTS,
    keepLogs: OUT_DIR,
    unwind: unwindAt >= 0 ? (process.argv[unwindAt + 1] as 'auto' | 'fp' | 'dwarf') : DEFAULT_OPTIONS.unwind,
  });
  console.log(`\nThe seed's experiment on this machine (nginx as the sidecar; ${result.seconds.toFixed(0)} s):\n`);
  console.log(table(result));
  console.log('');
  for (const v of result.variants) console.log(details(v));
  const files = writeFlameGraphs(result);
  console.log(`\nflame graphs: ${files.length} files in ${files[0]?.replace(/\/[^/]+$/, '')}`);
  const failures = checkScenario(result);
  for (const c of failures.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.what}`);
  if (failures.checks.some((c) => !c.ok)) process.exitCode = 1;
};

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
