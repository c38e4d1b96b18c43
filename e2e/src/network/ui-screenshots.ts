/**
 * `npm run ui:network -w @swlite/e2e [-- --screenshots <dir>]`: the stock UI's Network Profiling
 * tab on real processes, in Chromium.
 *
 * Sets up the network scenario of network.test.ts (a Node client with sw8 headers and a TLS
 * client → nginx → a Node backend, one service instance of layer K8S_SERVICE by a rover finder
 * rule), creates a NETWORK task with the UI's own document (slow ≥ 1 s and 5xx sampled), sends
 * traffic for a minute and a half with slow and failing requests, then opens the instance
 * dashboard's Network Profiling tab of a built booster-ui (BOOSTER_UI_DIR, as `ui:crawl`) served
 * with `/graphql` forwarded to oap-lite. It waits for the process topology, clicks the
 * client→proxy call (the UI opens its Process Relation dashboard in a new tab) and looks at that
 * dashboard's TCP, HTTP/1.x and HTTP Requests tabs. With `--screenshots <dir>` it writes
 * stock-ui-network-*.png there (docs/images for the README). Fails on a JavaScript error, a
 * GraphQL error, a widget with no data where the scenario made some, or an empty record list.
 * Needs root (rover's BPF), nginx-light and Chromium.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import {
  findUiOperations,
  freePort,
  makeTestCertificates,
  minuteDuration,
  processNames,
  sleep,
  startOap,
  startRover,
  waitFor,
  instanceIdOf,
  serviceIdOf,
} from '@swlite/testkit';
import { startNginx } from '../scenario/nginx';
import { CHROMIUM_ARGS, watch } from '../ui-crawl/crawl';
import { startUiServer, uiDist } from '../ui-crawl/ui-server';
import { startBackend, startClient, type Client } from './apps';
import { reverseProxyConfig } from './proxy';
import { NetworkUi } from './ui-flow';

const SERVICE = 'netui-shop';
const INSTANCE = 'netui-pod';
const SERVICE_ID = serviceIdOf(SERVICE);
const INSTANCE_ID = instanceIdOf(SERVICE, INSTANCE);
/** Traffic after the task starts: more than a minute, so a whole minute has data. */
const TRAFFIC_S = 90;

const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** Traced /slow and /err from a client every few seconds until `until`. */
const sampledRequests = async (client: Client, until: number) => {
  while (Date.now() < until - 3_000) {
    await client.one('/slow', true);
    await client.one('/err', true);
    await sleep(4_000);
  }
};

/** Clicks the topology's call anchors until the UI opens the relation `source → target`. */
const openRelation = async (page: Page, sourceId: string, targetId: string): Promise<Page> => {
  const anchors = page.locator('.topo-line-anchor');
  const n = await anchors.count();
  for (let i = 0; i < n; i++) {
    const [popup] = await Promise.all([
      page.context().waitForEvent('page', { timeout: 10_000 }),
      anchors.nth(i).dispatchEvent('click'),
    ]);
    const url = decodeURIComponent(popup.url());
    if (url.includes(`/${sourceId}/`) && url.includes(`/${targetId}/`)) return popup;
    await popup.close();
  }
  throw new Error(`no call anchor opened the relation ${sourceId} -> ${targetId} (${n} anchors)`);
};

const settle = async (page: Page, ms = 1_500) => {
  await page.waitForLoadState('networkidle', { timeout: 15_000 }).catch(() => undefined);
  await page.waitForTimeout(ms);
};

const main = async (): Promise<number> => {
  const uiDir = process.env.BOOSTER_UI_DIR;
  if (!uiDir) {
    console.error('BOOSTER_UI_DIR is not set: a built booster-ui v10.2.0 is needed (see e2e/src/ui-crawl/README.md)');
    return 2;
  }
  const chromiumPath = process.env.SWLITE_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromiumPath)) {
    console.error(`${chromiumPath} not found: apt-get install chromium, or set SWLITE_CHROMIUM`);
    return 2;
  }
  if (!findUiOperations()) {
    console.error('shared/conformance/ui-operations.json not found: the UI documents come from there');
    return 2;
  }
  const dist = uiDist(resolve(uiDir));
  const shotsDir = argValue('--screenshots');
  const shot = async (page: Page, file: string) => {
    if (!shotsDir) return;
    await page.screenshot({ path: join(resolve(shotsDir), file) });
    console.error(`wrote ${file}`);
  };
  const log = (line: string) => console.error(`[${new Date().toISOString()}] ${line}`);

  const dir = mkdtempSync(join(tmpdir(), 'netui-'));
  const certs = makeTestCertificates();
  const stops: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true }), certs.remove];
  const errors: string[] = [];
  try {
    const oap = await startOap();
    stops.unshift(() => oap.cleanup());
    const backend = await startBackend(dir);
    stops.unshift(() => backend.stop());
    const [port, tlsPort] = [await freePort(), await freePort()];
    const proxy = await startNginx(
      dir,
      'swlite-nete2e-proxy.conf',
      reverseProxyConfig(dir, port, backend.port, {
        port: tlsPort,
        certPath: certs.serverPem,
        keyPath: certs.serverKey,
      }),
      port,
    );
    stops.unshift(() => proxy.stop());
    const client = await startClient(dir, port);
    stops.unshift(() => client.stop());
    const tlsClient = await startClient(dir, tlsPort, true, 'tlsclient');
    stops.unshift(() => tlsClient.stop());
    const rover = await startRover({
      backend: oap.grpcAddress,
      matchCmd: 'swlite-nete2e-([a-z]+)',
      env: {
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_LAYER: 'K8S_SERVICE',
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: SERVICE,
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_INSTANCE_NAME: INSTANCE,
        ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_PROCESS_NAME: '{{.Finder.RegexMatchGroup 1}}',
      },
    });
    stops.unshift(async () => void (await rover.stop()));
    await waitFor(
      'processes reported',
      async () => {
        const names = await processNames(oap.graphqlUrl, SERVICE);
        return ['backend', 'proxy', 'client', 'tlsclient'].every((n) => names.includes(n));
      },
      40_000,
      rover,
    );

    const ui = new NetworkUi(oap.graphqlUrl);
    const created = await ui.create(INSTANCE_ID, [
      {
        minDuration: 1000,
        when4xx: false,
        when5xx: true,
        settings: { requireCompleteRequest: true, requireCompleteResponse: true },
      },
    ]);
    if (!created.status) throw new Error(`createEBPFNetworkProfiling: ${created.errorReason}`);
    await waitFor('rover started the task', () => rover.output().includes('profiling task started'), 15_000, rover);
    log(`task ${created.id} running; ${TRAFFIC_S} s of traffic`);
    const until = Date.now() + TRAFFIC_S * 1000;
    const seconds = TRAFFIC_S - 2;
    const opts = { path: '/ok', seconds, connections: 4, traced: true };
    const [plain, tls] = await Promise.all([
      client.run({ ...opts, intervalMs: 50 }),
      tlsClient.run({ ...opts, intervalMs: 200 }),
      sampledRequests(client, until),
      sampledRequests(tlsClient, until),
    ]);
    log(`client ${plain.requests} requests, tlsclient ${tls.requests}`);
    await sleep(6_000); // the last report (every 2 s) lands

    const server = await startUiServer(dist, `http://127.0.0.1:${oap.httpPort}`);
    stops.unshift(() => server.close());
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS, timeout: 60_000 });
    stops.unshift(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    context.on('page', (p) => watch(p, errors));
    const page = await context.newPage();

    // the instance dashboard's Network Profiling tab: task list and process topology
    await page.goto(
      `${server.url}/dashboard/K8S_SERVICE/ServiceInstance/${SERVICE_ID}/${INSTANCE_ID}/K8S-Service-Instance/tab/1`,
    );
    await page.locator('.topo-line-anchor').nth(2).waitFor({ timeout: 30_000 });
    await settle(page);
    await shot(page, 'stock-ui-network-topology.png');

    const topology = await ui.topology(INSTANCE_ID, minuteDuration(Date.now() - 30 * 60_000, Date.now() + 60_000));
    const idOf = (name: string) => {
      const node = topology.nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node ${name} in ${JSON.stringify(topology.nodes)}`);
      return node.id;
    };
    const relation = await openRelation(page, idOf('client'), idOf('proxy'));
    await settle(relation, 2_500);
    const tabs = relation.locator('.tab-header .tabs > span:not(.tab-icons)');
    const files = [
      'stock-ui-network-relation-tcp.png',
      'stock-ui-network-relation-http.png',
      'stock-ui-network-sampled.png',
    ];
    for (let i = 0; i < files.length; i++) {
      await tabs.nth(i).click();
      await settle(relation, 2_500);
      const empty = await relation.locator('.no-data:visible').count();
      if (i < 2 && empty > 0) errors.push(`relation tab ${i}: ${empty} widget(s) without data`);
      if (i === 2) {
        // the slow and 5xx lists have rows; the 4xx one stays empty (when4xx is false)
        const lists = relation.locator('.top-list');
        const rows: number[] = [];
        for (let l = 0; l < (await lists.count()); l++) rows.push(await lists.nth(l).locator('.chart-slow-i').count());
        log(`HTTP Requests tab: record lists with ${rows.join(', ')} rows, ${empty} empty widget(s)`);
        if (rows.filter((n) => n > 0).length < 2) errors.push(`HTTP Requests tab: rows ${rows}, expected slow and 5xx`);
      }
      await shot(relation, files[i]!);
    }
  } finally {
    for (const stop of stops) {
      try {
        await stop();
      } catch (err) {
        console.error(`cleanup: ${(err as Error).message}`);
      }
    }
  }
  for (const e of errors) console.error(`error: ${e}`);
  return errors.length > 0 ? 1 : 0;
};

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
