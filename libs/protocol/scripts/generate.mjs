#!/usr/bin/env node
// Generates everything in src/generated from the .proto files and the GraphQL SDL.
await import('./generate-proto.mjs');
await import('./generate-graphql.mjs');
