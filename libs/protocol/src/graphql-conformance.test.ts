// Conformance: our query-protocol schema must be type-identical to upstream SkyWalking's, and every
// GraphQL document the stock UI sends must validate against it.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  astFromValue,
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  parse,
  print,
  validate,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { buildSkyWalkingSchema, typeDefs } from './graphql';

// ---------------------------------------------------------------------------------------------
// Locating ../shared/conformance

/** The conformance directory: $SWLITE_CONFORMANCE_DIR, else the nearest ancestor's shared/conformance. */
function findConformanceDir(): string | undefined {
  const fromEnv = process.env.SWLITE_CONFORMANCE_DIR;
  if (fromEnv) return existsSync(fromEnv) ? resolve(fromEnv) : undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared', 'conformance');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const conformanceDir = findConformanceDir();
const upstreamDir = conformanceDir && join(conformanceDir, 'upstream', 'query-protocol');
const operationsFile = conformanceDir && join(conformanceDir, 'ui-operations.json');
const inCI = process.env.CI === 'true';

/** A skip reason when a reference file is absent; under CI=true, absence is a failure instead. */
function skipUnless(path: string | undefined, what: string): string | false {
  if (path && existsSync(path)) return false;
  const reason =
    `${what} not found (looked for shared/conformance above ${dirname(fileURLToPath(import.meta.url))}` +
    ' and in $SWLITE_CONFORMANCE_DIR)';
  if (inCI) {
    it(`conformance data present (${what})`, () => assert.fail(`${reason}; CI=true requires it`));
    return `${reason} (would fail under CI=true)`;
  }
  return reason;
}

// ---------------------------------------------------------------------------------------------
// Structural schema comparison

function defaultString(item: GraphQLArgument | GraphQLInputField): string {
  if (item.defaultValue === undefined) return '(none)';
  const ast = astFromValue(item.defaultValue, item.type);
  return ast ? print(ast) : '(unprintable)';
}

function argsShape(args: readonly GraphQLArgument[]): Map<string, string> {
  return new Map(
    args.map((a) => [a.name, `${String(a.type)} = ${defaultString(a)} deprecated=${a.deprecationReason ?? '-'}`]),
  );
}

/** A map from a stable path (e.g. `Query.queryServices(layer)`) to its type-level signature. */
function shapeOf(type: GraphQLNamedType): Map<string, string> {
  const out = new Map<string, string>();
  const kind = isScalarType(type)
    ? 'scalar'
    : isObjectType(type)
      ? 'type'
      : isInterfaceType(type)
        ? 'interface'
        : isUnionType(type)
          ? 'union'
          : isEnumType(type)
            ? 'enum'
            : 'input';
  out.set(type.name, kind);
  if (isObjectType(type) || isInterfaceType(type)) {
    const ifaces = type.getInterfaces().map((i) => i.name).sort();
    out.set(`${type.name} implements`, ifaces.join(' & ') || '(none)');
    for (const field of Object.values(type.getFields())) {
      const path = `${type.name}.${field.name}`;
      out.set(path, `${String(field.type)} deprecated=${field.deprecationReason ?? '-'}`);
      for (const [name, sig] of argsShape(field.args)) out.set(`${path}(${name})`, sig);
    }
  } else if (isUnionType(type)) {
    out.set(`${type.name} members`, type.getTypes().map((t) => t.name).sort().join(' | '));
  } else if (isEnumType(type)) {
    for (const v of type.getValues()) out.set(`${type.name}.${v.name}`, `enum value deprecated=${v.deprecationReason ?? '-'}`);
  } else if (isInputObjectType(type)) {
    for (const f of Object.values(type.getFields())) {
      out.set(`${type.name}.${f.name}`, `${String(f.type)} = ${defaultString(f)}`);
    }
  }
  return out;
}

function schemaShape(schema: GraphQLSchema): Map<string, string> {
  const out = new Map<string, string>();
  out.set('schema.query', schema.getQueryType()?.name ?? '(none)');
  out.set('schema.mutation', schema.getMutationType()?.name ?? '(none)');
  out.set('schema.subscription', schema.getSubscriptionType()?.name ?? '(none)');
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    for (const [k, v] of shapeOf(type)) out.set(k, v);
  }
  for (const d of schema.getDirectives()) {
    out.set(`@${d.name}`, `on ${[...d.locations].sort().join('|')} repeatable=${d.isRepeatable}`);
    for (const [name, sig] of argsShape(d.args)) out.set(`@${d.name}(${name})`, sig);
  }
  return out;
}

/** Every difference between two schemas, one line each; empty when they are type-identical. */
function diffSchemas(expected: GraphQLSchema, actual: GraphQLSchema): string[] {
  const want = schemaShape(expected);
  const got = schemaShape(actual);
  const diffs: string[] = [];
  for (const [path, sig] of want) {
    const ours = got.get(path);
    if (ours === undefined) diffs.push(`missing ${path}: ${sig}`);
    else if (ours !== sig) diffs.push(`differs ${path}: expected ${sig}, got ${ours}`);
  }
  for (const [path, sig] of got) if (!want.has(path)) diffs.push(`extra ${path}: ${sig}`);
  return diffs.sort();
}

function loadUpstreamSchema(dir: string): GraphQLSchema {
  const files = readdirSync(dir).filter((n) => n.endsWith('.graphqls')).sort();
  assert.ok(files.length > 0, `no .graphqls files in ${dir}`);
  return buildSchema(files.map((n) => readFileSync(join(dir, n), 'utf8')).join('\n'));
}

// ---------------------------------------------------------------------------------------------

describe('query-protocol schema', () => {
  it('builds, memoized, from the generated typeDefs', () => {
    const schema = buildSkyWalkingSchema();
    assert.equal(buildSkyWalkingSchema(), schema);
    assert.equal(schema.getQueryType()?.name, 'Query');
    assert.equal(schema.getMutationType()?.name, 'Mutation');
    assert.ok(typeDefs.includes('queryEBPFProfilingTasks'));
  });

  it('diffSchemas is empty for a schema compared with itself', () => {
    assert.deepEqual(diffSchemas(buildSchema(typeDefs), buildSkyWalkingSchema()), []);
  });

  // The comparison must catch any single change of the kinds it claims to check.
  const mutations: Array<[string, (sdl: string) => string, RegExp]> = [
    ['field nullability', (s) => s.replace(/(type KeyValue \{\s*key: )String!/, '$1String'), /KeyValue\.key/],
    ['field list-ness', (s) => s.replace(/(type KeyValue \{\s*key: )String!/, '$1[String!]'), /KeyValue\.key/],
    ['field type', (s) => s.replace(/(type KeyNumericValue \{\s*key: String!\s*value: )Long!/, '$1Int!'), /KeyNumericValue\.value/],
    ['enum value', (s) => s.replace(/(enum Order \{\s*ASC\s*)DES/, '$1DESC'), /Order\.DES/],
    ['input field', (s) => s.replace(/(input Pagination \{\s*pageNum: )Int/, '$1Long'), /Pagination\.pageNum/],
    ['argument default', (s) => s.replace(/(type Query \{\s*version: String)/, '$1\n  probe(n: Int = 1): Int'), /Query\.probe/],
    ['root field', (s) => s.replace(/(type Mutation \{\s*version: )String/, '$1Int'), /Mutation\.version/],
  ];
  for (const [what, mutate, expectPath] of mutations) {
    it(`diffSchemas detects a changed ${what}`, () => {
      const altered = mutate(typeDefs);
      assert.notEqual(altered, typeDefs, 'mutation did not apply');
      const diffs = diffSchemas(buildSkyWalkingSchema(), buildSchema(altered));
      assert.ok(diffs.length > 0, 'no difference reported');
      assert.ok(diffs.some((d) => expectPath.test(d)), diffs.join('\n'));
    });
  }
  it('diffSchemas detects a changed argument default value', () => {
    const a = buildSchema('type Query { f(n: Int = 1, s: [String!]): Int }');
    const b = buildSchema('type Query { f(n: Int = 2, s: [String!]): Int }');
    const c = buildSchema('type Query { f(n: Int = 1, s: [String]): Int }');
    assert.match(diffSchemas(a, b).join('\n'), /Query\.f\(n\)/);
    assert.match(diffSchemas(a, c).join('\n'), /Query\.f\(s\)/);
  });
});

describe('conformance with upstream SkyWalking query-protocol', () => {
  const skip = skipUnless(upstreamDir, 'upstream/query-protocol');
  it('our schema is type-identical to upstream', { skip }, () => {
    const diffs = diffSchemas(loadUpstreamSchema(upstreamDir!), buildSkyWalkingSchema());
    assert.deepEqual(diffs, [], `schema differs from upstream:\n${diffs.join('\n')}`);
  });
});

describe('stock UI operations validate', () => {
  const skip = skipUnless(operationsFile, 'ui-operations.json');
  if (skip) {
    it('ui-operations.json', { skip }, () => {});
    return;
  }
  const grouped = JSON.parse(readFileSync(operationsFile!, 'utf8')) as Record<string, Record<string, string>>;
  const all = Object.entries(grouped).flatMap(([feature, docs]) =>
    Object.entries(docs).map(([name, doc]) => ({ feature, name, doc })),
  );
  it('has documents', () => assert.ok(all.length > 0));
  for (const { feature, name, doc } of all) {
    it(`${feature}/${name}`, () => {
      const errors = validate(buildSkyWalkingSchema(), parse(doc));
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
      );
    });
  }
});
