/**
 * Visits stock UI pages in Chromium and collects what went wrong on each: uncaught exceptions,
 * console errors, failed requests, and GraphQL answers with `errors`.
 */
import type { Browser, Page } from 'playwright-core';
import type { PageVisit } from './pages';

export interface PageResult {
  visit: PageVisit;
  errors: string[];
  ms: number;
}

export interface CrawlOptions {
  uiUrl: string;
  chromium: string;
  /** Page name to PNG path: screenshots taken once the page has settled. */
  screenshots?: Map<string, string>;
  log?: (line: string) => void;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** How long a page may keep the network busy before we look at it anyway (a spinner never stops). */
const SETTLE_TIMEOUT_MS = 15_000;
/** Quiet time after the network settles: the UI renders charts in timers after the data comes. */
const AFTER_SETTLE_MS = 800;

const settle = async (page: Page) => {
  await page.waitForLoadState('networkidle', { timeout: SETTLE_TIMEOUT_MS }).catch(() => undefined);
  await page.waitForTimeout(AFTER_SETTLE_MS);
};

/** The first frame in the UI's bundle (file and position): finds the code behind a minified message. */
const at = (stack: string | undefined) => {
  const frame = /\/static\/js\/([^/)\s]+:\d+:\d+)/.exec(stack ?? '')?.[1];
  return frame ? ` (at ${frame})` : '';
};

/** Collects a page's uncaught exceptions, console errors, failed requests and GraphQL errors. */
export const watch = (page: Page, errors: string[]) => {
  page.on('pageerror', (e) => errors.push(`page error: ${e.message.split('\n')[0]}${at(e.stack)}`));
  page.on('console', async (m) => {
    if (m.type() !== 'error') return;
    // An Error logged by the UI's handlers: where it was thrown, not where it was logged.
    const stack = await m
      .args()[0]
      ?.evaluate((v) => (v instanceof Error ? v.stack : undefined))
      .catch(() => undefined);
    errors.push(`console: ${m.text().split('\n')[0]}${at(stack)}`);
  });
  page.on('requestfailed', (r) => {
    const failure = r.failure()?.errorText ?? 'failed';
    // The UI cancels its pending queries when the route changes (window.axiosCancel).
    if (failure !== 'net::ERR_ABORTED')
      errors.push(`request failed: ${r.method()} ${new URL(r.url()).pathname} ${failure}`);
  });
  page.on('response', async (r) => {
    if (new URL(r.url()).pathname !== '/graphql') return;
    const body = (r.request().postDataJSON() ?? {}) as { query?: string };
    const operation = /^\s*(?:query|mutation)\s+(\w+)/.exec(body.query ?? '')?.[1] ?? 'anonymous';
    if (r.status() >= 400) {
      errors.push(`graphql ${operation}: HTTP ${r.status()}`);
      return;
    }
    try {
      const json = (await r.json()) as { errors?: Array<{ message: string }> };
      if (json.errors?.length) errors.push(`graphql ${operation}: ${json.errors.map((e) => e.message).join('; ')}`);
    } catch {
      // The page navigated away before the body arrived; the next visit starts clean.
    }
  });
};

/** Switches the dashboard to edit mode and adds each view from the editor's "Controls" menu. */
const addViews = async (page: Page, visit: PageVisit, errors: string[]) => {
  const toggle = page.locator('.dashboard-tool .el-switch').first();
  await toggle.waitFor({ timeout: 10_000 });
  if (!(await toggle.evaluate((el) => el.classList.contains('is-checked')))) await toggle.click();
  for (const view of visit.addViews ?? []) {
    const controls = page.locator('.dashboard-tool .tools .icon-btn').first();
    await controls.hover();
    const item = page.locator(`.el-dropdown-menu__item[title="${view}"]`).last();
    try {
      await item.waitFor({ state: 'visible', timeout: 5_000 });
      await item.click();
    } catch {
      errors.push(`crawl: the editor offers no "${view}"`);
      continue;
    }
    await page.mouse.move(0, 0);
    await settle(page);
  }
};

/**
 * The Continuous Profiling widget lists the monitored instances and, in an expanded row, their
 * processes; a name is a link (class "link") only when the widget names the instance or process
 * dashboard. Expands the first instance (so a screenshot shows both) and checks both links.
 */
const expandMonitoredInstance = async (page: Page, errors: string[]) => {
  try {
    await page.locator('.el-table span.link').first().waitFor({ state: 'visible', timeout: 10_000 });
  } catch {
    errors.push('crawl: the Continuous Profiling widget shows no instance link');
    return;
  }
  await page.locator('.el-table__expand-icon').first().click();
  const processLink = page.locator('.el-table__expanded-cell span.link').first();
  await processLink.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {
    errors.push('crawl: the Continuous Profiling widget shows no process link');
  });
};

/** Clicks the first monitored instance: its dashboard must open. */
const followInstanceLink = async (page: Page, errors: string[]) => {
  const link = page.locator('.el-table__row span.link').first();
  if (!(await link.isVisible())) return;
  await link.click();
  try {
    await page.waitForURL(/\/dashboard\/[^/]+\/ServiceInstance\//, { timeout: 10_000 });
    await settle(page);
  } catch {
    errors.push(`crawl: the instance link did not open an instance dashboard (at ${page.url()})`);
  }
};

export const crawl = async (visits: PageVisit[], options: CrawlOptions): Promise<PageResult[]> => {
  const { chromium } = await import('playwright-core');
  const browser: Browser = await chromium.launch({
    executablePath: options.chromium,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  const results: PageResult[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    for (const visit of visits) {
      const started = Date.now();
      const errors: string[] = [];
      // A tab of its own per visit: the UI keeps dashboards in sessionStorage, per tab.
      const page = await context.newPage();
      watch(page, errors);
      try {
        await page.goto(options.uiUrl + visit.path, { waitUntil: 'load', timeout: 30_000 });
        await settle(page);
        if (visit.addViews) await addViews(page, visit, errors);
        if (visit.continuousProfiling) await expandMonitoredInstance(page, errors);
        const shot = options.screenshots?.get(visit.name);
        if (shot) {
          // Views added in edit mode stack up; a taller window shows them together.
          if (visit.addViews) {
            await page.setViewportSize({ width: 1440, height: 2000 });
            await settle(page);
          }
          await page.screenshot({ path: shot });
        }
        if (visit.continuousProfiling) await followInstanceLink(page, errors);
      } catch (err) {
        errors.push(`crawl: ${(err as Error).message.split('\n')[0]}`);
      }
      await page.close();
      const result = { visit, errors: [...new Set(errors)], ms: Date.now() - started };
      results.push(result);
      options.log?.(`${visit.name}: ${result.errors.length} error(s), ${result.ms} ms`);
    }
    await context.close();
  } finally {
    await browser.close();
  }
  return results;
};
