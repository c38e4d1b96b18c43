/** ContinuousPolicyStore on Elasticsearch: documents of the management index (the OAP's continuous_profiling_policy). */
import type { ContinuousPolicyRecord, ContinuousPolicyStore } from '../types';
import { docId, type Doc, type EsConnection } from './connection';
import { MANAGEMENT_POLICY } from './indices';

export class EsPolicyStore implements ContinuousPolicyStore {
  constructor(private readonly c: EsConnection) {}

  async savePolicy(policy: ContinuousPolicyRecord): Promise<void> {
    await this.c.es.index({
      index: this.c.names.metadata('management'),
      id: docId(`${MANAGEMENT_POLICY}_${policy.serviceId}`),
      refresh: true,
      document: {
        management_table: MANAGEMENT_POLICY,
        service_id: policy.serviceId,
        uuid: policy.uuid,
        configuration_json: policy.configurationJson,
        update_time: policy.updateTime,
      },
    });
  }

  async getPolicies(serviceIds: string[]): Promise<ContinuousPolicyRecord[]> {
    const unique = [...new Set(serviceIds)];
    if (unique.length === 0) return [];
    const r = await this.c.es.mget<Doc>({
      index: this.c.names.metadata('management'),
      ids: unique.map((s) => docId(`${MANAGEMENT_POLICY}_${s}`)),
    });
    const out: ContinuousPolicyRecord[] = [];
    for (const d of r.docs) {
      if (!('found' in d) || !d.found || !d._source) continue;
      const s = d._source;
      out.push({
        serviceId: String(s.service_id),
        uuid: String(s.uuid),
        configurationJson: String(s.configuration_json),
        updateTime: Number(s.update_time),
      });
    }
    return out.sort((a, b) => (a.serviceId < b.serviceId ? -1 : a.serviceId > b.serviceId ? 1 : 0));
  }
}
