/** MetadataStore on SQLite: tables services, instances, processes, service_labels. */
import type { DetectType, InstanceRecord, MetadataStore, ProcessFilter, ProcessRecord, ServiceRecord } from '../types';
import { chunks, num, parseJson, placeholders, str, type Row, type SqliteConnection } from './connection';

function toService(r: Row): ServiceRecord {
  return {
    id: str(r.id),
    name: str(r.name),
    shortName: str(r.short_name),
    group: str(r.grp),
    normal: num(r.normal) !== 0,
    layers: parseJson<string[]>(r.layers_json, []),
    lastSeen: num(r.last_seen),
  };
}
function toInstance(r: Row): InstanceRecord {
  return {
    id: str(r.id),
    serviceId: str(r.service_id),
    name: str(r.name),
    layer: str(r.layer),
    attributes: parseJson<Array<{ name: string; value: string }>>(r.attributes_json, []),
    lastSeen: num(r.last_seen),
  };
}
function toProcess(r: Row): ProcessRecord {
  return {
    id: str(r.id),
    name: str(r.name),
    serviceId: str(r.service_id),
    serviceName: str(r.service_name),
    instanceId: str(r.instance_id),
    instanceName: str(r.instance_name),
    layer: str(r.layer),
    agentId: str(r.agent_id),
    detectType: str(r.detect_type) as DetectType,
    labels: parseJson<string[]>(r.labels_json, []),
    properties: parseJson<Record<string, string>>(r.properties_json, {}),
    profilingSupported: num(r.profiling_supported) !== 0,
    firstSeen: num(r.first_seen),
    lastSeen: num(r.last_seen),
  };
}

export class SqliteMetadataStore implements MetadataStore {
  constructor(private readonly c: SqliteConnection) {}

  async upsertService(service: ServiceRecord): Promise<void> {
    const db = this.c.conn;
    db.transaction(() => {
      const old = this.c.stmt('SELECT layers_json, last_seen FROM services WHERE id = ?').get(service.id);
      const layers: string[] = old ? parseJson<string[]>(old.layers_json, []) : [];
      for (const l of service.layers) if (!layers.includes(l)) layers.push(l);
      const lastSeen = old ? Math.max(num(old.last_seen), service.lastSeen) : service.lastSeen;
      this.c
        .stmt(
          `INSERT INTO services (id, name, short_name, grp, normal, layers_json, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, short_name = excluded.short_name,
           grp = excluded.grp, normal = excluded.normal, layers_json = excluded.layers_json,
           last_seen = excluded.last_seen`,
        )
        .run(
          service.id,
          service.name,
          service.shortName,
          service.group,
          service.normal ? 1 : 0,
          JSON.stringify(layers),
          lastSeen,
        );
    })();
  }

  async listServices(layer?: string): Promise<ServiceRecord[]> {
    const rows =
      layer === undefined
        ? this.c.stmt('SELECT * FROM services ORDER BY name, id').all()
        : this.c
            .stmt(
              `SELECT * FROM services
             WHERE EXISTS (SELECT 1 FROM json_each(services.layers_json) WHERE value = ?)
             ORDER BY name, id`,
            )
            .all(layer);
    return rows.map(toService);
  }

  async getService(id: string): Promise<ServiceRecord | null> {
    const r = this.c.stmt('SELECT * FROM services WHERE id = ?').get(id);
    return r ? toService(r) : null;
  }

  async upsertInstance(instance: InstanceRecord): Promise<void> {
    this.c
      .stmt(
        `INSERT INTO instances (id, service_id, name, layer, attributes_json, last_seen)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET service_id = excluded.service_id, name = excluded.name,
         layer = excluded.layer, attributes_json = excluded.attributes_json,
         last_seen = MAX(last_seen, excluded.last_seen)`,
      )
      .run(
        instance.id,
        instance.serviceId,
        instance.name,
        instance.layer,
        JSON.stringify(instance.attributes ?? []),
        instance.lastSeen,
      );
  }

  async listInstances(serviceId: string, seenSince?: number): Promise<InstanceRecord[]> {
    const rows =
      seenSince === undefined
        ? this.c.stmt('SELECT * FROM instances WHERE service_id = ? ORDER BY name, id').all(serviceId)
        : this.c
            .stmt('SELECT * FROM instances WHERE service_id = ? AND last_seen >= ? ORDER BY name, id')
            .all(serviceId, seenSince);
    return rows.map(toInstance);
  }

  async getInstance(id: string): Promise<InstanceRecord | null> {
    const r = this.c.stmt('SELECT * FROM instances WHERE id = ?').get(id);
    return r ? toInstance(r) : null;
  }

  async upsertProcesses(processes: ProcessRecord[]): Promise<void> {
    if (processes.length === 0) return;
    const db = this.c.conn;
    const insert = this.c.stmt(
      `INSERT INTO processes (id, name, service_id, service_name, instance_id, instance_name, layer,
         agent_id, detect_type, labels_json, properties_json, profiling_supported, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, service_id = excluded.service_id,
         service_name = excluded.service_name, instance_id = excluded.instance_id,
         instance_name = excluded.instance_name, layer = excluded.layer, agent_id = excluded.agent_id,
         detect_type = excluded.detect_type, labels_json = excluded.labels_json,
         properties_json = excluded.properties_json, profiling_supported = excluded.profiling_supported,
         first_seen = MIN(first_seen, excluded.first_seen), last_seen = excluded.last_seen`,
    );
    db.transaction(() => {
      for (const p of processes) {
        insert.run(
          p.id,
          p.name,
          p.serviceId,
          p.serviceName,
          p.instanceId,
          p.instanceName,
          p.layer,
          p.agentId,
          p.detectType,
          JSON.stringify(p.labels ?? []),
          JSON.stringify(p.properties ?? {}),
          p.profilingSupported ? 1 : 0,
          p.firstSeen,
          p.lastSeen,
        );
      }
    })();
  }

  private processWhere(filter: ProcessFilter): { where: string; params: unknown[] } {
    const conds: string[] = [];
    const params: unknown[] = [];
    if (filter.serviceId !== undefined) {
      conds.push('service_id = ?');
      params.push(filter.serviceId);
    }
    if (filter.instanceId !== undefined) {
      conds.push('instance_id = ?');
      params.push(filter.instanceId);
    }
    if (filter.agentId !== undefined) {
      conds.push('agent_id = ?');
      params.push(filter.agentId);
    }
    if (filter.seenSince !== undefined) {
      conds.push('last_seen >= ?');
      params.push(filter.seenSince);
    }
    if (filter.seenUntil !== undefined) {
      conds.push('last_seen <= ? AND first_seen <= ?');
      params.push(filter.seenUntil, filter.seenUntil);
    }
    if (filter.profilingSupported !== undefined) {
      conds.push('profiling_supported = ?');
      params.push(filter.profilingSupported ? 1 : 0);
    }
    return { where: conds.length ? `WHERE ${conds.join(' AND ')}` : '', params };
  }

  async listProcesses(filter: ProcessFilter): Promise<ProcessRecord[]> {
    const { where, params } = this.processWhere(filter);
    return this.c
      .stmt(`SELECT * FROM processes ${where} ORDER BY name, id`)
      .all(...params)
      .map(toProcess);
  }

  async countProcesses(filter: ProcessFilter): Promise<number> {
    const { where, params } = this.processWhere(filter);
    const r = this.c.stmt(`SELECT COUNT(*) AS n FROM processes ${where}`).get(...params);
    return num(r?.n ?? 0);
  }

  async getProcess(id: string): Promise<ProcessRecord | null> {
    const r = this.c.stmt('SELECT * FROM processes WHERE id = ?').get(id);
    return r ? toProcess(r) : null;
  }

  async getProcesses(ids: string[]): Promise<ProcessRecord[]> {
    const unique = [...new Set(ids)];
    const out: ProcessRecord[] = [];
    for (const part of chunks(unique)) {
      const rows = this.c.stmt(`SELECT * FROM processes WHERE id IN (${placeholders(part.length)})`).all(...part);
      for (const r of rows) out.push(toProcess(r));
    }
    return out;
  }

  async addServiceLabels(serviceId: string, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    const insert = this.c.stmt('INSERT OR IGNORE INTO service_labels (service_id, label) VALUES (?, ?)');
    this.c.conn.transaction(() => {
      for (const l of labels) insert.run(serviceId, l);
    })();
  }

  async listServiceLabels(serviceId: string): Promise<string[]> {
    return this.c
      .stmt('SELECT label FROM service_labels WHERE service_id = ? ORDER BY label')
      .all(serviceId)
      .map((r) => str(r.label));
  }

  async deleteNotSeenSince(before: number): Promise<number> {
    return this.c.conn
      .transaction(() => {
        let n = this.c.stmt('DELETE FROM processes WHERE last_seen < ?').run(before).changes;
        n += this.c.stmt('DELETE FROM instances WHERE last_seen < ?').run(before).changes;
        n += this.c.stmt('DELETE FROM services WHERE last_seen < ?').run(before).changes;
        return n;
      })
      .immediate();
  }
}
