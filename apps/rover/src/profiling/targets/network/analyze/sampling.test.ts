import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Http1Connection } from './http1/connection-parser';
import type { HttpExchange } from './http1/message';
import {
  classify,
  HttpSampler,
  parseNetworkSamplings,
  RULE_CACHE_SIZE,
  SamplingConfigError,
  SamplingRules,
  type SamplingRule,
} from './sampling';

const SW8 = `1-${Buffer.from('t1').toString('base64')}-${Buffer.from('s1').toString('base64')}-0-${['a', 'b', 'c', 'd'].map((s) => Buffer.from(s).toString('base64')).join('-')}`;

/** One exchange parsed from bytes, the response's last byte `ms` after the request's first. */
function exchange(target: string, status: number, ms: number, traceHeader = `sw8: ${SW8}\r\n`): HttpExchange {
  let out: HttpExchange | undefined;
  const c = new Http1Connection((e) => (out = e));
  c.push({
    direction: 'ingress',
    data: Buffer.from(`GET ${target} HTTP/1.1\r\nHost: a\r\n${traceHeader}\r\n`),
    startNs: 1_000,
    endNs: 2_000,
  });
  c.push({
    direction: 'egress',
    data: Buffer.from(`HTTP/1.1 ${status} X\r\nContent-Length: 0\r\n\r\n`),
    startNs: 3_000,
    endNs: 1_000 + ms * 1e6,
  });
  return out!;
}

// What OAP 10.2 sends for createEBPFNetworkProfiling(samplings: [{minDuration: 1000, when4xx: false,
// when5xx: true, settings: {requireCompleteRequest: true, requireCompleteResponse: true}}]), with
// a correct when4xx.
const OAP_JSON =
  '{"NetworkSamplings":[{"URIRegex":null,"MinDuration":1000,"When4xx":false,"When5xx":true,' +
  '"Settings":{"RequireCompleteRequest":true,"MaxRequestSize":null,"RequireCompleteResponse":true,"MaxResponseSize":2048}}]}';

test('ExtensionConfigJSON: PascalCase rules; null keeps the rules (keep-alive commands send it)', () => {
  const rules = parseNetworkSamplings(OAP_JSON);
  assert.deepEqual(rules, [
    {
      uriRegex: undefined,
      minDurationMs: 1000,
      when4xx: false,
      when5xx: true,
      settings: {
        requireCompleteRequest: true,
        maxRequestSize: undefined,
        requireCompleteResponse: true,
        maxResponseSize: 2048,
      },
    },
  ]);
  assert.equal(parseNetworkSamplings('null'), null);
  assert.equal(parseNetworkSamplings(''), null);
  assert.equal(parseNetworkSamplings('{}'), null);
  const installed = new SamplingRules();
  installed.update(rules);
  installed.update(parseNetworkSamplings('null'));
  installed.update([]);
  assert.equal(installed.ruleFor('/x')?.minDurationMs, 1000);
});

test('ExtensionConfigJSON: bad values are clear errors', () => {
  assert.throws(() => parseNetworkSamplings('{"NetworkSamplings":'), SamplingConfigError);
  assert.throws(() => parseNetworkSamplings('{"NetworkSamplings":{}}'), /NetworkSamplings must be an array/);
  assert.throws(
    () => parseNetworkSamplings('{"NetworkSamplings":[{"MinDuration":"1s"}]}'),
    /NetworkSamplings\[0\]\.MinDuration must be an integer/,
  );
  assert.throws(
    () => parseNetworkSamplings('{"NetworkSamplings":[{"Settings":{"RequireCompleteRequest":"yes"}}]}'),
    /Settings\.RequireCompleteRequest must be a boolean/,
  );
});

test('the real When4xx is used (not When5xx as the OAP bug would make it)', () => {
  const [rule] = parseNetworkSamplings('{"NetworkSamplings":[{"When4xx":true,"When5xx":false}]}')!;
  assert.equal(classify(rule!, 404, 1), 'status_4xx');
  assert.equal(classify(rule!, 503, 1), undefined);
  const [other] = parseNetworkSamplings(OAP_JSON)!;
  assert.equal(classify(other!, 404, 1), undefined, 'When4xx false: a fast 404 is not sampled');
  assert.equal(classify(other!, 404, 1000), 'slow', 'but a slow one is');
});

test('classification is exclusive: 5xx, then 4xx, then slow', () => {
  const rule: SamplingRule = { minDurationMs: 100, when4xx: true, when5xx: true };
  assert.equal(classify(rule, 500, 5000), 'status_5xx');
  assert.equal(classify(rule, 404, 5000), 'status_4xx');
  assert.equal(classify(rule, 200, 100), 'slow');
  assert.equal(classify(rule, 200, 99), undefined);
  assert.equal(classify({ when4xx: false, when5xx: false }, 200, 1e9), undefined, 'no MinDuration: never slow');
});

test('rule choice: the last matching regex wins, else the default rule; results cached (LRU of 200)', () => {
  const rules = new SamplingRules();
  rules.update([
    { uriRegex: '^/api/', minDurationMs: 10, when4xx: false, when5xx: false },
    { minDurationMs: 1000, when4xx: false, when5xx: false },
    { uriRegex: '^/api/orders', minDurationMs: 20, when4xx: false, when5xx: false },
    { minDurationMs: 5, when4xx: false, when5xx: false },
    { uriRegex: '([', minDurationMs: 1, when4xx: false, when5xx: false },
  ]);
  assert.equal(rules.ruleFor('/api/orders/1')?.minDurationMs, 20);
  assert.equal(rules.ruleFor('/api/users')?.minDurationMs, 10);
  assert.equal(rules.ruleFor('/index.html')?.minDurationMs, 1000);
  assert.deepEqual(
    rules.rejected.map((r) => r.reason.split(':')[0]),
    ['a default rule is already installed', 'bad URI regex'],
  );
  for (let i = 0; i < 500; i++) rules.ruleFor(`/u/${i}`);
  assert.equal(rules.cachedUris, RULE_CACHE_SIZE);
  // rules added later take part (rules accumulate)
  rules.update([{ uriRegex: '^/api/users', minDurationMs: 30, when4xx: false, when5xx: false }]);
  assert.equal(rules.ruleFor('/api/users')?.minDurationMs, 30);
});

test('sampler: only traced requests, URI without query, top 10 slowest per class', () => {
  const rules = new SamplingRules();
  rules.update(parseNetworkSamplings('{"NetworkSamplings":[{"MinDuration":100,"When4xx":true,"When5xx":true}]}'));
  const sampler = new HttpSampler();
  assert.equal(sampler.consider(rules, exchange('/slow?id=1', 200, 1500, '')), undefined, 'no trace header');
  assert.equal(sampler.consider(rules, exchange('/slow', 200, 1500, 'sw8: broken\r\n')), undefined);
  assert.equal(sampler.badTraceHeaders, 1);
  const s = sampler.consider(rules, exchange('/slow?id=1', 200, 1500));
  assert.deepEqual([s?.uri, s?.reason, s?.durationMs, s?.trace.traceId], ['/slow', 'slow', 1500, 't1']);
  for (let i = 0; i < 15; i++) sampler.consider(rules, exchange(`/e${i}`, 500, 100 + i));
  sampler.consider(rules, exchange('/b3', 404, 1, 'b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n'));
  const other = new HttpSampler();
  other.consider(rules, exchange('/e-slowest', 502, 9000));
  sampler.mergeFrom(other);
  const drained = sampler.drain();
  assert.deepEqual(
    drained.map((d) => `${d.reason} ${d.uri}`),
    [
      'slow /slow',
      'status_4xx /b3',
      'status_5xx /e-slowest',
      ...Array.from({ length: 9 }, (_, k) => `status_5xx /e${14 - k}`),
    ],
  );
  assert.equal(drained[1]!.trace.provider, 'zipkin');
  assert.deepEqual(sampler.drain(), [], 'a flush empties the sampler');
});
