/**
 * Index templates and metadata indices of oap-lite, installed (or checked) when the storage starts.
 * Other nodes may install the same at the same moment: every step is idempotent and retried on
 * transient failures (startup.ts), and start-up ends once every metadata index can be read.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import type { BulkLog } from './bulk-processor';
import { errorText, isRetryable } from './es-errors';
import { METADATA_INDICES, METRICS_PROPERTIES, RECORDS_PROPERTIES, compareMapping, type IndexNames } from './indices';
import { retryStartupStep, waitForPrimaries, type StartupContext } from './startup';

const errorType = (err: unknown): string | undefined =>
  (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;

/** Creates the templates and the metadata indices; checks (and extends) existing mappings. */
export async function installIndices(
  client: Client,
  n: IndexNames,
  settings: estypes.IndicesIndexSettings,
  ctx: StartupContext,
): Promise<void> {
  const log = ctx.log;
  for (const [name, pattern, alias, properties] of [
    [n.recordsTemplate, n.recordsPattern, n.recordsAlias, RECORDS_PROPERTIES],
    [n.metricsTemplate, n.metricsPattern, n.metricsAlias, METRICS_PROPERTIES],
  ] as const) {
    await retryStartupStep(ctx, `installing index template ${name}`, () =>
      client.indices.putIndexTemplate({
        name,
        index_patterns: [pattern],
        priority: 10,
        template: {
          settings,
          mappings: { dynamic: 'strict', properties },
          aliases: { [alias]: {} },
        },
        _meta: { created_by: 'oap-lite' },
      }),
    );
  }
  // Existing daily indices must be compatible too.
  for (const [pattern, wanted] of [
    [n.recordsPattern, RECORDS_PROPERTIES],
    [n.metricsPattern, METRICS_PROPERTIES],
  ] as const) {
    await retryStartupStep(ctx, `checking the mappings of ${pattern}`, async () => {
      const daily = await client.indices.getMapping({
        index: pattern,
        allow_no_indices: true,
        expand_wildcards: 'open',
      });
      for (const [index, m] of Object.entries(daily)) {
        await checkMapping(client, log, index, m.mappings?.properties, wanted);
      }
    });
  }
  for (const def of METADATA_INDICES) {
    const index = n.metadata(def.model);
    await retryStartupStep(ctx, `creating or checking index ${index}`, async () => {
      if (!(await client.indices.exists({ index }))) {
        try {
          await client.indices.create({
            index,
            settings,
            mappings: { dynamic: 'strict', properties: def.properties },
          });
          return;
        } catch (err) {
          // Another oap-lite node created it first: check it like any existing index.
          if (errorType(err) !== 'resource_already_exists_exception') throw err;
        }
      }
      const got = await client.indices.getMapping({ index });
      const mapping = Object.values(got)[0]?.mappings;
      await checkMapping(client, log, index, mapping?.properties, def.properties);
    });
  }
  // An index this node found already there may have been created by another node a moment ago.
  await retryStartupStep(ctx, 'waiting for the metadata indices', () => waitForPrimaries(client, n.allMetadata, ctx));
}

async function checkMapping(
  client: Client,
  log: BulkLog,
  index: string,
  existing: Record<string, estypes.MappingProperty> | undefined,
  wanted: Record<string, estypes.MappingProperty>,
): Promise<void> {
  const { conflict, missing } = compareMapping(existing, wanted);
  if (conflict) {
    throw new Error(
      `Elasticsearch index ${index} has an incompatible mapping: ${conflict}. ` +
        `It was created by another program or another oap-lite version: delete it, or use another SW_NAMESPACE.`,
    );
  }
  if (Object.keys(missing).length > 0) {
    try {
      await client.indices.putMapping({ index, properties: missing });
      log.info({ index, fields: Object.keys(missing) }, `added fields to the mapping of ${index}`);
    } catch (err) {
      // A shard not started yet is waited out by the caller; a refusal (a conflict) is final.
      if (isRetryable(err)) throw err;
      throw new Error(
        `cannot add fields ${Object.keys(missing).join(', ')} to Elasticsearch index ${index}: ${errorText(err)}`,
      );
    }
  }
}
