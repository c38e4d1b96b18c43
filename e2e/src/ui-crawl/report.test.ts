/**
 * The crawl's verdict without a browser: which errors count, which are booster-ui's own, and that
 * the committed allow list is well formed (every entry has a pattern and a reason).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatTable, judge, parseAllowed } from './report';

const visit = (name: string) => ({ name, path: `/${name}` });

test('an error counts unless an entry for that page allows it', () => {
  const allowed = parseAllowed([
    { page: ' edit$', error: "^page error: Cannot set properties of undefined \\(setting 'height'\\)", reason: 'UI' },
  ]);
  const height = "page error: Cannot set properties of undefined (setting 'height')";
  const [edit, view] = judge(
    [
      { visit: visit('OS_LINUX Service edit'), errors: [height, 'graphql getAlarm: boom'], ms: 5 },
      { visit: visit('OS_LINUX Service'), errors: [height], ms: 5 },
    ],
    allowed,
  );
  assert.deepEqual(edit!.errors, ['graphql getAlarm: boom']);
  assert.deepEqual(edit!.allowed, [height]);
  assert.deepEqual(view!.errors, [height]);
  const table = formatTable([edit!, view!]);
  assert.match(table, /2 pages, 2 with errors \(2 errors\), 1 allowed/);
  assert.match(table, /OS_LINUX Service edit \(\/OS_LINUX Service edit\):\n {2}graphql getAlarm: boom/);
});

test('an allow list entry needs a pattern and a reason', () => {
  assert.throws(() => parseAllowed([{ error: 'x' }]), /entry 0: needs "error" .* and a "reason"/);
  assert.throws(() => parseAllowed([{ error: '(', reason: 'r' }]), /Invalid regular expression/);
  assert.throws(() => parseAllowed({}), /expected a JSON array/);
});

test('the committed allow list parses', () => {
  const entries = parseAllowed(JSON.parse(readFileSync(new URL('./allowed-errors.json', import.meta.url), 'utf8')));
  assert.ok(entries.length > 0);
  for (const e of entries) assert.match(e.reason, /booster-ui's own/);
});
