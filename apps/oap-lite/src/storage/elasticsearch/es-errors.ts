/** What an Elasticsearch client error means to the storage: its status, whether to wait it out, its text. */
import { errors } from '@elastic/elasticsearch';

export const statusOf = (err: unknown): number | undefined =>
  (err as { meta?: { statusCode?: number } } | null)?.meta?.statusCode;

/** Errors worth waiting out: no connection, timeouts, 429 and 5xx. */
export const isRetryable = (err: unknown): boolean => {
  if (
    err instanceof errors.ConnectionError ||
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoLivingConnectionsError
  ) {
    return true;
  }
  const status = statusOf(err) ?? 0;
  return status === 429 || status >= 500;
};

export const errorText = (err: unknown): string => {
  const body = (err as { meta?: { body?: { error?: { type?: string; reason?: string } } } })?.meta?.body;
  if (body?.error?.type) return `${body.error.type}: ${body.error.reason ?? ''}`;
  return (err as Error)?.message ?? String(err);
};
