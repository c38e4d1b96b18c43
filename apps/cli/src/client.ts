/** A small GraphQL client for oap-lite (or the Java OAP) with errors a person can act on. */
import { UserError } from './errors';
import type { Operation } from './generated/graphql';

export const DEFAULT_OAP = 'http://127.0.0.1:12800';

export interface ClientOptions {
  /** Per-request timeout in milliseconds (default 15 s). */
  timeoutMs?: number;
}

/** "host:port", "http://host:port" or a full ".../graphql" URL → the GraphQL endpoint. */
export const graphqlEndpoint = (address: string): string => {
  const text = address.trim();
  if (!text) throw new UserError('the oap-lite address is empty (use --oap http://host:12800)');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UserError(`"${address}" is not a valid oap-lite address (expected something like http://127.0.0.1:12800)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`"${address}" is not an http(s) address (expected something like http://127.0.0.1:12800)`);
  }
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/graphql';
  return url.toString();
};

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
};

/** The system error code (ECONNREFUSED...) or the innermost message of a failed fetch. */
const failureReason = (err: unknown): string => {
  let e: any = err;
  let message = err instanceof Error ? err.message : String(err);
  for (let i = 0; e && i < 5; i++, e = e.cause ?? e.errors?.[0]) {
    if (typeof e.code === 'string' && REASONS[e.code]) return REASONS[e.code]!;
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
    if (typeof e.message === 'string' && e.message) message = e.message;
  }
  return message;
};

export class OapClient {
  readonly endpoint: string;
  private readonly timeoutMs: number;

  constructor(
    readonly address: string,
    options: ClientOptions = {},
  ) {
    this.endpoint = graphqlEndpoint(address);
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Sends one of the generated operations; resolves its data, typed by the operation. */
  async request<T, V extends Record<string, unknown>>(operation: Operation<T, V>, variables: V): Promise<T> {
    const query: string = operation;
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      if ((err as Error)?.name === 'TimeoutError') {
        throw new UserError(`oap-lite at ${this.endpoint} did not answer within ${Math.round(this.timeoutMs / 1000)} s`);
      }
      const reason = failureReason(err);
      throw new UserError(
        `cannot reach oap-lite at ${this.endpoint}: ${reason}. Is it running? Set the address with --oap or SW_OAP_ADDRESS.`,
      );
    }
    const text = await response.text();
    let body: { data?: T; errors?: Array<{ message: string }> } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!body || typeof body !== 'object') {
      throw new UserError(
        `${this.endpoint} answered HTTP ${response.status} ${response.statusText} without a GraphQL response: is this oap-lite's GraphQL address?`,
      );
    }
    if (body.errors?.length) {
      throw new UserError(`oap-lite refused the request: ${body.errors.map((e) => e.message).join('; ')}`);
    }
    if (!response.ok || body.data === undefined || body.data === null) {
      throw new UserError(`oap-lite at ${this.endpoint} answered HTTP ${response.status} ${response.statusText} with no data`);
    }
    return body.data;
  }
}
