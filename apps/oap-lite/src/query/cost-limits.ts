/**
 * A validation rule that bounds what one GraphQL document may ask for before anything runs:
 * aliased fields, fields in all (fragments expanded, so a fragment spread ten times counts ten
 * times), and analysisEBPFProfilingResult fields, the one query whose cost grows with the data.
 * Each refusal names its variable and says how to narrow the query.
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface CostLimits {
  maxAliases: number;
  maxFields: number;
  maxAnalyses: number;
}

export const ANALYSIS_FIELD = 'analysisEBPFProfilingResult';

interface Cost {
  aliases: number;
  fields: number;
  analyses: number;
}

const add = (a: Cost, b: Cost, times = 1): Cost => ({
  aliases: a.aliases + b.aliases * times,
  fields: a.fields + b.fields * times,
  analyses: a.analyses + b.analyses * times,
});

const ZERO: Cost = { aliases: 0, fields: 0, analyses: 0 };

/** The cost of a selection set with its fragments expanded; `visiting` stops fragment cycles. */
const costOf = (
  set: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
  memo: Map<string, Cost>,
  visiting: Set<string>,
): Cost => {
  let cost = ZERO;
  for (const selection of set?.selections ?? []) {
    if (selection.kind === Kind.FIELD) {
      cost = add(cost, {
        aliases: selection.alias ? 1 : 0,
        fields: 1,
        analyses: selection.name.value === ANALYSIS_FIELD ? 1 : 0,
      });
      cost = add(cost, costOf(selection.selectionSet, fragments, memo, visiting));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      cost = add(cost, costOf(selection.selectionSet, fragments, memo, visiting));
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visiting.has(name)) continue;
      let fragmentCost = memo.get(name);
      if (!fragmentCost) {
        visiting.add(name);
        fragmentCost = costOf(fragment.selectionSet, fragments, memo, visiting);
        visiting.delete(name);
        memo.set(name, fragmentCost);
      }
      cost = add(cost, fragmentCost);
    }
  }
  return cost;
};

const refuse = (context: ValidationContext, setting: string, limit: number, message: string) =>
  context.reportError(
    new GraphQLError(`${message} (${setting}=${limit})`, { extensions: { code: 'QUERY_LIMIT', setting, limit } }),
  );

export const costLimitRule =
  (limits: CostLimits): ValidationRule =>
  (context): ASTVisitor => ({
    Document: (document) => {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      const memo = new Map<string, Cost>();
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const cost = costOf(d.selectionSet, fragments, memo, new Set());
        const name = d.name ? `operation "${d.name.value}"` : 'the operation';
        if (cost.analyses > limits.maxAnalyses) {
          refuse(
            context,
            'SW_QUERY_MAX_ANALYSES_PER_REQUEST',
            limits.maxAnalyses,
            `${name} asks for ${ANALYSIS_FIELD} ${cost.analyses} times; at most ${limits.maxAnalyses} per request: ` +
              'send one analysis per request',
          );
        }
        if (cost.aliases > limits.maxAliases) {
          refuse(
            context,
            'SW_QUERY_MAX_ALIASES',
            limits.maxAliases,
            `${name} has ${cost.aliases} aliased fields; at most ${limits.maxAliases}: split it into several requests`,
          );
        }
        if (cost.fields > limits.maxFields) {
          refuse(
            context,
            'SW_QUERY_MAX_FIELDS',
            limits.maxFields,
            `${name} selects ${cost.fields} fields (fragments expanded); at most ${limits.maxFields}: ` +
              'select fewer fields or split it into several requests',
          );
        }
      }
      return false;
    },
  });
