/** Where the repository and this library's fixtures are, for helpers that build or start programs. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const REPO_ROOT = resolve(here, '..', '..', '..');

/** libs/testkit/fixtures: the C, C++, Go and Node workloads the helpers compile and run. */
export const FIXTURES_DIR = join(here, '..', 'fixtures');
