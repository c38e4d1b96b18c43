/**
 * UI templates (dashboards) and the menu, as the OAP's UITemplateManagementService and
 * menu query serve them to the stock UI.
 *
 * - At start the bundled templates (apps/oap-lite/ui-templates/*.json, inlined into the build
 *   by the imports below) are written to storage when no template with that ID exists yet;
 *   a template a person edited in the UI is never overwritten (the OAP does the same unless
 *   forced to reload).
 * - Templates are stored as the JSON string the UI sends; `getTemplate` hides disabled ones,
 *   `getAllTemplates` lists enabled ones only (the UI deletes by disabling).
 * - The menu is ours (ui-templates/menu.json); a leaf is `activate` when its layer has
 *   services, a group when any of its leaves is.
 */
import { randomUUID } from 'node:crypto';
import k8sService from '../../ui-templates/k8s-service.json' with { type: 'json' };
import menu from '../../ui-templates/menu.json' with { type: 'json' };
import meshDp from '../../ui-templates/mesh-dp.json' with { type: 'json' };
import mesh from '../../ui-templates/mesh.json' with { type: 'json' };
import osLinux from '../../ui-templates/os-linux.json' with { type: 'json' };
import processRelation from '../../ui-templates/process-relation.json' with { type: 'json' };
import type { Storage, UiTemplateRecord } from '../storage/types';

export interface BundledTemplate {
  id: string;
  /** A booster-ui dashboard: {name, layer, entity, isRoot, isDefault, children: [...]}. */
  configuration: Record<string, unknown>;
}

export interface MenuDefinition {
  title: string;
  icon?: string;
  layer?: string;
  description?: string;
  documentLink?: string;
  i18nKey?: string;
  menus?: MenuDefinition[];
}

export interface MenuItem {
  title: string;
  icon: string | null;
  layer: string;
  activate: boolean;
  subItems: MenuItem[];
  description: string | null;
  documentLink: string | null;
  i18nKey: string | null;
}

export interface DashboardConfiguration {
  id: string;
  configuration: string;
}

export interface TemplateChangeStatus {
  id: string;
  status: boolean;
  message?: string;
}

export const BUNDLED_TEMPLATES: BundledTemplate[] = [
  ...(osLinux as BundledTemplate[]),
  ...(k8sService as BundledTemplate[]),
  ...(mesh as BundledTemplate[]),
  ...(meshDp as BundledTemplate[]),
  ...(processRelation as BundledTemplate[]),
];

export const BUNDLED_MENU: MenuDefinition[] = (menu as { menus: MenuDefinition[] }).menus;

const notJson = (configuration: string): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(configuration);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? undefined
      : 'configuration must be a JSON object';
  } catch (err) {
    return `configuration is not valid JSON: ${(err as Error).message}`;
  }
};

export class UiTemplateService {
  constructor(
    private readonly storage: Storage,
    /** The layers that have services now (MetadataService.listLayers). */
    private readonly activeLayers: () => Promise<string[]>,
    private readonly templates: BundledTemplate[] = BUNDLED_TEMPLATES,
    private readonly menu: MenuDefinition[] = BUNDLED_MENU,
    private readonly now: () => number = Date.now,
  ) {}

  /** Writes every bundled template that storage does not have yet; returns how many were added. */
  async initialize(): Promise<number> {
    let added = 0;
    for (const t of this.templates) {
      if (await this.storage.uiTemplates.getUiTemplate(t.id)) continue;
      await this.storage.uiTemplates.saveUiTemplate({
        id: t.id,
        configuration: JSON.stringify(t.configuration),
        activated: true,
        disabled: false,
        updateTime: this.now(),
      });
      added++;
    }
    return added;
  }

  async getTemplate(id: string): Promise<DashboardConfiguration | null> {
    const t = await this.storage.uiTemplates.getUiTemplate(id);
    return t && !t.disabled ? { id: t.id, configuration: t.configuration } : null;
  }

  async getAllTemplates(includeDisabled = false): Promise<DashboardConfiguration[]> {
    const all = await this.storage.uiTemplates.listUiTemplates(includeDisabled);
    return all
      .filter((t) => includeDisabled || !t.disabled)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((t) => ({ id: t.id, configuration: t.configuration }));
  }

  async addTemplate(configuration: string): Promise<TemplateChangeStatus> {
    const id = randomUUID();
    const invalid = notJson(configuration);
    if (invalid) return { id, status: false, message: invalid };
    await this.storage.uiTemplates.saveUiTemplate({
      id,
      configuration,
      activated: true,
      disabled: false,
      updateTime: this.now(),
    });
    return { id, status: true };
  }

  async changeTemplate(id: string, configuration: string): Promise<TemplateChangeStatus> {
    const existing = await this.storage.uiTemplates.getUiTemplate(id);
    if (!existing) return { id, status: false, message: "Can't find the template" };
    const invalid = notJson(configuration);
    if (invalid) return { id, status: false, message: invalid };
    const updated: UiTemplateRecord = {
      ...existing,
      configuration,
      updateTime: this.now(),
    };
    await this.storage.uiTemplates.saveUiTemplate(updated);
    return { id, status: true };
  }

  async disableTemplate(id: string): Promise<TemplateChangeStatus> {
    const existing = await this.storage.uiTemplates.getUiTemplate(id);
    if (!existing) return { id, status: false, message: "Can't find the template" };
    await this.storage.uiTemplates.saveUiTemplate({
      ...existing,
      disabled: true,
      updateTime: this.now(),
    });
    return { id, status: true };
  }

  async getMenuItems(): Promise<MenuItem[]> {
    const active = new Set(await this.activeLayers());
    const toItem = (m: MenuDefinition): MenuItem => {
      const subItems = (m.menus ?? []).map(toItem);
      const layer = m.layer ?? '';
      return {
        title: m.title,
        icon: m.icon ?? null,
        layer,
        activate: subItems.length ? subItems.some((s) => s.activate) : layer !== '' && active.has(layer),
        subItems,
        description: m.description ?? null,
        documentLink: m.documentLink ?? null,
        i18nKey: m.i18nKey ?? null,
      };
    };
    return this.menu.map(toItem);
  }
}
