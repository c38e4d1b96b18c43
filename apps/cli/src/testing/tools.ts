/** Gates for tests that need an outside tool: skip where it is missing, fail under CI=true. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

export const inCi = () => process.env.CI === 'true' || process.env.CI === '1';

export const hasGo = (): boolean => spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;

export const CHROMIUM = process.env.SWLITE_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = (): boolean => existsSync(CHROMIUM);

/** Returns false (and marks the test skipped) when the tool is missing; throws under CI. */
export const need = (t: TestContext, available: boolean, what: string): boolean => {
  if (available) return true;
  if (inCi()) throw new Error(`${what} is required under CI=true (tools/setup.sh installs it)`);
  t.skip(`${what} not installed`);
  return false;
};

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
