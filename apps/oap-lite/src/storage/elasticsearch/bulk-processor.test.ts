// The bulk processor on its own (no Elasticsearch): chunking by bulkActions, the flush interval,
// the concurrency bound, retries with nothing lost, refusals past bufferLimit and item errors.
// Its behaviour against a real node is covered by elasticsearch-storage.test.ts.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  BufferFullError,
  BulkProcessor,
  type BulkOperation,
  type BulkProcessorOptions,
  type BulkResponseItem,
} from './bulk-processor';

const op = (id: string, records = 1): BulkOperation => ({
  action: { index: { _index: 'i', _id: id } },
  doc: { id },
  records,
});
const silent = { info() {}, warn() {}, error() {} };

const make = (over: Partial<BulkProcessorOptions> & Pick<BulkProcessorOptions, 'send'>): BulkProcessor =>
  new BulkProcessor({
    bulkActions: 3,
    flushIntervalMs: 30,
    concurrentRequests: 1,
    bufferLimit: 100,
    target: 'http://es:9200',
    log: silent,
    retryable: (err) => (err as Error).message === 'down',
    ...over,
  });

const ok = (ops: BulkOperation[]): BulkResponseItem[] => ops.map(() => ({ status: 201 }));

describe('BulkProcessor', () => {
  it('sends at once when idle, gathers what arrives while a request runs, and splits by bulkActions', async () => {
    const sent: string[][] = [];
    const p = make({
      flushIntervalMs: 5_000,
      send: async (ops) => {
        sent.push(ops.map((o) => o.action.index!._id));
        await new Promise((r) => setTimeout(r, 30));
        return ok(ops);
      },
    });
    const t0 = Date.now();
    const first = p.add([op('a')]);
    const later = [p.add([op('b')]), p.add([op('c'), op('d')]), p.add([op('e')])];
    await first;
    assert.ok(Date.now() - t0 < 1_000, 'an idle processor does not wait for the flush interval');
    await Promise.all(later);
    assert.ok(Date.now() - t0 < 1_000);
    assert.deepEqual(sent, [['a'], ['b', 'c', 'd'], ['e']]);
    assert.equal(p.bufferedRecords, 0);
  });

  it('sends a partial bulk after the flush interval while another request is in flight', async () => {
    const sent: Array<{ ids: string[]; at: number }> = [];
    const t0 = Date.now();
    const p = make({
      concurrentRequests: 2,
      flushIntervalMs: 50,
      send: async (ops) => {
        sent.push({ ids: ops.map((o) => o.action.index!._id), at: Date.now() - t0 });
        if (ops[0]!.action.index!._id === 'slow') await new Promise((r) => setTimeout(r, 400));
        return ok(ops);
      },
    });
    const slow = p.add([op('slow')]);
    await p.add([op('x')]);
    await slow;
    assert.deepEqual(
      sent.map((s) => s.ids),
      [['slow'], ['x']],
    );
    assert.ok(sent[1]!.at >= 40 && sent[1]!.at < 350, `partial bulk after ${sent[1]!.at} ms`);
  });

  it('keeps at most concurrentRequests requests in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const p = make({
      concurrentRequests: 2,
      bulkActions: 2,
      send: async (ops) => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        return ok(ops);
      },
    });
    await Promise.all(Array.from({ length: 6 }, (_, i) => p.add([op(`a${i}`), op(`b${i}`)])));
    assert.equal(peak, 2);
  });

  it('retries through an outage, loses nothing, and refuses past bufferLimit', async () => {
    let down = true;
    const stored = new Set<string>();
    let dropped = 0;
    const buffered: number[] = [];
    const p = make({
      bufferLimit: 5,
      onDropped: (n) => (dropped += n),
      onBuffered: (n) => buffered.push(n),
      send: async (ops) => {
        if (down) throw new Error('down');
        for (const o of ops) stored.add(o.action.index!._id);
        return ok(ops);
      },
    });
    const first = p.add([op('a'), op('b'), op('c')]);
    const second = p.add([op('d'), op('e')]);
    await assert.rejects(
      p.add([op('f')]),
      (err: Error) =>
        err instanceof BufferFullError &&
        /5 records are waiting for http:\/\/es:9200 \(bufferLimit 5\); a batch of 1 records/.test(err.message),
    );
    assert.equal(dropped, 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(p.retrying, true);
    assert.equal(stored.size, 0);
    down = false;
    await Promise.all([first, second]);
    assert.deepEqual([...stored].sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(buffered.at(-1), 0);
    assert.equal(p.retrying, false);
  });

  it('rejects a batch whose item is refused for good, retries 429 items, and accepts okStatuses', async () => {
    let calls = 0;
    let busyTries = 0;
    const p = make({
      bulkActions: 10,
      send: async (ops) => {
        calls++;
        return ops.map((o) => {
          const id = o.action.index?._id ?? o.action.create?._id;
          if (id === 'bad')
            return {
              status: 400,
              _index: 'idx',
              error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [x]' },
            };
          if (id === 'busy' && ++busyTries === 1) return { status: 429 };
          if (id === 'exists') return { status: 409 };
          return { status: 201 };
        });
      },
    });
    await assert.rejects(
      p.add([op('good'), op('bad')]),
      /refused a write to index idx \(status 400\): mapper_parsing_exception: failed to parse field \[x\]/,
    );
    await p.add([op('busy')]);
    assert.equal(busyTries, 2);
    assert.ok(calls >= 3);
    await p.add([{ action: { create: { _index: 'i', _id: 'exists' } }, doc: {}, records: 0, okStatuses: [409] }]);
    await assert.rejects(
      p.add([{ action: { create: { _index: 'i', _id: 'exists' } }, doc: {}, records: 0 }]),
      /status 409/,
    );
  });

  it('drains on demand and rejects what is left on close', async () => {
    const p = make({ flushIntervalMs: 10_000, send: async (ops) => ok(ops) });
    const w = p.add([op('a')]);
    assert.equal(await p.drain(1_000), true);
    await w;
    const stuck = make({
      send: async () => {
        throw new Error('down');
      },
    });
    const left = stuck.add([op('x')]);
    assert.equal(await stuck.drain(200), false);
    stuck.close('closed before written');
    await assert.rejects(left, /closed before written/);
  });
});
