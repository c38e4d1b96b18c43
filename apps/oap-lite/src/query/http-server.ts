/**
 * The REST port (12800): GraphQL at /graphql as the stock UI posts it, the status paths the UI
 * calls, a health check and Prometheus metrics. Every GraphQL document is bounded before it runs
 * (depth, tokens, fields, aliases, analyses: cost-limits.ts) and every analysis while it runs
 * (analysis-scope.ts). Authentication is optional (http-auth.ts).
 */
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { Resolvers } from '@swlite/protocol/graphql';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readTlsFile } from '../config';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { AnalysisGate } from './analysis-gate';
import { AnalysisScope } from './analysis-scope';
import { configDump } from './config-dump';
import type { QueryContext, ServerContext } from './context';
import { costLimitRule } from './cost-limits';
import { authenticated, challenges, httpAuthenticationEnabled, OPEN_PATHS } from './http-auth';
import { buildExecutableSchema } from './schema';

export interface HttpServerOptions {
  context: ServerContext;
  log: Logger;
  extraResolvers?: Array<Resolvers<QueryContext>>;
}

const metricsPlugin = (context: ServerContext): Plugin => ({
  onExecute: ({ args }) => ({
    onExecuteDone: ({ result }) => {
      const operation = args.operationName ?? 'anonymous';
      const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
      context.metrics.graphqlRequests.inc({ operation, outcome: failed ? 'error' : 'ok' });
    },
  }),
});

const costLimitsPlugin = (context: ServerContext): Plugin => ({
  onValidate: ({ addValidationRule }) => {
    const { maxAliases, maxFields, maxAnalysesPerRequest } = context.config.query;
    addValidationRule(costLimitRule({ maxAliases, maxFields, maxAnalyses: maxAnalysesPerRequest }));
  },
});

/** The GraphQL server's log arguments as one message (the logger bounds and cleans it). */
const logLine = (parts: unknown[]): string => parts.map(String).join(' ');

/** Plain HTTP, or HTTPS when SW_CORE_REST_SSL_ENABLED. */
export type RestServer = Server | HttpsServer;

export const createHttpServer = (options: HttpServerOptions): RestServer => {
  const { context, log } = options;
  const { query } = context.config;
  const gate = new AnalysisGate(query.maxConcurrentAnalyses, query.maxQueuedAnalyses);
  const analysisLimits = { maxElements: query.maxAnalysisElements, maxResponseBytes: query.maxAnalysisResponseBytes };
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }, QueryContext>({
    schema: buildExecutableSchema(options.extraResolvers),
    context: ({ request }): QueryContext => ({
      ...context,
      analysis: new AnalysisScope({
        gate,
        limits: analysisLimits,
        timeoutSeconds: query.analysisTimeoutSeconds,
        requestSignal: request.signal,
      }),
    }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: false,
    logging: {
      debug: (...a) => log.debug(logLine(a)),
      info: (...a) => log.info(logLine(a)),
      warn: (...a) => log.warn(logLine(a)),
      error: (...a) => log.error(logLine(a)),
    },
    plugins: [
      maxDepthPlugin({ n: context.config.query.maxDepth, exposeLimits: true }),
      maxTokensPlugin({ n: context.config.query.maxQueryComplexity, exposeLimits: true }),
      costLimitsPlugin(context),
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

  const auth = context.config.rest.authentication;
  const authRequired = httpAuthenticationEnabled(auth);

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (authRequired && !OPEN_PATHS.has(path) && !authenticated(auth, req)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': challenges(auth) });
      return void res.end(JSON.stringify({ error: 'authentication required (see SW_CORE_REST_AUTHENTICATION)' }));
    }
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
        return void res.end(configDump(context.config, context.config.debugging.maskingKeywords));
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
  };

  const { tls } = context.config.rest;
  if (!tls.enabled) return createServer(handler);
  return createHttpsServer(
    {
      key: readTlsFile(tls.keyPath, 'SW_CORE_REST_SSL_KEY_PATH'),
      cert: readTlsFile(tls.certChainPath, 'SW_CORE_REST_SSL_CERT_CHAIN_PATH'),
    },
    handler,
  );
};
