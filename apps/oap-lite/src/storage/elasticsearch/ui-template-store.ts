/** UiTemplateStore on Elasticsearch: documents of the management index (the OAP's ui_template). */
import type { estypes } from '@elastic/elasticsearch';
import type { UiTemplateRecord, UiTemplateStore } from '../types';
import { docId, type Doc, type EsConnection } from './connection';
import { MANAGEMENT_UI_TEMPLATE } from './indices';

export class EsUiTemplateStore implements UiTemplateStore {
  constructor(private readonly c: EsConnection) {}

  async saveUiTemplate(template: UiTemplateRecord): Promise<void> {
    await this.c.es.index({
      index: this.c.names.metadata('management'),
      id: docId(`${MANAGEMENT_UI_TEMPLATE}_${template.id}`),
      refresh: true,
      document: {
        management_table: MANAGEMENT_UI_TEMPLATE,
        template_id: template.id,
        configuration: template.configuration,
        activated: template.activated,
        disabled: template.disabled,
        update_time: template.updateTime,
      },
    });
  }

  private toTemplate = (d: Doc): UiTemplateRecord => ({
    id: String(d.template_id),
    configuration: String(d.configuration),
    activated: Boolean(d.activated),
    disabled: Boolean(d.disabled),
    updateTime: Number(d.update_time),
  });

  async getUiTemplate(id: string): Promise<UiTemplateRecord | null> {
    const d = await this.c.getDoc(this.c.names.metadata('management'), docId(`${MANAGEMENT_UI_TEMPLATE}_${id}`));
    return d ? this.toTemplate(d.source) : null;
  }

  async listUiTemplates(includeDisabled: boolean): Promise<UiTemplateRecord[]> {
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { management_table: MANAGEMENT_UI_TEMPLATE } }];
    if (!includeDisabled) filter.push({ term: { disabled: false } });
    return (
      await this.c.searchAll(this.c.names.metadata('management'), { bool: { filter } }, [{ template_id: 'asc' }])
    ).map(this.toTemplate);
  }
}
