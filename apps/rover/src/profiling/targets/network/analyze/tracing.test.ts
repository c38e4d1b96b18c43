import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TraceHeaderError, traceContextOf } from './tracing';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const headers = (h: Record<string, string>) => new Map(Object.entries(h));
// As the SkyWalking Java agent sends it: 1-traceId-segmentId-spanId-service-instance-endpoint-peer
const SW8 = [
  '1',
  b64('a1b2c3.44.17640000000010001'),
  b64('d4e5f6.55.17640000000010002'),
  '3',
  b64('svc'),
  b64('inst'),
  b64('/err'),
  b64('10.0.0.1:80'),
].join('-');

test('sw8: base64 trace and segment ids, the span number as is', () => {
  assert.deepEqual(traceContextOf(headers({ sw8: SW8 })), {
    provider: 'skywalking',
    traceId: 'a1b2c3.44.17640000000010001',
    segmentId: 'd4e5f6.55.17640000000010002',
    spanId: '3',
    referenceType: 'SKYWALKING',
  });
});

test('sw8 wins over b3 and traceparent; malformed sw8 is an error, not a fallback', () => {
  const all = {
    sw8: SW8,
    b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };
  assert.equal(traceContextOf(headers(all))?.provider, 'skywalking');
  assert.throws(() => traceContextOf(headers({ sw8: '1-abc-def' })), TraceHeaderError);
  assert.throws(
    () => traceContextOf(headers({ sw8: SW8.replace(b64('svc'), 'not base64!') })),
    /field 5 is not base64/,
  );
});

test('b3 single header, then x-b3-traceid/x-b3-spanid', () => {
  assert.deepEqual(
    traceContextOf(headers({ b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90' })),
    {
      provider: 'zipkin',
      traceId: '80f198ee56343ba864fe8b2a57d3eff7',
      segmentId: '',
      spanId: 'e457b5a2e4d86bd1',
      referenceType: 'ZIPKIN',
    },
  );
  // a bare sampling decision carries no ids: the multi headers are used
  const ctx = traceContextOf(
    headers({ b3: '1', 'x-b3-traceid': '463ac35c9f6413ad', 'x-b3-spanid': 'a2fb4a1d1a96d312' }),
  );
  assert.deepEqual([ctx?.traceId, ctx?.spanId], ['463ac35c9f6413ad', 'a2fb4a1d1a96d312']);
  assert.equal(
    traceContextOf(headers({ 'x-b3-traceid': '463ac35c9f6413ad' })),
    undefined,
    'trace id alone is not enough',
  );
});

test('W3C traceparent (our addition) is tried last', () => {
  const ctx = traceContextOf(headers({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }));
  assert.deepEqual(ctx, {
    provider: 'w3c',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    segmentId: '',
    spanId: 'b7ad6b7169203331',
    referenceType: 'ZIPKIN',
  });
  assert.throws(
    () => traceContextOf(headers({ traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' })),
    /all-zero/,
  );
  assert.throws(() => traceContextOf(headers({ traceparent: 'garbage' })), TraceHeaderError);
});

test('no trace header: no context', () => {
  assert.equal(traceContextOf(headers({ host: 'a', 'user-agent': 'curl/7.88.1' })), undefined);
});
