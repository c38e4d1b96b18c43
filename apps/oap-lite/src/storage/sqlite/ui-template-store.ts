/** UiTemplateStore on SQLite: table ui_templates. */
import type { UiTemplateRecord, UiTemplateStore } from '../types';
import { num, str, type Row, type SqliteConnection } from './connection';

function toTemplate(r: Row): UiTemplateRecord {
  return {
    id: str(r.id),
    configuration: str(r.configuration),
    activated: num(r.activated) !== 0,
    disabled: num(r.disabled) !== 0,
    updateTime: num(r.update_time),
  };
}

export class SqliteUiTemplateStore implements UiTemplateStore {
  constructor(private readonly c: SqliteConnection) {}

  async saveUiTemplate(template: UiTemplateRecord): Promise<void> {
    this.c
      .stmt(
        `INSERT OR REPLACE INTO ui_templates (id, configuration, activated, disabled, update_time) VALUES (?, ?, ?, ?, ?)`,
      )
      .run(
        template.id,
        template.configuration,
        template.activated ? 1 : 0,
        template.disabled ? 1 : 0,
        template.updateTime,
      );
  }

  async getUiTemplate(id: string): Promise<UiTemplateRecord | null> {
    const r = this.c.stmt('SELECT * FROM ui_templates WHERE id = ?').get(id);
    return r ? toTemplate(r) : null;
  }

  async listUiTemplates(includeDisabled: boolean): Promise<UiTemplateRecord[]> {
    const rows = includeDisabled
      ? this.c.stmt('SELECT * FROM ui_templates ORDER BY id').all()
      : this.c.stmt('SELECT * FROM ui_templates WHERE disabled = 0 ORDER BY id').all();
    return rows.map(toTemplate);
  }
}
