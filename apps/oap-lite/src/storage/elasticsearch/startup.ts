/**
 * Start-up on a cluster that other oap-lite nodes set up at the same moment (the replicas of a
 * Deployment start together): an index another node created a moment ago may not have its primary
 * shard started yet, and a request to it then fails with 503 (no_shard_available_action_exception).
 * Each start-up step waits for that and retries, within a bound, saying so in the log; what is not
 * transient (a mapping conflict, refused credentials) still fails at once.
 */
import type { Client } from '@elastic/elasticsearch';
import type { BulkLog } from './bulk-processor';
import { errorText, isRetryable } from './es-errors';

// Ref'd on purpose, as connection.ts's sleep: start-up has a caller awaiting its outcome.
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface StartupContext {
  log: BulkLog;
  /** Elasticsearch's nodes as given, for messages. */
  target: string;
  /** When start-up gives up waiting (epoch ms). */
  deadline: number;
  /** The bound, for messages. */
  boundMs: number;
  /** True once the storage is closed: stop waiting. */
  closed: () => boolean;
}

/** A log line at the first wait, then at most every 10 s. */
const throttled = (log: BulkLog, level: 'info' | 'warn') => {
  let last = 0;
  return (fields: Record<string, unknown>, msg: string) => {
    const now = Date.now();
    if (last === 0 || now - last >= 10_000) {
      last = now;
      log[level](fields, msg);
    }
  };
};

const backoff = (attempt: number) => Math.min(2_000, 100 * 2 ** Math.min(attempt, 5));

/**
 * Runs a start-up step; a transient failure (shards not started yet, 5xx, 429, timeouts, no
 * connection) is retried from the start of the step until the deadline, every other error is
 * thrown as it is.
 */
export async function retryStartupStep<T>(ctx: StartupContext, what: string, step: () => Promise<T>): Promise<T> {
  const warn = throttled(ctx.log, 'warn');
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isRetryable(err) || ctx.closed()) throw err;
      const left = ctx.deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Elasticsearch at ${ctx.target}: ${what} still failed after ${Math.round(ctx.boundMs / 1000)} s of retries: ${errorText(err)}`,
        );
      }
      warn(
        { target: ctx.target, step: what, attempt: attempt + 1, err: errorText(err) },
        `Elasticsearch at ${ctx.target} is not ready for ${what} (${errorText(err)}); retrying for up to ${Math.ceil(left / 1000)} s more`,
      );
      await sleep(Math.min(backoff(attempt), left));
    }
  }
}

interface IndexHealth {
  status?: string;
  number_of_shards?: number;
  active_primary_shards?: number;
}

/**
 * Waits until every index has all its primary shards started. Waiting for "yellow" is not
 * enough: Elasticsearch reports a newly created index whose primary is not allocated yet as
 * yellow, not red (ClusterShardHealth.getInactivePrimaryHealth), and reads of it fail meanwhile.
 */
export async function waitForPrimaries(client: Client, indices: string[], ctx: StartupContext): Promise<void> {
  // Normal while nodes start together (info); a failed step above is not (warn).
  const say = throttled(ctx.log, 'info');
  const started = Date.now();
  let waited = false;
  for (let attempt = 0; ; attempt++) {
    if (ctx.closed()) throw new Error(`Elasticsearch storage closed while waiting for its indices at ${ctx.target}`);
    const health = await client.cluster.health({ index: indices, level: 'indices', expand_wildcards: 'open' });
    const byIndex = (health.indices ?? {}) as Record<string, IndexHealth>;
    const pending = indices.filter((i) => {
      const h = byIndex[i];
      return !h || (h.active_primary_shards ?? 0) < (h.number_of_shards ?? 1);
    });
    if (pending.length === 0) {
      if (waited)
        ctx.log.info(
          { target: ctx.target, waitedMs: Date.now() - started },
          `the primary shards of every oap-lite index at ${ctx.target} started after ${Date.now() - started} ms`,
        );
      return;
    }
    const states = pending
      .map((i) => {
        const h = byIndex[i];
        return h
          ? `${i} (${h.active_primary_shards ?? 0}/${h.number_of_shards ?? 1} started, status ${h.status})`
          : `${i} (missing)`;
      })
      .join(', ');
    if (Date.now() >= ctx.deadline) {
      throw new Error(
        `the primary shards of Elasticsearch indices ${states} at ${ctx.target} did not start within ` +
          `${Math.round(ctx.boundMs / 1000)} s: see GET _cluster/allocation/explain`,
      );
    }
    waited = true;
    say(
      { target: ctx.target, pending },
      `waiting for the primary shards of ${states} at ${ctx.target} to start (an index created a moment ago, by this node or another one, or recovering)`,
    );
    await sleep(Math.min(backoff(attempt), Math.max(0, ctx.deadline - Date.now())));
  }
}
