/**
 * Validates deploy/: every Kubernetes manifest against the API types of @kubernetes/client-node
 * (the OpenAPI-generated models: every field must exist in its type and have the type's shape, so
 * a misspelt or misplaced field fails), the kustomization, and the things that make the deployment
 * work: rover privileged with host PID and the kernel/proc mounts, Kubernetes mode with the node
 * name from the downward API, RBAC for what the discovery reads, oap-lite on 11800/12800 over
 * Elasticsearch, the UI pointed at oap-lite, and every environment variable set in a manifest or
 * an image build file is one the programs read and the READMEs document.
 *
 * (kubeconform would need its JSON schemas from the network, which these machines cannot reach;
 * the client library carries the same OpenAPI types offline.)
 */
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '@swlite/testkit';

const DEPLOY = join(REPO_ROOT, 'deploy');
const K8S_DIR = join(DEPLOY, 'kubernetes');

/** apiVersion/kind → the client library's model. */
const KINDS: Record<string, string> = {
  'v1/Namespace': 'V1Namespace',
  'v1/Service': 'V1Service',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Secret': 'V1Secret',
  'apps/v1/Deployment': 'V1Deployment',
  'apps/v1/StatefulSet': 'V1StatefulSet',
  'apps/v1/DaemonSet': 'V1DaemonSet',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
};

type Attr = { baseName: string; type: string; format: string };
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => Attr[] }>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks `value` against the client library's type string; returns one message per problem. */
export const validateType = (value: unknown, type: string, path: string): string[] => {
  const errors: string[] = [];
  const fail = (what: string) =>
    errors.push(`${path}: ${what} (want ${type}, got ${JSON.stringify(value)?.slice(0, 60)})`);
  const array = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (type === 'any' || type === 'object') return errors;
  if (type === 'string') {
    if (typeof value !== 'string') fail('not a string');
  } else if (type === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail('not a number');
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') fail('not a boolean');
  } else if (type === 'Date') {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) fail('not a date');
  } else if (type === 'IntOrString') {
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value)))
      fail('not an int or string');
  } else if (array) {
    if (!Array.isArray(value)) fail('not a list');
    else value.forEach((v, i) => errors.push(...validateType(v, array[1]!, `${path}[${i}]`)));
  } else if (map) {
    if (!isObject(value)) fail('not a map');
    else for (const [k, v] of Object.entries(value)) errors.push(...validateType(v, map[1]!, `${path}.${k}`));
  } else {
    const model = models[type]?.getAttributeTypeMap;
    if (!model) return [`${path}: unknown type ${type} in the client library`];
    if (!isObject(value)) {
      fail('not an object');
      return errors;
    }
    const attrs = new Map(models[type]!.getAttributeTypeMap!().map((a) => [a.baseName, a]));
    for (const [k, v] of Object.entries(value)) {
      const a = attrs.get(k);
      if (!a) errors.push(`${path}.${k}: unknown field of ${type}`);
      else if (v !== null) {
        errors.push(...validateType(v, a.type, `${path}.${k}`));
        if (a.format === 'int32' && typeof v === 'number' && !Number.isInteger(v))
          errors.push(`${path}.${k}: not an integer`);
      }
    }
  }
  return errors;
};

interface Doc {
  file: string;
  obj: Record<string, any>;
}

/** Every document of every resource of the kustomization, parsed strictly. */
const loadManifests = (): { kustomization: Record<string, any>; docs: Doc[] } => {
  const kustomization = parseAllDocuments(
    readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8'),
  )[0]!.toJS() as Record<string, any>;
  const docs: Doc[] = [];
  for (const file of kustomization.resources as string[]) {
    const parsed = parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8'), { uniqueKeys: true });
    for (const d of parsed) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      assert.deepEqual(d.warnings, [], `${file}: YAML warnings`);
      const obj = d.toJS() as Record<string, any> | null;
      if (obj) docs.push({ file, obj });
    }
  }
  return { kustomization, docs };
};

const find = (docs: Doc[], kind: string, name: string) => {
  const d = docs.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  assert.ok(d, `${kind}/${name} present`);
  return d.obj;
};

const envOf = (container: Record<string, any>): Map<string, Record<string, any>> =>
  new Map((container.env ?? []).map((e: Record<string, any>) => [e.name as string, e]));

/** Env names the programs read: rover's ${NAME:default} placeholders, oap-lite's config keys. */
const roverEnvNames = (): Set<string> =>
  new Set(
    [...readFileSync(join(REPO_ROOT, 'apps/rover/config/rover.yaml'), 'utf8').matchAll(/\$\{([_A-Z0-9]+):/g)].map(
      (m) => m[1]!,
    ),
  );
const oapEnvNames = (): Set<string> =>
  new Set(
    [...readFileSync(join(REPO_ROOT, 'apps/oap-lite/src/config.ts'), 'utf8').matchAll(/'(SW_[_A-Z0-9]+)'/g)].map(
      (m) => m[1]!,
    ),
  );

/** Names set by our manifests that belong to other programs (the UI, Elasticsearch, the pod itself). */
const FOREIGN_ENV = new Set([
  'NODE_NAME',
  'SW_OAP_ADDRESS',
  'ES_JAVA_OPTS',
  'discovery.type',
  'xpack.security.enabled',
  'cluster.name',
]);

describe('deploy/kubernetes manifests', () => {
  const { kustomization, docs } = loadManifests();

  it('the kustomization lists every manifest of the directory, and nothing missing', () => {
    assert.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
    assert.equal(kustomization.kind, 'Kustomization');
    const listed = new Set(kustomization.resources as string[]);
    const present = readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    assert.deepEqual([...listed].sort(), present.sort());
    for (const image of kustomization.images as Array<{ name: string }>) {
      assert.ok(
        docs.some((d) => JSON.stringify(d.obj).includes(`"image":"${image.name}:`)),
        `kustomization image ${image.name} is used by a workload`,
      );
    }
  });

  it('every document is a known apiVersion/kind and matches the API types field by field', () => {
    assert.ok(docs.length >= 10, `${docs.length} documents`);
    const errors: string[] = [];
    for (const { file, obj } of docs) {
      const model = KINDS[`${obj.apiVersion}/${obj.kind}`];
      if (!model) {
        errors.push(`${file}: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`);
        continue;
      }
      assert.ok(obj.metadata?.name, `${file}: ${obj.kind} has a name`);
      errors.push(...validateType(obj, model, `${file}:${obj.kind}/${obj.metadata?.name}`));
    }
    assert.deepEqual(errors, []);
  });

  it('the validator is not vacuous: misspelt, misplaced and mistyped fields fail', () => {
    const ds = structuredClone(find(docs, 'DaemonSet', 'rover'));
    ds.spec.template.spec.hostPid = true; // misspelt
    ds.spec.template.spec.containers[0].privileged = true; // misplaced (belongs in securityContext)
    ds.spec.template.spec.terminationGracePeriodSeconds = '30'; // a string where the API wants an integer
    ds.spec.template.spec.containers[0].volumeMounts[0].readOnly = 'yes'; // mistyped
    const errors = validateType(ds, 'V1DaemonSet', 'rover');
    assert.equal(errors.length, 4, errors.join('\n'));
    assert.match(errors.join('\n'), /hostPid: unknown field of V1PodSpec/);
    assert.match(errors.join('\n'), /privileged: unknown field of V1Container/);
  });

  it('workload selectors match their pod templates; services select a workload; all in one namespace', () => {
    const workloads = docs.filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.obj.kind));
    for (const { obj } of workloads) {
      const labels = obj.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(obj.spec.selector.matchLabels))
        assert.equal(labels[k], v, `${obj.kind}/${obj.metadata.name} selector ${k}`);
    }
    for (const { obj } of docs.filter((d) => d.obj.kind === 'Service')) {
      const target = workloads.find((w) =>
        Object.entries(obj.spec.selector).every(([k, v]) => w.obj.spec.template.metadata.labels[k] === v),
      );
      assert.ok(target, `Service ${obj.metadata.name} selects a workload`);
      const ports = target.obj.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []);
      for (const p of obj.spec.ports) {
        const ok =
          typeof p.targetPort === 'string'
            ? ports.some((c: any) => c.name === p.targetPort)
            : ports.some((c: any) => c.containerPort === (p.targetPort ?? p.port));
        assert.ok(ok, `Service ${obj.metadata.name} port ${p.name} reaches a container port`);
      }
    }
    const namespaced = docs.filter((d) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(d.obj.kind));
    for (const { obj } of namespaced)
      assert.equal(obj.metadata.namespace, kustomization.namespace, `${obj.kind}/${obj.metadata.name} namespace`);
  });

  it('rover: privileged DaemonSet with host PID, BTF/debugfs/tracefs and the host /proc mounted, Kubernetes mode', () => {
    const ds = find(docs, 'DaemonSet', 'rover');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostPID, true);
    const c = pod.containers[0];
    assert.equal(c.securityContext?.privileged, true);
    const mounts = new Map<string, any>(c.volumeMounts.map((m: any) => [m.mountPath, m]));
    const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
    const hostPathAt = (mountPath: string) => volumes.get(mounts.get(mountPath)?.name)?.hostPath?.path;
    for (const p of ['/sys/kernel/btf', '/sys/kernel/debug', '/sys/kernel/tracing'])
      assert.equal(hostPathAt(p), p, `${p} mounted from the host`);
    const env = envOf(c);
    const procMapping = env.get('ROVER_HOST_PROC_MAPPING')?.value;
    assert.ok(procMapping, 'ROVER_HOST_PROC_MAPPING set');
    assert.equal(hostPathAt(procMapping), '/proc', 'the host /proc is mounted where ROVER_HOST_PROC_MAPPING says');
    assert.equal(env.get('ROVER_PROCESS_DISCOVERY_KUBERNETES_ACTIVE')?.value, 'true');
    assert.equal(env.get('NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    assert.equal(env.get('ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME')?.value, '$(NODE_NAME)');
    // $(VAR) expands only from variables defined earlier in the list
    const names = c.env.map((e: any) => e.name);
    assert.ok(names.indexOf('NODE_NAME') < names.indexOf('ROVER_PROCESS_DISCOVERY_KUBERNETES_NODE_NAME'));
    const backend = env.get('ROVER_BACKEND_ADDR')?.value as string;
    const oapService = find(docs, 'Service', 'oap-lite');
    assert.match(
      backend,
      new RegExp(`^oap-lite(\\.${oapService.metadata.namespace})?(\\.svc(\\.cluster\\.local)?)?:11800$`),
    );
  });

  it('rover: its service account may list pods, services and nodes and read owner chains', () => {
    const ds = find(docs, 'DaemonSet', 'rover');
    const sa = ds.spec.template.spec.serviceAccountName;
    find(docs, 'ServiceAccount', sa);
    const binding = docs.find(
      (d) =>
        d.obj.kind === 'ClusterRoleBinding' &&
        d.obj.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === sa),
    )?.obj;
    assert.ok(binding, 'bound');
    const role = find(docs, 'ClusterRole', binding.roleRef.name);
    const allows = (group: string, resource: string, verb: string) =>
      role.rules.some(
        (r: any) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    for (const r of ['pods', 'services']) assert.ok(allows('', r, 'list'), `list ${r}`);
    assert.ok(allows('', 'nodes', 'get'), 'get nodes');
    assert.ok(allows('apps', 'replicasets', 'get'), 'get replicasets');
    assert.ok(allows('apps', 'deployments', 'get'), 'get deployments');
  });

  it('oap-lite: Deployment and Service on 11800 and 12800, Elasticsearch storage reaching the StatefulSet', () => {
    const dep = find(docs, 'Deployment', 'oap-lite');
    const c = dep.spec.template.spec.containers[0];
    assert.deepEqual(c.ports.map((p: any) => p.containerPort).sort(), [11800, 12800]);
    const svc = find(docs, 'Service', 'oap-lite');
    assert.deepEqual(svc.spec.ports.map((p: any) => p.port).sort(), [11800, 12800]);
    const env = envOf(c);
    assert.equal(env.get('SW_STORAGE')?.value, 'elasticsearch');
    const es = find(docs, 'Service', 'elasticsearch');
    find(docs, 'StatefulSet', 'elasticsearch');
    assert.equal(env.get('SW_STORAGE_ES_CLUSTER_NODES')?.value, `${es.metadata.name}:${es.spec.ports[0].port}`);
    assert.equal(c.readinessProbe.httpGet.path, '/healthcheck');
  });

  it('the stock UI points at oap-lite with SW_OAP_ADDRESS', () => {
    const ui = find(docs, 'Deployment', 'skywalking-ui');
    const c = ui.spec.template.spec.containers[0];
    assert.match(c.image, /^apache\/skywalking-ui:/);
    assert.equal(envOf(c).get('SW_OAP_ADDRESS')?.value, 'http://oap-lite:12800');
  });

  it('every environment variable the manifests set is one the programs read', () => {
    const rover = roverEnvNames();
    const oap = oapEnvNames();
    assert.ok(rover.size > 30 && oap.size > 20, 'env names found in the configs');
    const unknown: string[] = [];
    for (const { obj } of docs) {
      for (const c of obj.spec?.template?.spec?.containers ?? []) {
        for (const e of c.env ?? []) {
          if (FOREIGN_ENV.has(e.name)) continue;
          if (!(e.name.startsWith('ROVER_') ? rover : oap).has(e.name))
            unknown.push(`${obj.kind}/${obj.metadata.name}: ${e.name}`);
        }
      }
    }
    assert.deepEqual(unknown, []);
  });
});

describe('deploy/docker image build files', () => {
  const read = (f: string) => readFileSync(join(DEPLOY, 'docker', f), 'utf8');

  it('multi-stage on node:20-bookworm, with what each program needs at run time', () => {
    for (const f of ['oap-lite.Dockerfile', 'rover.Dockerfile']) {
      const text = read(f);
      assert.match(text, /^FROM node:20-bookworm AS build$/m, `${f}: build stage`);
      assert.match(text, /^FROM node:20-bookworm-slim$/m, `${f}: runtime stage`);
      assert.match(text, /COPY --from=build/, `${f}: copies from the build stage`);
    }
    const rover = read('rover.Dockerfile');
    assert.match(rover, /libbpf1/);
    assert.match(rover, /libelf1/);
    // what apps/rover's build puts into dist/ is what the image runs
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'apps/rover/package.json'), 'utf8')).scripts.build as string;
    for (const part of ['dist/rover.js', 'swlite_libbpf.node', 'dist/bpf', 'rover.yaml'])
      assert.ok(build.includes(part), `rover build makes ${part}`);
    assert.match(rover, /COPY --from=build \/src\/apps\/rover\/dist\/ \/app\//);
    // rover.js runs itself: its first line (#!/usr/bin/env -S node FLAGS) carries its V8 flags.
    assert.match(rover, /ENTRYPOINT \["\/app\/rover\.js"\]/);
    const oap = read('oap-lite.Dockerfile');
    assert.match(oap, /EXPOSE 11800 12800/);
    assert.match(oap, /better-sqlite3/, 'the external native addon ships with the bundle');
    const oapBuild = JSON.parse(readFileSync(join(REPO_ROOT, 'apps/oap-lite/package.json'), 'utf8')).scripts
      .build as string;
    assert.ok(oapBuild.includes('dist/oap-lite.js'));
    // oap-lite.js runs itself too: its first line carries the V8 flags that bound its heaps.
    assert.match(oap, /ENTRYPOINT \["\/app\/oap-lite\.js"\]/);
  });

  it('their environment variables exist in the programs and in the READMEs (kept in step)', () => {
    const readme =
      readFileSync(join(REPO_ROOT, 'README.md'), 'utf8') +
      readFileSync(join(REPO_ROOT, 'apps/rover/config/README.md'), 'utf8');
    const rover = roverEnvNames();
    const oap = oapEnvNames();
    const source = (name: string) =>
      ['libs/libbpf-ts/src/native.ts', 'bpf/src/paths.ts'].some((f) =>
        readFileSync(join(REPO_ROOT, f), 'utf8').includes(`process.env.${name}`),
      );
    for (const f of ['oap-lite.Dockerfile', 'rover.Dockerfile']) {
      const envBlock = [...read(f).matchAll(/^ENV ([\s\S]*?)(?=^\S)/gm)].map((m) => m[1]!).join(' ');
      const names = [...envBlock.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)]
        .map((m) => m[1]!)
        .filter((n) => n !== 'NODE_ENV' && n !== 'npm_config_nodedir');
      assert.ok(names.length > 0, `${f}: sets variables`);
      for (const n of names) {
        if (n.startsWith('SWLITE_')) assert.ok(source(n), `${f}: ${n} is read by the code`);
        else {
          assert.ok((n.startsWith('ROVER_') ? rover : oap).has(n), `${f}: ${n} is read by the program`);
          assert.ok(readme.includes(n), `${f}: ${n} is documented in a README`);
        }
      }
    }
    // the deploy README names both build files and the manifests directory
    const deployReadme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
    for (const p of ['docker/oap-lite.Dockerfile', 'docker/rover.Dockerfile', 'kubernetes/', 'ISTIO.md'])
      assert.ok(deployReadme.includes(p), p);
  });

  it('the Istio procedure names the settings the seed toggled', () => {
    const istio = readFileSync(join(DEPLOY, 'ISTIO.md'), 'utf8');
    for (const s of [
      'istioctl install',
      '--set profile=demo',
      'meshConfig.defaultConfig.tracing.sampling',
      'values.pilot.traceSampling',
      'meshConfig.accessLogFile',
      'meshConfig.accessLogFormat',
      'MESH_DP',
      'kubectl apply -k deploy/kubernetes',
    ])
      assert.ok(istio.includes(s), `ISTIO.md mentions ${s}`);
    assert.ok(existsSync(join(K8S_DIR, 'kustomization.yaml')));
  });
});
