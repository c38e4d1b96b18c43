/**
 * oap-lite implements the processes and eBPF profiling part of the query protocol; the stock UI
 * also asks for traces, logs, alarms and topology. Every field without a resolver answers what
 * the Java OAP answers when it has no such data (measured side by side, e2e/src/conformance):
 * a list is empty, a query's result object is there with empty lists and zeros inside, and only
 * a lookup of one thing by name or a nested optional object is null. The stock UI reads these
 * objects and lists without checking for null (Alerting, Trace, Log and Topology pages).
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

/** Root fields that look one thing up: null when it is not there, as the Java OAP answers. */
const LOOKUPS = new Set(['searchService', 'searchBrowserService']);

const emptyValue = (type: GraphQLOutputType, isRootQuery = false): unknown => {
  if (isListType(type)) return [];
  if (!isNonNullType(type)) return isRootQuery && isObjectType(type) ? {} : null;
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
    const isQuery = type === schema.getQueryType();
    for (const field of Object.values(type.getFields())) {
      if (field.resolve) continue;
      const fallback = () => {
        const value = emptyValue(field.type, isQuery && !LOOKUPS.has(field.name));
        if (isMutation && value && typeof value === 'object' && !Array.isArray(value)) {
          return { errorReason: NOT_SUPPORTED, message: NOT_SUPPORTED };
        }
        return value;
      };
      const isRoot = isQuery || isMutation;
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
