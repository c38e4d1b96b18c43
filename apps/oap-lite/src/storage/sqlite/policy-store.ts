/** ContinuousPolicyStore on SQLite: table policies. */
import type { ContinuousPolicyRecord, ContinuousPolicyStore } from '../types';
import { chunks, num, placeholders, str, type SqliteConnection } from './connection';

export class SqlitePolicyStore implements ContinuousPolicyStore {
  constructor(private readonly c: SqliteConnection) {}

  async savePolicy(policy: ContinuousPolicyRecord): Promise<void> {
    this.c
      .stmt(`INSERT OR REPLACE INTO policies (service_id, uuid, configuration_json, update_time) VALUES (?, ?, ?, ?)`)
      .run(policy.serviceId, policy.uuid, policy.configurationJson, policy.updateTime);
  }

  async getPolicies(serviceIds: string[]): Promise<ContinuousPolicyRecord[]> {
    const out: ContinuousPolicyRecord[] = [];
    for (const part of chunks([...new Set(serviceIds)])) {
      const rows = this.c
        .stmt(`SELECT * FROM policies WHERE service_id IN (${placeholders(part.length)}) ORDER BY service_id`)
        .all(...part);
      for (const r of rows) {
        out.push({
          serviceId: str(r.service_id),
          uuid: str(r.uuid),
          configurationJson: str(r.configuration_json),
          updateTime: num(r.update_time),
        });
      }
    }
    return out;
  }
}
