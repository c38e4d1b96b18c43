/**
 * oap-lite implements the processes and eBPF profiling part of the query protocol; the stock UI
 * also asks for traces, logs, alarms and topology. Every field without a resolver answers a
 * well-formed empty value of its type (empty list, null, zero, empty object), never an error.
 */
import {
  GraphQLObjectType,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';

const emptyValue = (type: GraphQLOutputType): unknown => {
  if (!isNonNullType(type)) return null;
  const inner = type.ofType;
  if (isListType(inner)) return [];
  if (isObjectType(inner)) return {};
  if (isEnumType(inner)) return inner.getValues()[0]?.value ?? null;
  if (isScalarType(inner)) {
    switch (inner.name) {
      case 'Int':
      case 'Float':
      case 'Long':
        return 0;
      case 'Boolean':
        return false;
      default:
        return '';
    }
  }
  return {};
};

/** Mutations oap-lite does not implement say so instead of pretending to succeed. */
const NOT_SUPPORTED = 'not supported by oap-lite';

export const applyEmptyDefaults = (schema: GraphQLSchema): GraphQLSchema => {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
    const isMutation = type === schema.getMutationType();
    for (const field of Object.values(type.getFields())) {
      if (field.resolve) continue;
      const fallback = () => {
        const value = emptyValue(field.type);
        if (isMutation && value && typeof value === 'object' && !Array.isArray(value)) {
          return { errorReason: NOT_SUPPORTED, message: NOT_SUPPORTED };
        }
        return value;
      };
      const isRoot = type === schema.getQueryType() || isMutation;
      field.resolve = isRoot
        ? fallback
        : (parent: Record<string, unknown> | null) => {
            const value = parent?.[field.name];
            return value === undefined ? fallback() : value;
          };
    }
  }
  return schema;
};
