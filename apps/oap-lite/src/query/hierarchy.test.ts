/**
 * The hierarchy rules beyond what the conformance fixture covers (mesh → data plane → Kubernetes
 * is compared with the Java OAP there): the namespace and FQDN rules, and a link left out when a
 * longer path implies it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serviceId, splitServiceName } from '../core/ids';
import type { ServiceRecord } from '../storage/types';
import { serviceHierarchy } from './hierarchy';

const service = (name: string, layers: string[]): ServiceRecord => ({
  id: serviceId(name),
  name,
  ...splitServiceName(name),
  normal: true,
  layers,
  lastSeen: 0,
});

const pairs = (relations: ReturnType<typeof serviceHierarchy>) =>
  relations
    .map((r) => `${r.upperService.name}@${r.upperService.layer} -> ${r.lowerService.name}@${r.lowerService.layer}`)
    .sort();

test('GENERAL links to the Kubernetes service whose short name is its own plus a namespace', () => {
  const services = [
    service('agent::songs', ['GENERAL']),
    service('k8s::songs.default', ['K8S_SERVICE']),
    service('k8s::other.default', ['K8S_SERVICE']),
  ];
  assert.deepEqual(pairs(serviceHierarchy(services, serviceId('agent::songs'), 'agent::songs', 'GENERAL')), [
    'agent::songs@GENERAL -> k8s::songs.default@K8S_SERVICE',
  ]);
});

test('a virtual database links to the MySQL service named by its host without the port', () => {
  const services = [
    service('mysql.prod.svc.cluster.local:3306', ['VIRTUAL_DATABASE']),
    service('mysql::mysql.prod', ['MYSQL']),
  ];
  const relations = serviceHierarchy(services, serviceId('mysql::mysql.prod'), 'mysql::mysql.prod', 'MYSQL');
  assert.deepEqual(pairs(relations), ['mysql.prod.svc.cluster.local:3306@VIRTUAL_DATABASE -> mysql::mysql.prod@MYSQL']);
});

test('mesh → Kubernetes is left out when mesh → data plane → Kubernetes implies it; no relation without a rule', () => {
  const services = [service('ns::shop', ['MESH', 'MESH_DP', 'K8S_SERVICE']), service('lonely', ['OS_LINUX'])];
  assert.deepEqual(pairs(serviceHierarchy(services, serviceId('ns::shop'), 'ns::shop', 'MESH')), [
    'ns::shop@MESH -> ns::shop@MESH_DP',
    'ns::shop@MESH_DP -> ns::shop@K8S_SERVICE',
  ]);
  assert.deepEqual(serviceHierarchy(services, serviceId('lonely'), 'lonely', 'OS_LINUX'), []);
});
