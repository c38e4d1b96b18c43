/**
 * What oap-lite answers for the parts of the query protocol it has no data for, as the Java OAP
 * answers them without data (e2e/src/conformance measured them): the stock UI reads these lists
 * and objects without checking for null.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { graphqlOk } from '@swlite/testkit';
import { startTestOap, type TestOap } from '../testing/start';

let oap: TestOap;
before(async () => {
  oap = await startTestOap();
});
after(async () => {
  await oap?.cleanup();
});

const d = '{ start: "2026-12-07 1400", end: "2026-12-07 1500", step: MINUTE }';

test('lists are empty, result objects are there with empty lists inside, lookups are null', async () => {
  const data = await graphqlOk(
    oap.graphqlUrl,
    `{
      checkHealth { score details }
      getAlarm(duration: ${d}, paging: { pageNum: 1, pageSize: 10 }) { msgs { id } }
      queryAlarmTagAutocompleteKeys(duration: ${d})
      queryTraceTagAutocompleteKeys(duration: ${d})
      queryLogTagAutocompleteValues(tagKey: "level", duration: ${d})
      queryBasicTraces(condition: { queryDuration: ${d}, traceState: ALL, queryOrder: BY_START_TIME, paging: { pageNum: 1, pageSize: 5 } }) { traces { key: segmentId } }
      queryTrace(traceId: "none") { spans { spanId } }
      queryLogs(condition: { paging: { pageNum: 1, pageSize: 5 } }) { logs { content } }
      queryEvents(condition: { paging: { pageNum: 1, pageSize: 5 } }) { events { uuid } }
      getServicesTopology(serviceIds: ["x.1"], duration: ${d}) { nodes { id } calls { id } }
      listContainers(condition: { serviceInstanceId: "x" }) { containers }
      getEndpointInfo(endpointId: "ZGVtbw==.1_Lw==") { id name serviceId serviceName }
      searchService(serviceCode: "none") { id }
    }`,
  );
  assert.deepEqual(data, {
    checkHealth: { score: 0, details: '' },
    getAlarm: { msgs: [] },
    queryAlarmTagAutocompleteKeys: [],
    queryTraceTagAutocompleteKeys: [],
    queryLogTagAutocompleteValues: [],
    queryBasicTraces: { traces: [] },
    queryTrace: { spans: [] },
    queryLogs: { logs: [] },
    queryEvents: { events: [] },
    getServicesTopology: { nodes: [], calls: [] },
    listContainers: { containers: [] },
    getEndpointInfo: { id: 'ZGVtbw==.1_Lw==', name: '/', serviceId: 'ZGVtbw==.1', serviceName: 'demo' },
    searchService: null,
  });
});
