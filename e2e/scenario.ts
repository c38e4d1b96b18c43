// The seed's service-mesh experiment as one command: `npm run scenario -w @swlite/e2e`
// (or `node --import tsx e2e/scenario.ts` from the repository root). See src/scenario/main.ts.
import './src/scenario/main';
