/**
 * Random GraphQL against a live oap-lite (npm run chaos -w @swlite/oap-lite): for
 * CHAOS_GRAPHQL_SECONDS (30) four clients send the stock UI's documents (the shared conformance
 * set) with variables drawn from the server's own schema, valid and invalid (wrong types, huge and
 * negative numbers, nulls for required values, unknown and very long IDs, deeply nested lists),
 * and mutated documents (hundreds of aliases, deep nesting, fragment cycles, cut or flipped text,
 * huge bodies, bodies that are not GraphQL at all). Proves the server answers every request
 * within 30 s with data or a clear GraphQL error, never a 5xx nor a hang, stays healthy, and
 * keeps its memory bounded. CHAOS_SEED replays a run (the seed is printed).
 */
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  parse,
  print,
  typeFromAST,
  type FieldNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import {
  AgentClient,
  createTask,
  graphqlOk,
  hostProcess,
  loadUiDocuments,
  startOap,
  type OapProcess,
} from '@swlite/testkit';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chaosSeed, seededRandom } from './random';

const SECONDS = Number(process.env.CHAOS_GRAPHQL_SECONDS ?? 30);
const SEED = chaosSeed();
const CLIENTS = 4;
const ANSWER_WITHIN_MS = 30_000;

const random = seededRandom(SEED);
const { int, pick, chance } = random;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Values of every kind a client might send where a scalar goes, most of them wrong somewhere. */
const wildScalars: unknown[] = [
  0,
  -1,
  2 ** 31,
  -(2 ** 53),
  2 ** 63,
  1e308,
  -1e308,
  0.5,
  '',
  'x'.repeat(100_000),
  '\u0000\ud800',
  '2026-12-07 1200',
  '9999-99-99 9999',
  true,
  [],
  {},
  [[[[[[[[[[1]]]]]]]]]],
];

describe('random GraphQL against a live oap-lite', () => {
  let oap: OapProcess;
  let schema: GraphQLSchema;
  const ids: string[] = [];

  before(async () => {
    oap = await startOap({ SW_LOG_LEVEL: 'warn' });
    const agent = new AgentClient(oap.grpcAddress, 'fuzz-rover');
    const reported = await agent.reportProcesses([
      hostProcess('fuzz-a', { service: 'fuzz-service', pid: 11 }),
      hostProcess('fuzz-b', { service: 'fuzz-service', pid: 12 }),
    ]);
    agent.close();
    ids.push(...reported.processes.map((p) => p.processId));
    ids.push(`${Buffer.from('fuzz-service').toString('base64')}.1`);
    ids.push((await createTask(oap.graphqlUrl, 'fuzz-service', 'ON_CPU', 60)).taskId);
    const introspection = await graphqlOk(oap.graphqlUrl, getIntrospectionQuery());
    schema = buildClientSchema(introspection as Parameters<typeof buildClientSchema>[0]);
  });
  after(async () => {
    await oap?.cleanup();
  });

  /** A value for a variable of this type: valid-ish with probability `sane`, else anything. */
  const valueFor = (type: GraphQLInputType, sane: number, depth = 0): unknown => {
    if (!chance(sane)) {
      if (chance(0.1)) return null;
      if (chance(0.05)) return Array.from({ length: 20_000 }, () => pick(wildScalars.slice(0, 9)));
      return pick(wildScalars);
    }
    if (isNonNullType(type)) return valueFor(type.ofType, sane, depth);
    if (chance(0.05)) return null;
    if (isListType(type)) return Array.from({ length: int(4) }, () => valueFor(type.ofType, sane, depth + 1));
    if (isEnumType(type)) return pick(type.getValues()).value as unknown;
    if (isInputObjectType(type)) {
      if (depth > 6) return {};
      return Object.fromEntries(
        Object.values(type.getFields())
          .filter((f) => isNonNullType(f.type) || chance(0.6))
          .map((f) => [f.name, valueFor(f.type, sane, depth + 1)]),
      );
    }
    switch (getNamedType(type).name) {
      case 'ID':
        return chance(0.6)
          ? pick(ids)
          : pick(['no-such-id', '', 'AAAA.1', 'x'.repeat(5_000), '0_0', 'ZmFrZQ==.1_ZmFrZQ==']);
      case 'Int':
      case 'Long':
        return pick([0, 1, 20, 100, Date.now(), Date.now() + 3_600_000, -5, 2 ** 31 - 1]);
      case 'Float':
        return pick([0, 0.5, 1e3]);
      case 'Boolean':
        return chance(0.5);
      default: {
        const now = new Date();
        const p = (n: number) => String(n).padStart(2, '0');
        const minute = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}${p(now.getMinutes())}`;
        return pick([minute, 'ON_CPU', 'OS_LINUX', 'fuzz-service', 'fuzz-a', '', 'avg(service_cpm)', 'nope']);
      }
    }
  };

  const variablesFor = (op: OperationDefinitionNode, sane: number): Record<string, unknown> =>
    Object.fromEntries(
      (op.variableDefinitions ?? []).flatMap((v) => {
        const type = typeFromAST(schema, v.type as Parameters<typeof typeFromAST>[1]) as GraphQLInputType | undefined;
        if (!type) return [];
        if (!isNonNullType(type) && chance(0.3)) return [];
        return [[v.variable.name.value, valueFor(type, sane)]];
      }),
    );

  /** The document with its first top-level field repeated under `n` aliases. */
  const withAliases = (op: OperationDefinitionNode, n: number): string => {
    const first = op.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD);
    if (!first) return print(op);
    const copies = Array.from(
      { length: n },
      (_, i) => ({ ...first, alias: { kind: Kind.NAME, value: `a${i}` } }) as FieldNode,
    );
    return print({ ...op, selectionSet: { ...op.selectionSet, selections: copies } });
  };

  const mutatedText = (text: string): string => {
    const at = int(text.length);
    switch (int(4)) {
      case 0:
        return text.slice(0, at);
      case 1:
        return text.slice(0, at) + String.fromCharCode(int(128)) + text.slice(at + 1);
      case 2:
        return text.slice(0, at) + pick(['{', '}', '(', '$', '...', '@skip', '"', '#']) + text.slice(at);
      default:
        return text + text;
    }
  };

  interface Request {
    kind: string;
    body: string;
    contentType?: string;
  }

  const nextRequest = (documents: Array<{ name: string; op: OperationDefinitionNode; text: string }>): Request => {
    const doc = pick(documents);
    const json = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
    switch (int(12)) {
      case 0:
      case 1:
      case 2:
        return { kind: `${doc.name}:sane`, body: json(doc.text, variablesFor(doc.op, 0.97)) };
      case 3:
      case 4:
        return { kind: `${doc.name}:wild-variables`, body: json(doc.text, variablesFor(doc.op, 0.6)) };
      case 5:
        return {
          kind: `${doc.name}:aliases`,
          body: json(withAliases(doc.op, 1 + int(300)), variablesFor(doc.op, 0.97)),
        };
      case 6:
        return { kind: `${doc.name}:mutated-text`, body: json(mutatedText(doc.text), variablesFor(doc.op, 0.9)) };
      case 7: {
        const depth = pick([20, 200, 2_000]);
        return { kind: `deep-selection-${depth}`, body: json(`{ ${'a { '.repeat(depth)}b${' }'.repeat(depth)} }`) };
      }
      case 8: {
        const depth = pick([100, 1_000, 5_000]);
        return {
          kind: `deep-list-variable-${depth}`,
          body: `{"query":${JSON.stringify(doc.text)},"variables":{"${doc.op.variableDefinitions?.[0]?.variable.name.value ?? 'x'}":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
        };
      }
      case 9:
        return {
          kind: 'fragment-cycle',
          body: json('query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }'),
        };
      case 10:
        return { kind: 'huge-document', body: json(`query { ${'__typename '.repeat(200_000)} }`) };
      default:
        return pick<Request>([
          { kind: 'not-json', body: '{"query": "{ __typename }"' },
          { kind: 'no-query', body: '{"variables": {}}' },
          { kind: 'query-not-string', body: '{"query": 42}' },
          { kind: 'batch', body: JSON.stringify([{ query: '{ __typename }' }, { query: doc.text }]) },
          { kind: 'unknown-operation', body: JSON.stringify({ query: doc.text, operationName: 'nope' }) },
          { kind: 'form-body', body: 'query=%7B__typename%7D', contentType: 'application/x-www-form-urlencoded' },
          { kind: 'text-body', body: doc.text, contentType: 'text/plain' },
        ]);
    }
  };

  /** Why an answer is not acceptable (null when it is), and whether it carried data without errors. */
  const judge = async (res: Response): Promise<{ problem: string | null; data: boolean }> => {
    const text = await res.text();
    const bad = (problem: string) => ({ problem, data: false });
    if (res.status >= 500) return bad(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    let body: { data?: unknown; errors?: Array<{ message?: unknown }> } | unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return bad(`HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    const results = Array.isArray(body) ? body : [body];
    let data = true;
    for (const r of results as Array<{ data?: unknown; errors?: Array<{ message?: unknown }> }>) {
      const errors = r?.errors;
      if (
        errors !== undefined &&
        (!Array.isArray(errors) || errors.some((e) => typeof e?.message !== 'string' || !e.message))
      ) {
        return bad(`errors without messages: ${text.slice(0, 300)}`);
      }
      if (!errors?.length && (r?.data === undefined || r.data === null))
        return bad(`neither data nor errors: ${text.slice(0, 300)}`);
      if (errors?.length) data = false;
    }
    return { problem: null, data };
  };

  it(`answers every request for ${SECONDS} s with data or a GraphQL error, stays healthy, memory bounded`, async (t) => {
    const documents = [...loadUiDocuments()].flatMap(([name, text]) => {
      try {
        const op = parse(text).definitions.find(
          (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
        );
        return op ? [{ name, op, text }] : [];
      } catch {
        return [];
      }
    });
    assert.ok(documents.length > 50, `the stock UI's documents are here (${documents.length})`);
    const pid = oap.child.pid!;
    const rssStart = rssMiB(pid);
    let rssPeak = rssStart;
    const meter = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 250);
    const failures: string[] = [];
    const kinds = new Map<string, { n: number; data: number; maxMs: number }>();
    let requests = 0;
    let slowest = 0;
    const deadline = Date.now() + SECONDS * 1000;
    const client = async () => {
      while (Date.now() < deadline && failures.length < 20) {
        const req = nextRequest(documents);
        const family = req.kind.split(':').pop()!;
        const started = performance.now();
        let verdict: string | null;
        let data = false;
        try {
          const res = await fetch(oap.graphqlUrl, {
            method: 'POST',
            headers: { 'content-type': req.contentType ?? 'application/json', accept: 'application/json' },
            body: req.body,
            signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
          });
          // A body that is not GraphQL over HTTP at all may be turned away by its media type alone.
          const mediaRefused = req.contentType !== undefined && !req.contentType.includes('json') && res.status === 415;
          ({ problem: verdict, data } = mediaRefused ? { problem: null, data: false } : await judge(res));
        } catch (err) {
          verdict = `no answer: ${(err as Error).message}`;
        }
        const ms = performance.now() - started;
        slowest = Math.max(slowest, ms);
        requests++;
        const k = kinds.get(family) ?? { n: 0, data: 0, maxMs: 0 };
        kinds.set(family, { n: k.n + 1, data: k.data + (data ? 1 : 0), maxMs: Math.max(k.maxMs, ms) });
        if (verdict) failures.push(`${req.kind} (${req.body.length} bytes, seed ${SEED}): ${verdict}`);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    clearInterval(meter);
    const health = await fetch(`http://127.0.0.1:${oap.httpPort}/healthcheck`);
    const rssEnd = rssMiB(pid);
    const table = [...kinds]
      .sort((a, b) => b[1].n - a[1].n)
      .map(([k, v]) => `${k} ${v.n} (${v.data} with data, slowest ${v.maxMs.toFixed(0)} ms)`)
      .join('; ');
    const figures =
      `seed ${SEED}: ${requests} requests in ${SECONDS} s by ${CLIENTS} clients, slowest ${slowest.toFixed(0)} ms; ` +
      `oap-lite RSS ${rssStart.toFixed(0)} MiB at the start, peak ${rssPeak.toFixed(0)}, end ${rssEnd.toFixed(0)}; ${table}`;
    t.diagnostic(figures);
    console.log(figures);
    assert.deepEqual(failures, []);
    assert.ok(
      (kinds.get('sane')?.data ?? 0) > 0,
      'some well-formed requests got data (the run exercised the resolvers)',
    );
    assert.equal(health.status, 200, 'healthy after the run');
    const still = await graphqlOk(oap.graphqlUrl, 'query { listServices(layer: "OS_LINUX") { name } }');
    assert.deepEqual(still.listServices, [{ name: 'fuzz-service' }], 'still answers a plain query');
    assert.ok(rssPeak < rssStart + 768, `RSS peaked at ${rssPeak.toFixed(0)} MiB (start ${rssStart.toFixed(0)} MiB)`);
  });
});
