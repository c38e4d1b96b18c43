/**
 * The HTML topology page in headless Chromium (Debian's, driven by playwright-core): clicking a
 * call shows its details, clicking a process highlights its calls, Esc clears; no errors and no
 * outside requests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, inCi } from '../testing/tools';
import { topologyToHtml, type TopologyPicture } from './index';

const skipReason = hasChromium() ? undefined : `${CHROMIUM} not installed (apt-get install chromium)`;
if (skipReason && inCi()) throw new Error(`${skipReason}: required under CI=true`);

const node = (id: string, real = true) => ({ id, name: id, real });
const edge = (source: string, target: string, label: string, details: Array<[string, string]>) => ({
  id: `${source}-${target}`,
  source,
  target,
  label,
  details,
  errors: false,
});

const PICTURE: TopologyPicture = {
  title: 'shop / node-1: process topology',
  nodes: [node('nginx'), node('app'), node('db'), node('UNKNOWN_REMOTE', false)],
  edges: [
    edge('nginx', 'app', 'http · 600/min', [
      ['Req/min', '600'],
      ['Status codes', '200×598 500×2'],
    ]),
    edge('app', 'db', 'tcp · 1.2 MiB', [['Sent', '1.2 MiB']]),
    edge('app', 'UNKNOWN_REMOTE', 'tls · 600 B', [['Sent', '600 B']]),
  ],
};

describe('HTML topology in Chromium', { skip: skipReason }, () => {
  let browser: Browser;
  let page: Page;
  let dir: string;
  const errors: string[] = [];

  before(async () => {
    const { chromium } = await import('playwright-core');
    dir = mkdtempSync(join(tmpdir(), 'swlite-topology-'));
    const file = join(dir, 'topology.html');
    writeFileSync(
      file,
      topologyToHtml(PICTURE, { tables: [{ title: 'Edges', head: ['Source', 'Target'], rows: [['nginx', 'app']] }] }),
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => !r.url().startsWith('file:') && errors.push(`external request: ${r.url()}`));
    await page.goto(pathToFileURL(file).href);
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const dimmed = () => page.locator('.dim').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id).sort());

  it('shows a call’s details when it is clicked', async () => {
    assert.match(await page.locator('#details').innerText(), /Click a call/);
    await page.locator('.edge[data-id="nginx-app"] text').click();
    assert.equal(await page.locator('#details h2').innerText(), 'nginx → app');
    assert.deepEqual(await page.locator('#details dd').allInnerTexts(), ['600', '200×598 500×2']);
    assert.deepEqual(await dimmed(), ['UNKNOWN_REMOTE', 'app-UNKNOWN_REMOTE', 'app-db', 'db']);
  });

  it('highlights the calls of a clicked process, and Esc clears', async () => {
    await page.locator('.node[data-id="app"]').click();
    assert.equal(await page.locator('#details h2').innerText(), 'app');
    assert.match(await page.locator('#details').innerText(), /calls\s+3/);
    assert.deepEqual(await dimmed(), []);
    await page.locator('.node[data-id="db"]').click();
    assert.deepEqual(await dimmed(), ['UNKNOWN_REMOTE', 'app-UNKNOWN_REMOTE', 'nginx', 'nginx-app']);
    await page.keyboard.press('Escape');
    assert.deepEqual(await dimmed(), []);
    assert.match(await page.locator('#details').innerText(), /Click a call/);
  });

  it('has the tables and no errors', async () => {
    assert.deepEqual(await page.locator('section td').allInnerTexts(), ['nginx', 'app']);
    assert.deepEqual(errors, []);
  });
});
