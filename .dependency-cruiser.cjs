// The architecture rules `npm test` checks (through `npm run lint`), with dependency-cruiser over
// every TypeScript source of the workspaces, type-only imports included:
// - no import cycle, inside a package or across packages;
// - one-way layers: libs <- bpf <- apps <- e2e (libs/testkit: a lib that the apps use from their
//   tests and benchmarks only, and that imports no app);
// - another package only through its public entries: its name plus a subpath its package.json
//   "exports" lists (never a relative path into its folder, never a subpath it does not export).
// The layout of each package is in docs/ARCHITECTURE.md.

/** A package's folder, as the first group of a path regex ($1 in the `to` of a rule). */
const PACKAGE = '^((?:libs|apps)/[^/]+|bpf|e2e|tools)/';
/** Sources that only tests and benchmarks run. */
const TEST_SUPPORT = ['[.]test[.]ts$', '^apps/[^/]+/bench/', '^apps/[^/]+/chaos/', '^apps/[^/]+/src/testing/'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment:
        'Modules that import each other (type-only imports count): move what both need into a third module, or invert one edge.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-relative-import-of-another-package',
      severity: 'error',
      comment:
        "A relative path into another package's folder: import it by its name (@swlite/...), through an entry its package.json exports.",
      from: { path: PACKAGE },
      to: { dependencyTypes: ['local'], pathNot: '^$1/' },
    },
    {
      name: 'no-import-outside-exports',
      severity: 'error',
      comment:
        'Not resolvable. For @swlite/<pkg>/<subpath>: the subpath is not in that package\'s "exports" (its public entries); import an entry, or export the subpath on purpose. Otherwise the path or package name is wrong, or the package is not installed.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'libs-import-only-libs',
      severity: 'error',
      comment: 'libs/ are the bottom layer: they may not import bpf, the apps or e2e.',
      from: { path: '^libs/' },
      to: { path: '^(bpf|apps|e2e)/' },
    },
    {
      name: 'libs-do-not-import-testkit',
      severity: 'error',
      comment: 'libs/testkit builds on the other libs; they may not import it back.',
      from: { path: '^libs/', pathNot: '^libs/testkit/' },
      to: { path: '^libs/testkit/' },
    },
    {
      name: 'bpf-imports-only-libs',
      severity: 'error',
      comment: 'bpf/ sits on libs/ only: it may not import the apps or e2e.',
      from: { path: '^bpf/' },
      to: { path: '^(apps|e2e)/' },
    },
    {
      name: 'apps-do-not-import-apps',
      severity: 'error',
      comment: 'An app may not import another app (run it as a process: @swlite/testkit startOap/startRover), nor e2e.',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^(apps|e2e)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'testkit-only-in-tests',
      severity: 'error',
      comment: 'An app uses @swlite/testkit from its tests, benchmarks and src/testing only, never from what it ships.',
      from: { path: '^apps/', pathNot: TEST_SUPPORT },
      to: { path: '^libs/testkit/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: ['node_modules', '(^|/)dist/', '(^|/)build/', '^bpf/[.]output/'] },
    doNotFollow: { path: ['node_modules'] },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'types', 'node', 'default'],
      mainFields: ['module', 'main', 'types'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
