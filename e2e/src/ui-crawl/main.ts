/**
 * `npm run ui:crawl -w @swlite/e2e`: every stock UI page on a seeded oap-lite, in Chromium.
 *
 * Needs a built booster-ui (BOOSTER_UI_DIR: its folder with `dist/`, or the `dist` folder itself;
 * see README.md) and Chromium (SWLITE_CHROMIUM, default /usr/bin/chromium). Starts oap-lite on
 * free loopback ports, seeds it (seed.ts), serves the UI with `/graphql` forwarded to it, visits
 * every page (pages.ts), prints a table and exits 1 when a page has an error that
 * allowed-errors.json does not list. `--screenshots <dir>` writes the representative pages as
 * stock-ui-*.png there (docs/images for the README).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startOap } from '@swlite/testkit';
import { crawl } from './crawl';
import { discoverPages } from './pages';
import { formatTable, judge, parseAllowed } from './report';
import { SEEDED_LAYERS, seedOap } from './seed';
import { startUiServer, uiDist } from './ui-server';

/** Page name to screenshot file: a representative set, one of each kind of page. */
const SCREENSHOTS: Record<string, string> = {
  'dashboard list': 'stock-ui-dashboard-list.png',
  alerting: 'stock-ui-alerting.png',
  'layer OS_LINUX': 'stock-ui-linux-services.png',
  'layer K8S_SERVICE': 'stock-ui-k8s-services.png',
  'OS_LINUX Service tab 0': 'stock-ui-service-instances.png',
  'OS_LINUX Service tab 2': 'stock-ui-continuous-profiling.png',
  'layer MESH': 'stock-ui-mesh-services.png',
  'MESH_DP Service tab 1': 'stock-ui-mesh-dp-ebpf.png',
  'OS_LINUX Service edit': 'stock-ui-service-views.png',
  'OS_LINUX ServiceInstance edit': 'stock-ui-instance-views.png',
  'GENERAL new Endpoint edit': 'stock-ui-endpoint-views.png',
  'K8S_SERVICE All edit': 'stock-ui-root-views.png',
};

const usage = `usage: BOOSTER_UI_DIR=<booster-ui folder> npm run ui:crawl -w @swlite/e2e [-- --screenshots <dir>] [--only <page name regex>]`;

const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const main = async (): Promise<number> => {
  const uiDir = process.env.BOOSTER_UI_DIR;
  if (!uiDir) {
    console.error(`BOOSTER_UI_DIR is not set: the crawl needs a built booster-ui v10.2.0.\n${usage}`);
    return 2;
  }
  const chromium = process.env.SWLITE_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    console.error(`${chromium} not found: apt-get install chromium, or set SWLITE_CHROMIUM`);
    return 2;
  }
  const dist = uiDist(resolve(uiDir));
  const shotsDir = argValue('--screenshots');
  const only = argValue('--only');
  const allowed = parseAllowed(JSON.parse(readFileSync(new URL('./allowed-errors.json', import.meta.url), 'utf8')));

  const started = Date.now();
  const oap = await startOap();
  const ui = await startUiServer(dist, `http://127.0.0.1:${oap.httpPort}`);
  try {
    await seedOap(oap.graphqlUrl, oap.grpcAddress);
    let visits = await discoverPages(oap.graphqlUrl, SEEDED_LAYERS);
    if (only) visits = visits.filter((v) => new RegExp(only).test(v.name));
    const screenshots = shotsDir
      ? new Map(Object.entries(SCREENSHOTS).map(([page, file]) => [page, join(resolve(shotsDir), file)]))
      : undefined;
    const results = await crawl(visits, { uiUrl: ui.url, chromium, screenshots, log: (l) => console.error(l) });
    const pages = judge(results, allowed);
    console.log(formatTable(pages));
    console.log(`run time ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return pages.some((p) => p.errors.length > 0) ? 1 : 0;
  } finally {
    await ui.close();
    await oap.cleanup();
  }
};

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
