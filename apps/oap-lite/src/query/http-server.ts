/**
 * The REST port (12800): GraphQL at /graphql as the stock UI posts it, the status paths the UI
 * calls, a health check and Prometheus metrics.
 */
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { Resolvers } from '@swlite/protocol/graphql';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { QueryContext } from './context';
import { buildExecutableSchema } from './schema';

export interface HttpServerOptions {
  context: QueryContext;
  log: Logger;
  extraResolvers?: Array<Resolvers<QueryContext>>;
}

const metricsPlugin = (context: QueryContext): Plugin => ({
  onExecute: ({ args }) => ({
    onExecuteDone: ({ result }) => {
      const operation = args.operationName ?? 'anonymous';
      const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
      context.metrics.graphqlRequests.inc({ operation, outcome: failed ? 'error' : 'ok' });
    },
  }),
});

const SECRET_KEYS = ['password', 'token', 'authentication', 'secret'];

const configDump = (context: QueryContext): string => {
  const lines: string[] = [];
  const walk = (prefix: string, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
      return;
    }
    const masked = SECRET_KEYS.some((s) => prefix.toLowerCase().includes(s)) && value !== '' ? '******' : String(value);
    lines.push(`${prefix}=${masked}`);
  };
  walk('', context.config);
  return lines.sort().join('\n') + '\n';
};

export const createHttpServer = (options: HttpServerOptions): Server => {
  const { context, log } = options;
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, QueryContext>({
    schema: buildExecutableSchema(options.extraResolvers),
    context: () => context,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: false,
    logging: {
      debug: (...a) => log.debug(a.map(String).join(' ')),
      info: (...a) => log.info(a.map(String).join(' ')),
      warn: (...a) => log.warn(a.map(String).join(' ')),
      error: (...a) => log.error(a.map(String).join(' ')),
    },
    plugins: [
      maxDepthPlugin({ n: context.config.query.maxDepth, exposeLimits: true }),
      maxTokensPlugin({ n: context.config.query.maxQueryComplexity, exposeLimits: true }),
      metricsPlugin(context),
      // Compiled execution: an analysis answer has tens of thousands of tree elements, which
      // graphql-js would complete one resolver call at a time (about 3x slower end to end).
      useGraphQlJit(),
    ],
  });

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/graphql') return void yoga(req, res);
    if (req.method !== 'GET') return json(res, 404, { error: `no route for ${req.method} ${path}` });
    switch (path) {
      case '/status/cluster/nodes':
        return json(res, 200, {
          nodes: [{ host: req.socket.localAddress ?? '127.0.0.1', port: context.config.grpc.port, self: true }],
        });
      case '/status/config/ttl': {
        const { recordDays: r, metricsDays: m } = context.config.ttl;
        return json(res, 200, {
          metrics: { minute: m, hour: m, day: m, coldMinute: -1, coldHour: -1, coldDay: -1 },
          records: {
            normal: r,
            trace: r,
            zipkinTrace: r,
            log: r,
            browserErrorLog: r,
            coldNormal: -1,
            coldTrace: -1,
            coldZipkinTrace: -1,
            coldLog: -1,
            coldBrowserErrorLog: -1,
          },
        });
      }
      case '/debugging/config/dump':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end(configDump(context));
      case '/healthcheck':
      case '/health':
        return void context
          .health()
          .then((h) =>
            h.writable
              ? json(res, 200, { status: 'UP' })
              : json(res, 503, { status: 'DOWN', reachable: h.reachable, writable: h.writable, details: h.details }),
          )
          .catch((err: Error) => json(res, 503, { status: 'DOWN', details: err.message }));
      case '/metrics':
        return void context.metrics.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { 'content-type': context.metrics.registry.contentType });
            res.end(text);
          })
          .catch((err: Error) => json(res, 500, { error: err.message }));
      default:
        return json(res, 404, { error: `no route for GET ${path}` });
    }
  });
};
