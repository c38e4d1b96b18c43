/**
 * sqlite and Elasticsearch side by side, in one run: runs bench/run.ts once per storage (each in its
 * own process, so resident memory is per run) and prints one table.
 *
 *   npm run bench:compare -w @swlite/oap-lite
 *
 * Elasticsearch: SW_STORAGE_ES_CLUSTER_NODES names a cluster; without it one test node is started
 * here (tools/elasticsearch/start.sh) for the run and stopped after. BENCH_INGEST_RECORDS is passed on.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestElasticsearch, type TestElasticsearch } from '../src/storage/elasticsearch/test-node';

interface Result {
  storage: string;
  ingestRecordsPerSecond: number;
  ingestRecords: number;
  analysisMedianMs: number;
  analysisBestMs: number;
  analysisTotal: number;
  treeElements: number;
  rssIdleBytes: number;
  rssPeakBytes: number;
  esRssBytes: number;
}

const RUN = fileURLToPath(new URL('./run.ts', import.meta.url));
const mb = (bytes: number) => (bytes ? `${(bytes / 1024 / 1024).toFixed(0)} MB` : '–');

const runOnce = (env: Record<string, string>): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN], {
      env: { ...process.env, ...env, BENCH_JSON: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (code !== 0 || !line) reject(new Error(`bench/run.ts (${env.SW_STORAGE}) exited with ${code}`));
      else resolve(JSON.parse(line.slice('BENCH_RESULT '.length)) as Result);
    });
  });

const main = async () => {
  let es: TestElasticsearch | undefined;
  let nodes = process.env.SW_STORAGE_ES_CLUSTER_NODES ?? '';
  const esEnv: Record<string, string> = { SW_STORAGE: 'elasticsearch' };
  try {
    if (!nodes) {
      es = await startTestElasticsearch({ heap: process.env.SWLITE_ES_HEAP ?? '1g' });
      nodes = es.url.replace(/^https?:\/\//, '');
      esEnv.BENCH_ES_PID = String(es.pid);
      console.log(`started an Elasticsearch node at ${es.url} in ${(es.startedInMs / 1000).toFixed(1)} s`);
    }
    esEnv.SW_STORAGE_ES_CLUSTER_NODES = nodes;
    // One after the other: both share the machine's cores.
    const sqlite = await runOnce({ SW_STORAGE: 'sqlite' });
    const elastic = await runOnce(esEnv);

    const rows: Array<[string, string, string]> = [
      ['', 'sqlite', 'elasticsearch'],
      [
        `ingest, stack records/s (${sqlite.ingestRecords.toLocaleString()} records)`,
        sqlite.ingestRecordsPerSecond.toLocaleString(),
        elastic.ingestRecordsPerSecond.toLocaleString(),
      ],
      ['analysis 1M samples / 100k records, median ms', String(sqlite.analysisMedianMs), String(elastic.analysisMedianMs)],
      ['analysis, best ms', String(sqlite.analysisBestMs), String(elastic.analysisBestMs)],
      ['analysis result (total samples / tree elements)', `${sqlite.analysisTotal} / ${sqlite.treeElements}`, `${elastic.analysisTotal} / ${elastic.treeElements}`],
      ['oap-lite RSS idle', mb(sqlite.rssIdleBytes), mb(elastic.rssIdleBytes)],
      ['oap-lite RSS peak under ingest', mb(sqlite.rssPeakBytes), mb(elastic.rssPeakBytes)],
      ['Elasticsearch JVM RSS', '–', mb(elastic.esRssBytes)],
    ];
    const w = rows.map((r) => r.map((c) => c.length)).reduce((a, b) => a.map((x, i) => Math.max(x, b[i]!)));
    console.log('\noap-lite storage comparison (oap-lite in its own process, pre-encoded uploads)');
    for (const r of rows) console.log(`  ${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}`);
  } finally {
    await es?.stop();
  }
};

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
