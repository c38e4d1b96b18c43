/**
 * The pages of the stock UI that a person can reach on oap-lite, built from what oap-lite serves:
 * the UI's own pages, one page per menu layer, every bundled dashboard (with each of its tabs) for
 * the first service, instance and process of its layer, and dashboards in edit mode with the views
 * that read traces, logs, events, topology and on-demand logs added.
 */
import { graphqlOk, minuteDuration } from '@swlite/testkit';

/** A view the dashboard editor adds (the title of its item in the editor's "Controls" menu). */
export type AddedView = 'Add Topology' | 'Add Trace' | 'Add Log' | 'Add Event' | 'Add On Demand Log';

export interface PageVisit {
  /** Short, unique: what the page is. */
  name: string;
  /** Path and query under the UI's origin. */
  path: string;
  /** Views to add in edit mode after the page has loaded. */
  addViews?: AddedView[];
  /** The page shows a Continuous Profiling widget: its instance names must link to the instance dashboard. */
  continuousProfiling?: boolean;
}

/** The editor offers these views per entity (booster-ui src/views/dashboard/data.ts, *Tools). */
const VIEWS_BY_ENTITY: Record<string, AddedView[]> = {
  All: ['Add Topology', 'Add Trace', 'Add Log'],
  Service: ['Add Topology', 'Add Trace', 'Add Log', 'Add Event', 'Add On Demand Log'],
  ServiceInstance: ['Add Trace', 'Add Log', 'Add Event', 'Add On Demand Log'],
  Endpoint: ['Add Topology', 'Add Trace', 'Add Log', 'Add Event'],
};

interface MenuItem {
  title: string;
  layer: string;
  subItems: MenuItem[];
}

interface Dashboard {
  name: string;
  layer: string;
  entity: string;
  /** The widget types of each tab of the dashboard's first Tab widget. */
  tabs: string[][];
}

interface Widget {
  type?: string;
  children?: Array<{ children?: Widget[] }>;
}

interface Entity {
  id: string;
  name: string;
}

/** The UI's route of a menu item: titles with runs of spaces turned into "-" (booster-ui store/app). */
const menuPath = (...titles: string[]) => `/${titles.map((t) => t.replace(/\s+/g, '-')).join('/')}`;

const tabsOf = (children: Widget[] | undefined): string[][] =>
  (children ?? [])
    .find((w) => w.type === 'Tab')
    ?.children?.map((tab) => (tab.children ?? []).map((w) => w.type ?? '')) ?? [];

export const discoverPages = async (graphqlUrl: string, layers: readonly string[]): Promise<PageVisit[]> => {
  const q = <T>(query: string, variables: Record<string, unknown> = {}) => graphqlOk<T>(graphqlUrl, query, variables);
  const pages: PageVisit[] = [
    { name: 'marketplace', path: '/marketplace' },
    { name: 'dashboard list', path: '/dashboard/list' },
    { name: 'new dashboard', path: '/dashboard/new' },
    { name: 'alerting', path: '/alerting' },
    { name: 'settings', path: '/settings' },
  ];

  const { menu } = await q<{ menu: MenuItem[] }>(
    '{ menu: getMenuItems { title layer subItems { title layer subItems { title layer } } } }',
  );
  for (const group of menu) {
    if (group.subItems.length === 0) pages.push({ name: `layer ${group.layer}`, path: menuPath(group.title) });
    for (const leaf of group.subItems) {
      pages.push({ name: `layer ${leaf.layer}`, path: menuPath(group.title, leaf.title) });
    }
  }

  const { templates } = await q<{ templates: Array<{ configuration: string }> }>(
    '{ templates: getAllTemplates { configuration } }',
  );
  const dashboards: Dashboard[] = templates.map((t) => {
    const c = JSON.parse(t.configuration) as Omit<Dashboard, 'tabs'> & { children?: Widget[] };
    return { name: c.name, layer: c.layer, entity: c.entity, tabs: tabsOf(c.children) };
  });

  const duration = minuteDuration(Date.now() - 30 * 60_000, Date.now());
  for (const layer of layers) {
    const { services } = await q<{ services: Entity[] }>(
      'query ($layer: String!) { services: listServices(layer: $layer) { id name } }',
      { layer },
    );
    const service = services[0];
    if (!service) throw new Error(`oap-lite lists no service in layer ${layer}: seed it first`);
    const { instances } = await q<{ instances: Entity[] }>(
      'query ($s: ID!, $d: Duration!) { instances: listInstances(serviceId: $s, duration: $d) { id name } }',
      { s: service.id, d: duration },
    );
    const instance = instances[0];
    if (!instance) throw new Error(`service ${service.name} has no instance`);
    const { processes } = await q<{ processes: Entity[] }>(
      'query ($i: ID!, $d: Duration!) { processes: listProcesses(instanceId: $i, duration: $d) { id name } }',
      { i: instance.id, d: duration },
    );
    const process = processes[0];
    if (!process) throw new Error(`instance ${instance.name} has no process`);

    const entityPath: Record<string, string | undefined> = {
      Service: `${service.id}`,
      ServiceInstance: `${service.id}/${instance.id}`,
      Process: `${service.id}/${instance.id}/${process.id}`,
    };
    const ofLayer = dashboards.filter((d) => d.layer === layer);
    for (const d of ofLayer) {
      const ids = entityPath[d.entity];
      if (!ids) continue;
      const base = `/dashboard/${layer}/${d.entity}/${ids}/${encodeURIComponent(d.name)}`;
      if (d.tabs.length === 0) pages.push({ name: `${layer} ${d.entity}`, path: base });
      d.tabs.forEach((widgets, i) =>
        pages.push({
          name: `${layer} ${d.entity} tab ${i}`,
          path: `${base}/tab/${i}`,
          ...(widgets.includes('ContinuousProfiling') ? { continuousProfiling: true } : {}),
        }),
      );
      const views = VIEWS_BY_ENTITY[d.entity];
      if (views) pages.push({ name: `${layer} ${d.entity} edit`, path: base, addViews: views });
    }
    // A layer without bundled dashboards (GENERAL): new ones, as a person makes them in the UI.
    if (ofLayer.length === 0) {
      for (const entity of ['Service', 'ServiceInstance', 'Endpoint']) {
        pages.push({
          name: `${layer} new ${entity} edit`,
          path: `/dashboard/${layer}/${entity}/crawl-${entity.toLowerCase()}`,
          addViews: VIEWS_BY_ENTITY[entity],
        });
      }
    }
  }
  // The root dashboard of a layer in edit mode (its views ask for every service's data).
  const root = dashboards.find((d) => d.entity === 'All');
  if (root) {
    pages.push({
      name: `${root.layer} All edit`,
      path: `/dashboard/${root.layer}/All/${encodeURIComponent(root.name)}`,
      addViews: VIEWS_BY_ENTITY.All,
    });
  }
  return pages;
};
