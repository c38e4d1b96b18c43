/** Index templates and metadata indices of oap-lite, installed (or checked) when the storage starts. */
import type { Client, estypes } from '@elastic/elasticsearch';
import type { BulkLog } from './bulk-processor';
import { errorText } from './es-errors';
import { METADATA_INDICES, METRICS_PROPERTIES, RECORDS_PROPERTIES, compareMapping, type IndexNames } from './indices';

/** Creates the templates and the metadata indices; checks (and extends) existing mappings. */
export async function installIndices(
  client: Client,
  n: IndexNames,
  settings: estypes.IndicesIndexSettings,
  log: BulkLog,
): Promise<void> {
  await client.indices.putIndexTemplate({
    name: n.recordsTemplate,
    index_patterns: [n.recordsPattern],
    priority: 10,
    template: {
      settings,
      mappings: { dynamic: 'strict', properties: RECORDS_PROPERTIES },
      aliases: { [n.recordsAlias]: {} },
    },
    _meta: { created_by: 'oap-lite' },
  });
  await client.indices.putIndexTemplate({
    name: n.metricsTemplate,
    index_patterns: [n.metricsPattern],
    priority: 10,
    template: {
      settings,
      mappings: { dynamic: 'strict', properties: METRICS_PROPERTIES },
      aliases: { [n.metricsAlias]: {} },
    },
    _meta: { created_by: 'oap-lite' },
  });
  // Existing daily indices must be compatible too.
  for (const [pattern, wanted] of [
    [n.recordsPattern, RECORDS_PROPERTIES],
    [n.metricsPattern, METRICS_PROPERTIES],
  ] as const) {
    const daily = await client.indices.getMapping({
      index: pattern,
      allow_no_indices: true,
      expand_wildcards: 'open',
    });
    for (const [index, m] of Object.entries(daily)) {
      await checkMapping(client, log, index, m.mappings?.properties, wanted);
    }
  }
  for (const def of METADATA_INDICES) {
    const index = n.metadata(def.model);
    const exists = await client.indices.exists({ index });
    if (!exists) {
      try {
        await client.indices.create({
          index,
          settings,
          mappings: { dynamic: 'strict', properties: def.properties },
        });
        continue;
      } catch (err) {
        // Another oap-lite node created it first: check it like any existing index.
        if (
          (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type !==
          'resource_already_exists_exception'
        ) {
          throw err;
        }
      }
    }
    const got = await client.indices.getMapping({ index });
    const mapping = Object.values(got)[0]?.mappings;
    await checkMapping(client, log, index, mapping?.properties, def.properties);
  }
  await client.cluster.health({ index: n.allMetadata, wait_for_status: 'yellow', timeout: '60s' });
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
      throw new Error(
        `cannot add fields ${Object.keys(missing).join(', ')} to Elasticsearch index ${index}: ${errorText(err)}`,
      );
    }
  }
}
