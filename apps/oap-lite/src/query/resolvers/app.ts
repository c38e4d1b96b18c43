import type { Resolvers } from '@swlite/protocol/graphql';
import { serverTimezone } from '../../core/duration';
import type { QueryContext } from '../context';
import { OAP_LITE_VERSION } from '../../version';

export const appResolvers: Resolvers<QueryContext> = {
  Query: {
    version: () => OAP_LITE_VERSION,
    // As the Java OAP's health checker scores: 0 and no details when healthy; more, with the reason
    // (storage/write-health.ts), when storage cannot write or does not answer.
    checkHealth: async (_p, _a, { health }) => {
      const h = await health();
      return { score: h.writable ? 0 : h.reachable ? 1 : 2, details: h.details };
    },
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
