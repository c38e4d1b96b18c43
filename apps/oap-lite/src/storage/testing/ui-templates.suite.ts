/** Behaviour of UiTemplateStore. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { UiTemplateRecord } from '../types';
import { T0, byId, type Run } from './harness';

export const describeUiTemplateBehaviour = (run: Run): void => {
  describe('UI templates', () => {
    it(
      'saves, replaces, gets and lists templates with or without disabled ones',
      run(async (s) => {
        const t1: UiTemplateRecord = {
          id: 'tpl-1',
          configuration: '{"name":"a"}',
          activated: true,
          disabled: false,
          updateTime: T0,
        };
        const t2: UiTemplateRecord = {
          id: 'tpl-2',
          configuration: '{"name":"b"}',
          activated: false,
          disabled: true,
          updateTime: T0,
        };
        await s.uiTemplates.saveUiTemplate(t1);
        await s.uiTemplates.saveUiTemplate(t2);
        assert.deepEqual(await s.uiTemplates.getUiTemplate('tpl-1'), t1);
        assert.deepEqual(await s.uiTemplates.getUiTemplate('tpl-2'), t2);
        assert.deepEqual(byId(await s.uiTemplates.listUiTemplates(true)), [t1, t2]);
        assert.deepEqual(await s.uiTemplates.listUiTemplates(false), [t1]);
        const t1b = { ...t1, configuration: '{"name":"a2"}', disabled: true, activated: false, updateTime: T0 + 1 };
        await s.uiTemplates.saveUiTemplate(t1b);
        assert.deepEqual(await s.uiTemplates.getUiTemplate('tpl-1'), t1b);
        assert.deepEqual(await s.uiTemplates.listUiTemplates(false), []);
        assert.equal((await s.uiTemplates.listUiTemplates(true)).length, 2);
      }),
    );
  });
};
