import type { Resolvers } from '@swlite/protocol/graphql';
import type { QueryContext } from '../context';

/** Dashboards and the menu of the stock UI; the behaviour lives in UiTemplateService. */
export const uiTemplateResolvers: Resolvers<QueryContext> = {
  Query: {
    getMenuItems: (_p, _a, ctx) => ctx.uiTemplates.getMenuItems(),
    getAllTemplates: (_p, _a, ctx) => ctx.uiTemplates.getAllTemplates(),
    getTemplate: (_p, { id }, ctx) => ctx.uiTemplates.getTemplate(id),
  },
  Mutation: {
    addTemplate: (_p, { setting }, ctx) => ctx.uiTemplates.addTemplate(setting.configuration),
    changeTemplate: (_p, { setting }, ctx) => ctx.uiTemplates.changeTemplate(setting.id, setting.configuration),
    disableTemplate: (_p, { id }, ctx) => ctx.uiTemplates.disableTemplate(id),
  },
};
