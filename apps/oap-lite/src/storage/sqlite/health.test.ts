/**
 * Honest health on SQLite: a damaged file stops the start with its name; a full disk (a real
 * 40 MiB tmpfs) makes writes fail retryably, is logged once per episode with the path and free
 * space, turns /healthcheck and checkHealth DOWN, and both recover when space returns.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentClient, graphqlOk, hostProcess } from '@swlite/testkit';
import { startTestOap, type TestOap } from '../../testing/start';
import { StorageFullError, type HealthLog } from '../write-health';
import { CorruptDatabaseError } from './connection';
import { SqliteStorage } from './sqlite-storage';

const isRoot = process.getuid?.() === 0;
/** Mounting a tmpfs needs root; CI runs as root, so there a missing privilege fails. */
const skipFullDisk = !isRoot && process.env.CI !== 'true' ? 'mounting a small tmpfs needs root' : false;

describe('SQLite health', () => {
  it('refuses to start on a file that is not a database, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oap-lite-corrupt-'));
    try {
      writeFileSync(join(dir, 'oap-lite.db'), Buffer.alloc(8192, 0x5a));
      const storage = new SqliteStorage({ dataDir: dir });
      await assert.rejects(storage.init(), (err: Error) => {
        assert.ok(err instanceof CorruptDatabaseError, err.message);
        assert.match(err.message, /oap-lite\.db is corrupt/);
        assert.match(err.message, /move the file aside/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a database with a damaged page, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oap-lite-corrupt-'));
    try {
      const storage = new SqliteStorage({ dataDir: dir });
      await storage.init();
      const services = Array.from({ length: 2000 }, (_, i) => ({
        id: `svc-${i}.1`,
        name: `service-${i}-${'x'.repeat(100)}`,
        layers: ['OS_LINUX'],
        group: '',
        shortName: `service-${i}`,
        normal: true,
        lastSeen: Date.now(),
      }));
      for (const s of services) await storage.metadata.upsertService(s);
      await storage.close();
      // Overwrite pages past the schema (page 1) with garbage: the b-tree pages of the data.
      const fd = openSync(join(dir, 'oap-lite.db'), 'r+');
      writeSync(fd, Buffer.alloc(4096 * 4, 0xa5), 0, 4096 * 4, 4096 * 3);
      closeSync(fd);
      await assert.rejects(new SqliteStorage({ dataDir: dir }).init(), CorruptDatabaseError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('on a full disk (40 MiB tmpfs)', { skip: skipFullDisk }, () => {
    let mountDir: string;
    let oap: TestOap;
    let agent: AgentClient;
    const logged: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];

    const fill = () => {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(mountDir, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        // dd stops with an error when the disk is full: that is the point.
      }
    };
    const health = async () => {
      const res = await fetch(oap.graphqlUrl.replace('/graphql', '/healthcheck'));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    before(async () => {
      mountDir = mkdtempSync(join(tmpdir(), 'oap-lite-fulldisk-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mountDir]);
      const dataDir = join(mountDir, 'data');
      mkdirSync(dataDir);
      oap = await startTestOap({ SW_RECEIVER_STAGING_DIR: join(mountDir, 'staging') }, dataDir);
      agent = new AgentClient(oap.grpcAddress, 'rover-full-disk');
    });
    after(async () => {
      agent?.close();
      await oap?.stop();
      execFileSync('umount', [mountDir]);
      rmSync(mountDir, { recursive: true, force: true });
    });

    it('fails writes retryably, logs the episode once, reports DOWN, and recovers when space returns', async () => {
      assert.deepEqual(await health(), { status: 200, body: { status: 'UP' } });
      const storage = new SqliteStorage({
        dataDir: join(mountDir, 'direct'),
        log: {
          error: (obj, msg) => logged.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
          info: (obj, msg) => logged.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
        } satisfies HealthLog,
      });
      await storage.init();
      fill();
      const labels = (n: number) => Array.from({ length: 2000 }, (_, i) => `label-${n}-${i}-${'y'.repeat(200)}`);
      await assert.rejects(storage.metadata.addServiceLabels('svc.1', labels(1)), StorageFullError);
      await assert.rejects(storage.metadata.addServiceLabels('svc.1', labels(2)), StorageFullError);
      const errors = logged.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1, 'one log line per episode');
      assert.equal(errors[0]!.obj.path, join(mountDir, 'direct'));
      assert.equal(typeof errors[0]!.obj.freeBytes, 'number');
      const h = await storage.health();
      assert.equal(h.writable, false);
      assert.match(h.details, /full/);

      // The server on the same disk: an upload is refused with UNAVAILABLE (rover keeps it).
      await assert.rejects(
        agent.reportProcesses([
          hostProcess('nginx', {
            labels: labels(3)
              .slice(0, 200)
              .map((l) => l.slice(0, 1000)),
          }),
        ]),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.UNAVAILABLE, err.message);
          assert.match(err.details, /disk holding .* is full/);
          return true;
        },
      );
      const down = await health();
      assert.equal(down.status, 503);
      assert.equal(down.body.status, 'DOWN');
      assert.match(String(down.body.details), /bytes free|full/);
      const gql = await graphqlOk(oap.graphqlUrl, '{ checkHealth { score details } }');
      assert.ok(gql.checkHealth.score > 0);

      rmSync(join(mountDir, 'filler'));
      assert.equal((await storage.health()).writable, true, 'health probes a write and recovers');
      assert.ok(logged.some((l) => l.level === 'info' && /writes again/.test(l.msg)));
      await storage.metadata.addServiceLabels('svc.1', ['after']);
      assert.deepEqual(await health(), { status: 200, body: { status: 'UP' } });
      const res = await agent.reportProcesses([hostProcess('nginx')]);
      assert.equal(res.processes.length, 1);
      assert.equal((await graphqlOk(oap.graphqlUrl, '{ checkHealth { score details } }')).checkHealth.score, 0);
      await storage.close();
    });
  });
});
