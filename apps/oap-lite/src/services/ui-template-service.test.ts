import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStorage } from '../storage/sqlite/sqlite-storage';
import { BUNDLED_MENU, BUNDLED_TEMPLATES, UiTemplateService } from './ui-template-service';

describe('UiTemplateService', () => {
  let dir: string;
  let storage: SqliteStorage;
  let layers: string[] = [];
  let service: UiTemplateService;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ui-templates-'));
    storage = new SqliteStorage({ dataDir: dir });
    await storage.init();
    service = new UiTemplateService(storage, async () => layers);
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bundles a root, service, instance and process dashboard for every rover layer', () => {
    for (const layer of ['OS_LINUX', 'K8S_SERVICE', 'MESH', 'MESH_DP']) {
      const entities = BUNDLED_TEMPLATES.filter((t) => t.configuration.layer === layer).map(
        (t) => t.configuration.entity,
      );
      // network profiling links instances of these layers to their process relation dashboard
      const relation = layer === 'MESH' ? [] : ['ProcessRelation'];
      assert.deepEqual(entities.sort(), ['All', 'Process', ...relation, 'Service', 'ServiceInstance'], layer);
    }
    assert.equal(new Set(BUNDLED_TEMPLATES.map((t) => t.id)).size, BUNDLED_TEMPLATES.length);
    const menuLayers = BUNDLED_MENU.flatMap((m) => (m.menus ?? []).map((s) => s.layer)).sort();
    assert.deepEqual(menuLayers, ['K8S_SERVICE', 'MESH', 'MESH_DP', 'OS_LINUX']);
  });

  it('gives the instances of OS_LINUX, K8S_SERVICE and MESH_DP a Network Profiling tab linking to a relation dashboard', () => {
    type Widget = {
      type: string;
      linkDashboard?: string;
      expressions?: string[];
      children?: Array<{ name: string; children: Widget[] }>;
    };
    const widgets = (list: Widget[]): Widget[] =>
      list.flatMap((w) => [w, ...(w.children ?? []).flatMap((tab) => widgets(tab.children))]);
    for (const layer of ['OS_LINUX', 'K8S_SERVICE', 'MESH_DP']) {
      const of = (entity: string) =>
        BUNDLED_TEMPLATES.find((t) => t.configuration.layer === layer && t.configuration.entity === entity)!
          .configuration;
      const instance = widgets(of('ServiceInstance').children as Widget[]);
      const network = instance.filter((w) => w.type === 'NetworkProfiling');
      assert.equal(network.length, 1, layer);
      const relation = of('ProcessRelation');
      assert.equal(network[0]!.linkDashboard, relation.name, layer);
      const expressions = widgets(relation.children as Widget[]).flatMap((w) => w.expressions ?? []);
      for (const name of [
        'sampled_slow_trace_record',
        'sampled_status_4xx_trace_record',
        'sampled_status_5xx_trace_record',
      ]) {
        assert.ok(expressions.includes(name), `${layer}: ${name}`);
      }
      assert.ok(expressions.includes('process_relation_http1_request_cpm'));
      assert.ok(expressions.includes('process_relation_client_write_total_bytes/1024'));
    }
  });

  it('links the Continuous Profiling widget to the instance and process dashboards of its layer', () => {
    // booster-ui's continuous-profiling InstanceList makes an instance or process name a link
    // only when the widget names those dashboards (instanceDashboardName, processDashboardName).
    type Widget = { type?: string; children?: Array<{ children?: Widget[] }> } & Record<string, unknown>;
    const widgets = (list: Widget[]): Widget[] =>
      list.flatMap((w) => [w, ...widgets((w.children ?? []).flatMap((tab) => tab.children ?? []))]);
    for (const layer of ['OS_LINUX', 'K8S_SERVICE', 'MESH', 'MESH_DP']) {
      const ofLayer = BUNDLED_TEMPLATES.filter((t) => t.configuration.layer === layer).map((t) => t.configuration);
      const named = (entity: string) => ofLayer.find((c) => c.entity === entity)?.name;
      const service = ofLayer.find((c) => c.entity === 'Service')!;
      const profiling = widgets(service.children as Widget[]).filter((w) => w.type === 'ContinuousProfiling');
      assert.equal(profiling.length, 1, layer);
      assert.equal(profiling[0]!.instanceDashboardName, named('ServiceInstance'), layer);
      assert.equal(profiling[0]!.processDashboardName, named('Process'), layer);
    }
  });

  it('loads the bundled templates once and never overwrites an edited one', async () => {
    assert.equal(await service.initialize(), BUNDLED_TEMPLATES.length);
    const first = BUNDLED_TEMPLATES[0]!;
    const edited = JSON.stringify({ ...first.configuration, name: 'Edited' });
    assert.deepEqual(await service.changeTemplate(first.id, edited), { id: first.id, status: true });
    assert.equal(await service.initialize(), 0);
    assert.equal((await service.getTemplate(first.id))?.configuration, edited);
    assert.equal((await service.getAllTemplates()).length, BUNDLED_TEMPLATES.length);
  });

  it('adds, changes and disables templates as the OAP does', async () => {
    const added = await service.addTemplate('{"name":"Mine","layer":"OS_LINUX","entity":"Service","children":[]}');
    assert.equal(added.status, true);
    assert.match(added.id, /^[0-9a-f-]{36}$/);
    assert.equal((await service.addTemplate('not json')).status, false);
    assert.deepEqual(await service.changeTemplate('nope', '{}'), {
      id: 'nope',
      status: false,
      message: "Can't find the template",
    });
    assert.deepEqual(await service.disableTemplate(added.id), { id: added.id, status: true });
    assert.equal(await service.getTemplate(added.id), null);
    assert.ok(!(await service.getAllTemplates()).some((t) => t.id === added.id));
    assert.ok((await service.getAllTemplates(true)).some((t) => t.id === added.id));
    assert.equal((await service.disableTemplate('nope')).status, false);
  });

  it('activates a menu item when its layer has services, a group when any item is active', async () => {
    layers = [];
    assert.ok((await service.getMenuItems()).every((m) => !m.activate && m.subItems.every((s) => !s.activate)));
    layers = ['OS_LINUX'];
    const menu = await service.getMenuItems();
    const infra = menu.find((m) => m.subItems.some((s) => s.layer === 'OS_LINUX'))!;
    assert.equal(infra.activate, true);
    assert.equal(infra.layer, '');
    assert.equal(infra.subItems[0]!.activate, true);
    assert.ok(menu.filter((m) => m !== infra).every((m) => !m.activate));
  });
});
