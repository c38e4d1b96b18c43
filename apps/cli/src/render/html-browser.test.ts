/**
 * The HTML flame graph in headless Chromium (Debian's, driven by playwright-core): zoom on click,
 * reset, search with the matched share, tooltips; and the screenshot in docs/images.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { nginxLikeTrees } from '../testing/fixtures';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium, inCi } from '../testing/tools';
import { buildFlameGraph, percent, treeToHtml, treeToSvg, walk, type FlameNode } from './index';

const DOCS_IMAGES = fileURLToPath(new URL('../../../../docs/images/', import.meta.url));

/** Share of the total in frames matching `re`, each stack counted once (what the page shows). */
const matchedShare = (root: FlameNode, re: RegExp) => {
  let matched = 0;
  const visit = (node: FlameNode, under: boolean) => {
    const hit = node.kind !== 'root' && re.test(node.name);
    if (hit && !under) matched += node.total;
    for (const c of node.children) visit(c, under || hit);
  };
  visit(root, false);
  return { matched, text: percent(matched, root.total) };
};

const skipReason = hasChromium() ? undefined : `${CHROMIUM} not installed (apt-get install chromium)`;
if (skipReason && inCi()) throw new Error(`${skipReason}: required under CI=true`);

describe('HTML flame graph in Chromium', { skip: skipReason }, () => {
  let browser: Browser;
  let page: Page;
  let dir: string;
  const root = buildFlameGraph(nginxLikeTrees());
  const errors: string[] = [];

  before(async () => {
    const { chromium } = await import('playwright-core');
    dir = mkdtempSync(join(tmpdir(), 'swlite-html-'));
    const file = join(dir, 'flamegraph.html');
    writeFileSync(
      file,
      treeToHtml(root, {
        title: 'nginx: on-CPU flame graph',
        subtitle: `task 3f9c2a7e51d0  ·  2026-11-27 15:30:00 → 15:31:00  ·  ${root.total} samples  ·  process: nginx (pid 4242)`,
      }),
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => !r.url().startsWith('file:') && errors.push(`external request: ${r.url()}`));
    await page.goto(pathToFileURL(file).href);
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const box = async (selector: string) => {
    const b = await page.locator(selector).first().boundingBox();
    assert.ok(b, `${selector} is visible`);
    return b;
  };
  const chartWidth = () => page.evaluate('document.getElementById("chart").clientWidth') as Promise<number>;

  it('draws the root across the chart and kernel frames in another colour', async () => {
    const width = await chartWidth();
    assert.ok(width > 1000);
    assert.ok(Math.abs((await box('.frame[data-kind="root"]')).width - width) <= 1.5);
    const colour = (sel: string) =>
      page
        .locator(sel)
        .first()
        .evaluate((el: any) => (globalThis as any).getComputedStyle(el).backgroundColor as string);
    const user = await colour('.frame[data-name="ngx_http_static_handler"]');
    const kernel = await colour('.frame[data-name="tcp_sendmsg"]');
    const [ur, , ub] = user.match(/\d+/g)!.map(Number);
    const [kr, , kb] = kernel.match(/\d+/g)!.map(Number);
    assert.ok(ur! > ub!, `user frames are warm: ${user}`);
    assert.ok(kb! > kr!, `kernel frames are cool: ${kernel}`);
    assert.deepEqual(errors, []);
  });

  it('zooms on click: the clicked frame fills the width, other branches go, Reset brings them back', async () => {
    const width = await chartWidth();
    const before = await box('.frame[data-name="ngx_http_static_handler"]');
    assert.ok(before.width < width * 0.5);
    await page.click('.frame[data-name="ngx_http_static_handler"]');
    const zoomed = await box('.frame.zoomed');
    assert.equal(await page.locator('.frame.zoomed').getAttribute('data-name'), 'ngx_http_static_handler');
    assert.ok(Math.abs(zoomed.width - width) <= 1.5, `zoomed width ${zoomed.width} vs chart ${width}`);
    assert.ok(zoomed.x - (await box('#chart')).x < 1);
    // Its callee keeps its share of the zoomed frame; a sibling branch is gone; ancestors stay.
    const sendChain = await box('.frame[data-name="ngx_http_output_filter"]');
    const static_ = root.children.find((c) => c.name === '_start')!;
    let handler: FlameNode | undefined;
    walk(static_, (n) => {
      if (n.name === 'ngx_http_static_handler') handler = n;
    });
    const output = handler!.children.find((c) => c.name === 'ngx_http_output_filter')!;
    assert.ok(Math.abs(sendChain.width + 1 - (width * output.total) / handler!.total) <= 1.5);
    assert.equal(await page.locator('.frame[data-name="epoll_wait"]').count(), 0);
    assert.ok((await page.locator('.frame.ancestor').count()) >= 10);
    assert.equal(await page.locator('#reset').isDisabled(), false);
    await page.click('#reset');
    assert.equal(await page.locator('.frame[data-name="epoll_wait"]').count(), 1);
    assert.equal(await page.locator('#reset').isDisabled(), true);
    // Escape also zooms out.
    await page.click('.frame[data-name="ngx_http_log_handler"]');
    assert.equal(await page.locator('.frame[data-name="epoll_wait"]').count(), 0);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.frame[data-name="epoll_wait"]').count(), 1);
  });

  it('highlights search matches and shows their share of the total', async () => {
    await page.click('#search');
    await page.keyboard.type('tcp_');
    const expected = matchedShare(root, /tcp_/i);
    assert.ok(expected.matched > 0 && expected.matched < root.total);
    assert.equal(await page.textContent('#match'), `Matched: ${expected.text} (${expected.matched} samples)`);
    const matches = await page.locator('.frame.match').evaluateAll((els: any[]) => els.map((e) => e.dataset.name as string));
    assert.ok(matches.length >= 5);
    assert.ok(matches.every((n) => /tcp_/i.test(n)));
    // A regular expression; an invalid one is searched as text.
    await page.fill('#search', '^do_sys');
    assert.equal(
      await page.textContent('#match'),
      `Matched: ${matchedShare(root, /^do_sys/i).text} (${matchedShare(root, /^do_sys/i).matched} samples)`,
    );
    await page.fill('#search', 'no_such_symbol(');
    assert.equal(await page.textContent('#match'), 'Matched: 0.00% (0 samples)');
    await page.fill('#search', '');
    assert.equal(await page.textContent('#match'), '');
    assert.equal(await page.locator('.frame.match').count(), 0);
  });

  it('shows a tooltip with the symbol, its samples and share', async () => {
    await page.hover('.frame[data-name="ngx_linux_sendfile_chain"]');
    const tip = page.locator('#tip');
    assert.equal(await tip.isVisible(), true);
    const text = (await tip.textContent()) ?? '';
    let node: FlameNode | undefined;
    walk(root, (n) => {
      if (n.name === 'ngx_linux_sendfile_chain') node = n;
    });
    assert.match(text, /^ngx_linux_sendfile_chainuser space/);
    assert.ok(text.includes(`total${node!.total} samples`), text);
    assert.ok(text.includes(`of all${percent(node!.total, root.total)}`), text);
  });

  it('marks inlined frames (`name (inlined)` on the wire): plain name, striped, said in the tooltip and the legend', async () => {
    // main → work → twice (inlined) → mix (inlined): leaf is an inlined function.
    const el = (id: string, parentId: string, symbol: string, dumpCount: number) => ({ id, parentId, symbol, stackType: 'USER_SPACE', dumpCount });
    const inlinedRoot = buildFlameGraph([
      {
        elements: [
          el('1', '0', 'main', 10),
          el('2', '1', 'work', 10),
          el('3', '2', 'twice (inlined)', 8),
          el('4', '3', 'mix (inlined)', 6),
          el('5', '1', 'mix', 0),
        ],
      },
    ]);
    const file = join(dir, 'inlined.html');
    writeFileSync(file, treeToHtml(inlinedRoot, { title: 'inlined' }));
    const p = await browser.newPage({ viewport: { width: 1000, height: 400 } });
    try {
      await p.goto(pathToFileURL(file).href);
      assert.deepEqual(
        await p.locator('.frame.inlined').evaluateAll((els: any[]) => els.map((e) => [e.dataset.name, e.textContent])),
        [
          ['twice', 'twice'],
          ['mix', 'mix'],
        ],
      );
      assert.equal(await p.locator('.frame[data-name="work"].inlined').count(), 0);
      const style = await p
        .locator('.frame.inlined')
        .first()
        .evaluate((e: any) => {
          const cs = (globalThis as any).getComputedStyle(e);
          return [cs.fontStyle, cs.backgroundImage];
        });
      assert.equal(style[0], 'italic');
      assert.match(style[1], /repeating-linear-gradient/);
      await p.hover('.frame[data-name="twice"]');
      assert.match((await p.locator('#tip').textContent()) ?? '', /^twiceuser space · inlined/);
      await p.hover('.frame[data-name="work"]');
      assert.match((await p.locator('#tip').textContent()) ?? '', /^workuser space(?! · inlined)/);
      assert.equal(await p.locator('.legend span.inlined').count(), 1);
    } finally {
      await p.close();
    }
    // A graph without inlined frames has no such legend entry.
    assert.equal(await page.locator('.legend span.inlined').count(), 0);
  });

  it('opens the SVG as well-formed XML with every frame', async () => {
    const file = join(dir, 'flamegraph.svg');
    writeFileSync(
      file,
      treeToSvg(root, {
        title: 'nginx "quoted" & <escaped>',
        subtitle: 'a & b',
      }),
    );
    const svgPage = await browser.newPage();
    try {
      await svgPage.goto(pathToFileURL(file).href);
      assert.equal(await svgPage.locator('parsererror').count(), 0);
      let frames = 1;
      walk(root, () => frames++);
      assert.equal(await svgPage.locator('g.frame').count(), frames);
      assert.equal(await svgPage.locator('text').first().textContent(), 'nginx "quoted" & <escaped>');
    } finally {
      await svgPage.close();
    }
  });

  it('takes the screenshot for the docs', async () => {
    await page.fill('#search', 'tcp_');
    await page.hover('.frame[data-name="ngx_http_static_handler"]');
    const png = await page.screenshot({ fullPage: true });
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    // Kept in the repository; rewritten when missing or with UPDATE_SCREENSHOTS=1.
    const target = join(DOCS_IMAGES, 'flamegraph.png');
    if (!existsSync(target) || process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(DOCS_IMAGES, { recursive: true });
      writeFileSync(target, png);
    }
    assert.ok(readFileSync(target).length > 10_000);
    assert.deepEqual(errors, []);
  });
});
