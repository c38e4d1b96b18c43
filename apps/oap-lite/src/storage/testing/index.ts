/**
 * The behaviour every `Storage` backend must pass, one suite per domain (*.suite.ts). It uses
 * nothing but the interfaces in types.ts, so each backend's test file just calls:
 *
 *   describeStorageBehaviour('sqlite', async () => ({ storage, reopen, cleanup }));
 *
 * Factory contract:
 * - `storage`: a new backend over EMPTY data, on which init() has NOT been called yet (the suite
 *   calls it, once, first).
 * - `reopen` (optional): returns a new, not yet initialised `Storage` over the same data. The
 *   suite calls it only after it has closed the previous instance, then calls init() on it.
 *   Without `reopen`, the durability test is skipped.
 * - `cleanup`: called after the suite has closed every storage it got; removes the data.
 *
 * The factory is called once per test, so tests never see each other's data. Reads must see
 * every write whose promise has resolved (an Elasticsearch backend refreshes, or writes with
 * refresh=wait_for). Choices the suite pins where types.ts is terse: service and instance
 * lastSeen never go back; deleteExpired leaves service labels, policies and UI templates alone;
 * metric values of one minute come back in any order of their label sets.
 *
 * Where the contract leaves the order of a list open, tests sort before comparing.
 */
import { describe } from 'node:test';
import { describeContinuousPolicyBehaviour } from './continuous-policies.suite';
import { runner, type StorageFixture } from './harness';
import { describeMetadataBehaviour } from './metadata.suite';
import { describeMeterBehaviour } from './meters.suite';
import { describeNetworkBehaviour } from './network.suite';
import { describeProfilingDataBehaviour } from './profiling-data.suite';
import { describeAggregateBehaviour } from './storage.suite';
import { describeTaskBehaviour } from './tasks.suite';
import { describeUiTemplateBehaviour } from './ui-templates.suite';

export type { StorageFixture } from './harness';

export function describeStorageBehaviour(name: string, factory: () => Promise<StorageFixture>): void {
  const run = runner(factory);
  describe(`Storage behaviour: ${name}`, () => {
    describeAggregateBehaviour(run);
    describeMetadataBehaviour(run);
    describeTaskBehaviour(run);
    describeProfilingDataBehaviour(run);
    describeContinuousPolicyBehaviour(run);
    describeUiTemplateBehaviour(run);
    describeMeterBehaviour(run);
    describeNetworkBehaviour(run);
  });
}
