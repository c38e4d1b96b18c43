// Shows, and type-checks, how a server is meant to use the generated Resolvers type: it picks its
// own context type with Resolvers<Ctx>, and parents/arguments/results are the schema types.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { buildSchema, execute, GraphQLScalarType, isObjectType, parse, type GraphQLSchema } from 'graphql';
import { buildSkyWalkingSchema, typeDefs, type Resolvers, type Service } from './graphql';

interface Ctx {
  services: Service[];
}

const resolvers: Resolvers<Ctx> = {
  Long: new GraphQLScalarType({ name: 'Long' }),
  Query: {
    version: () => 'test',
    listLayers: (_parent, _args, ctx) => [...new Set(ctx.services.flatMap((s) => s.layers))],
    listServices: (_parent, args, ctx) =>
      ctx.services.filter((s) => args.layer == null || s.layers.includes(args.layer)),
  },
};

// A tiny stand-in for what a server framework does with a resolver map (test-only).
function attach(schema: GraphQLSchema, map: Resolvers<Ctx>): void {
  for (const [typeName, fields] of Object.entries(map)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    for (const [fieldName, fn] of Object.entries(fields as Record<string, unknown>)) {
      const field = type.getFields()[fieldName];
      assert.ok(field, `${typeName}.${fieldName} not in schema`);
      field.resolve = fn as NonNullable<typeof field.resolve>;
    }
  }
}

describe('generated Resolvers type', () => {
  it('types a resolver map that executes against the schema', async () => {
    // Work on a private copy so the memoized schema stays resolver-free.
    const schema = buildSchema(typeDefs);
    attach(schema, resolvers);
    const ctx: Ctx = {
      services: [
        { id: 'YQ==.1', name: 'a', group: '', shortName: 'a', layers: ['GENERAL'], normal: true },
        { id: 'Yg==.1', name: 'b', group: '', shortName: 'b', layers: ['MESH'], normal: true },
      ],
    };
    const result = await execute({
      schema,
      document: parse('{ version listLayers listServices(layer: "MESH") { id name layers } }'),
      contextValue: ctx,
    });
    assert.deepEqual(result.errors, undefined);
    assert.deepEqual(JSON.parse(JSON.stringify(result.data)), {
      version: 'test',
      listLayers: ['GENERAL', 'MESH'],
      listServices: [{ id: 'Yg==.1', name: 'b', layers: ['MESH'] }],
    });
    assert.ok(buildSkyWalkingSchema() !== schema);
  });
});
