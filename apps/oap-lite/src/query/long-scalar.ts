/** The protocol's Long: epoch milliseconds and counts, accepted as number or numeric string. */
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const toLong = (value: unknown): number => {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new GraphQLError(`Long cannot represent ${JSON.stringify(value)}: expected an integer`);
  }
  return n;
};

export const LongScalar = new GraphQLScalarType<number, number>({
  name: 'Long',
  serialize: (value) => toLong(value),
  parseValue: (value) => toLong(value),
  parseLiteral: (ast) => {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return toLong(ast.value);
    throw new GraphQLError(`Long cannot represent a ${ast.kind} literal`);
  },
});
