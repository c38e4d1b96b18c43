import type { Resolvers } from '@swlite/protocol/graphql';
import { serverTimezone } from '../../core/duration';
import type { QueryContext } from '../context';
import { OAP_LITE_VERSION } from '../../version';

export const appResolvers: Resolvers<QueryContext> = {
  Query: {
    version: () => OAP_LITE_VERSION,
    // The Java OAP's health checker: score 0 and no unhealthy module named ("") when healthy; an
    // oap-lite that answers GraphQL has its storage and receivers up (startup fails otherwise).
    checkHealth: () => ({ score: 0, details: '' }),
    getTimeInfo: () => ({ timezone: serverTimezone(), currentTimestamp: Date.now() }),
    getRecordsTTL: (_p, _a, { config }) => {
      const d = config.ttl.recordDays;
      return {
        normal: d,
        trace: d,
        zipkinTrace: d,
        log: d,
        browserErrorLog: d,
        coldNormal: -1,
        coldTrace: -1,
        coldZipkinTrace: -1,
        coldLog: -1,
        coldBrowserErrorLog: -1,
      };
    },
    getMetricsTTL: (_p, _a, { config }) => {
      const d = config.ttl.metricsDays;
      return { metadata: d, minute: d, hour: d, day: d, coldMinute: -1, coldHour: -1, coldDay: -1 };
    },
  },
};
