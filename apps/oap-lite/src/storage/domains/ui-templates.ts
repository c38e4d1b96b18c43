/** Dashboards of the stock UI (the OAP's ui_template model). */

export interface UiTemplateRecord {
  id: string;
  configuration: string;
  activated: boolean;
  disabled: boolean;
  updateTime: number;
}

export interface UiTemplateStore {
  /** Insert, or replace the template with the same id. */
  saveUiTemplate(template: UiTemplateRecord): Promise<void>;
  getUiTemplate(id: string): Promise<UiTemplateRecord | null>;
  /** Ordered by id. */
  listUiTemplates(includeDisabled: boolean): Promise<UiTemplateRecord[]>;
}
