/**
 * What rover uses of @kubernetes/client-node, loaded only through `import('./client.js')`:
 * host mode never loads the client, and the bundle keeps it in a chunk of its own, tree-shaken
 * to these names (a dynamic import of the package itself would keep all of it).
 */
export { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
