/** Behaviour of ContinuousPolicyStore. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ContinuousPolicyRecord } from '../types';
import { T0, type Run } from './harness';

export const describeContinuousPolicyBehaviour = (run: Run): void => {
  describe('continuous profiling policies', () => {
    it(
      'saves, replaces and reads policies by service',
      run(async (s) => {
        const p1: ContinuousPolicyRecord = {
          serviceId: 'a.1',
          uuid: 'u1',
          configurationJson: '[{"type":"ON_CPU"}]',
          updateTime: T0,
        };
        const p2: ContinuousPolicyRecord = { serviceId: 'b.1', uuid: 'u2', configurationJson: '[]', updateTime: T0 };
        await s.policies.savePolicy(p1);
        await s.policies.savePolicy(p2);
        assert.deepEqual(await s.policies.getPolicies(['a.1']), [p1]);
        const p1b = { ...p1, uuid: 'u3', configurationJson: '[{"type":"OFF_CPU"}]', updateTime: T0 + 1 };
        await s.policies.savePolicy(p1b);
        const both = [...(await s.policies.getPolicies(['b.1', 'a.1', 'c.1']))].sort((x, y) =>
          x.serviceId.localeCompare(y.serviceId),
        );
        assert.deepEqual(both, [p1b, p2]);
        assert.deepEqual(await s.policies.getPolicies([]), []);
      }),
    );
  });
};
