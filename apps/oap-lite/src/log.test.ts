/** Log lines are bounded and keep no URL credentials, through a real pino destination. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

test('a log line masks URL credentials and bounds long strings', () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..');
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { createLog } from './src/log.ts';
       const log = createLog('info');
       log.warn({ target: 'https://elastic:s3cret@es:9200', name: 'n'.repeat(100000) }, 'waiting for https://elastic:s3cret@es:9200');`,
    ],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  const line = JSON.parse(run.stdout.trim()) as { target: string; name: string; msg: string };
  assert.equal(line.target, 'https://********@es:9200');
  assert.equal(line.msg, 'waiting for https://********@es:9200');
  assert.ok(line.name.length < 4200 && line.name.endsWith('… (100000 characters)'));
});
