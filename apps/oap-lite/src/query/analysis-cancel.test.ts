/**
 * An analysis in progress stops when its client closes the connection: a real HTTP server and a
 * real client that goes away. The analysis here is a stand-in bound to `version` (through the
 * server's resolver hook), so the test knows exactly when it is running; the path from socket to
 * budget (yoga's request signal, AnalysisScope, AnalysisBudget) is the real one.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { AnalysisAbortedError } from '../analysis/analysis-budget';
import { loadConfig } from '../config';
import { createMetrics } from '../metrics';
import type { QueryContext, ServerContext } from './context';
import { createHttpServer } from './http-server';

test('closing the request stops the analysis it started', async () => {
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let outcome: unknown = 'still running';
  const context = { config: loadConfig({}), metrics: createMetrics() } as ServerContext;
  const server = createHttpServer({
    context,
    log: pino({ level: 'silent' }),
    extraResolvers: [
      {
        Query: {
          version: (_p: unknown, _a: unknown, ctx: QueryContext) =>
            ctx.analysis
              .run(async (budget) => {
                started();
                for (let i = 0; i < 500; i++) {
                  await sleep(10);
                  budget.checkAborted();
                }
                return 'finished';
              })
              .catch((err: unknown) => {
                outcome = err;
                throw err;
              }),
        },
      },
    ],
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const client = new AbortController();
    const request = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ version }' }),
      signal: client.signal,
    }).catch((err: Error) => err);
    await running;
    const abortedAt = performance.now();
    client.abort();
    await request;
    while (outcome === 'still running' && performance.now() - abortedAt < 3000) await sleep(5);
    assert.ok(outcome instanceof AnalysisAbortedError, `outcome: ${String(outcome)}`);
    assert.ok(performance.now() - abortedAt < 500, 'the analysis ran on long after the client left');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
