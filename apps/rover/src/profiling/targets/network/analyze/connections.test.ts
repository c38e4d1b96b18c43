import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConnectionTable,
  groupTraffics,
  hostAddresses,
  learnRole,
  remoteIsMonitored,
  roleFromFirstMessage,
  type MonitoredProcess,
  type PeerResolver,
  type TrafficContext,
} from './connections';

interface Counters {
  bytes: number;
}
const table = (max = 100) =>
  new ConnectionTable<Counters>({ maxConnections: max, createMetrics: () => ({ bytes: 0 }) });
const proc = (pid: number, name: string, instance = 'inst'): MonitoredProcess => ({
  pid,
  id: `id-${name}`,
  service: 'svc',
  instance,
  name,
  layer: 'OS_LINUX',
});
const a = (ip: string, port: number) => ({ ip, port });

test('a connection is keyed by pid, fd and id: a reused fd is a new connection', () => {
  const t = table();
  const first = t.open({ pid: 10, fd: 5, id: 1n }, { role: 'client' });
  first.metrics.bytes = 7;
  t.close({ pid: 10, fd: 5, id: 1n });
  const second = t.open({ pid: 10, fd: 5, id: 2n }, { role: 'server' });
  assert.notEqual(first, second);
  assert.equal(t.size, 2, 'the closed one stays until its flush');
  assert.equal(t.removeClosed(), 1);
  assert.deepEqual(
    t.all().map((c) => [c.key, c.role, c.metrics.bytes]),
    [['10:5:2', 'server', 0]],
  );
  // a data op on an unseen socket creates it with role unknown, as upstream
  assert.equal(t.getOrOpen({ pid: 10, fd: 9, id: 3 }).role, 'unknown');
});

test('bounded: the least recently active connection is evicted and counted', () => {
  const evicted: string[] = [];
  const t = new ConnectionTable<Counters>({
    maxConnections: 2,
    createMetrics: () => ({ bytes: 0 }),
    onEvict: (c) => evicted.push(c.key),
  });
  t.open({ pid: 1, fd: 1, id: 1 });
  t.open({ pid: 1, fd: 2, id: 1 });
  t.get({ pid: 1, fd: 1, id: 1 }); // fd 1 is now more recent than fd 2
  t.open({ pid: 1, fd: 3, id: 1 });
  assert.deepEqual(evicted, ['1:2:1']);
  assert.equal(t.evictions, 1);
  assert.equal(t.size, 2);
  assert.throws(() => table(0), /maxConnections must be positive/);
});

test('role from the first message: request out or response in is the client', () => {
  assert.equal(roleFromFirstMessage('request', 'egress'), 'client');
  assert.equal(roleFromFirstMessage('response', 'ingress'), 'client');
  assert.equal(roleFromFirstMessage('request', 'ingress'), 'server');
  assert.equal(roleFromFirstMessage('response', 'egress'), 'server');
  const t = table();
  const c = t.open({ pid: 1, fd: 1, id: 1 }, { role: 'server' });
  learnRole(c, 'request', 'egress');
  assert.equal(c.role, 'server', 'a known role is kept');
});

const processes = new Map([
  [100, proc(100, 'client')],
  [200, proc(200, 'server')],
  [300, proc(300, 'other', 'inst-2')],
]);
const ctx = (extra: Partial<TrafficContext<Counters>> = {}): TrafficContext<Counters> => ({
  processes,
  hostAddresses: new Set(['10.0.0.5', '127.0.0.1']),
  ...extra,
});

test('step 1: the mirrored 4-tuple names the peer process; an unknown role is the reverse of the peer', () => {
  const t = table();
  const cli = t.open({ pid: 100, fd: 3, id: 1 }, { local: a('127.0.0.1', 40000), remote: a('127.0.0.1', 8080) });
  cli.protocol = 'http';
  t.open({ pid: 200, fd: 7, id: 1 }, { role: 'server', local: a('127.0.0.1', 8080), remote: a('127.0.0.1', 40000) });
  const traffics = groupTraffics(t.all(), ctx());
  const client = traffics.find((x) => x.local.pid === 100)!;
  assert.equal(client.role, 'client');
  assert.equal(client.remotePid, 200);
  assert.deepEqual(client.remote, { kind: 'process', processId: 'id-server' });
  assert.equal(client.protocol, 'http');
  assert.ok(remoteIsMonitored(client, processes));
  const server = traffics.find((x) => x.local.pid === 200)!;
  assert.deepEqual(
    [server.role, server.remotePid, server.remote],
    ['server', 100, { kind: 'process', processId: 'id-client' }],
  );
});

test('step 3: the remote address is where a monitored server listens; other instance is only "local"', () => {
  const t = table();
  t.open({ pid: 300, fd: 4, id: 1 }, { role: 'server', local: a('10.0.0.5', 9000), remote: a('10.0.0.9', 5555) });
  // a client whose own end is not monitored the mirrored way (e.g. NAT), same target address
  t.open({ pid: 100, fd: 5, id: 1 }, { role: 'client', local: a('10.0.0.5', 41000), remote: a('10.0.0.5', 9000) });
  const client = groupTraffics(t.all(), ctx()).find((x) => x.local.pid === 100)!;
  assert.equal(client.remotePid, 300);
  assert.deepEqual(client.remote, { kind: 'local' }, 'pid 300 is another instance: labelled local, not by id');
});

test('unresolved: grouped by remote ip and port (port dropped for servers), labelled by address', () => {
  const t = table();
  t.open(
    { pid: 100, fd: 1, id: 1 },
    { role: 'client', local: a('10.0.0.5', 1), remote: a('93.184.216.34', 443) },
  ).isSsl = true;
  t.open({ pid: 100, fd: 2, id: 1 }, { role: 'client', local: a('10.0.0.5', 2), remote: a('93.184.216.34', 443) });
  t.open({ pid: 100, fd: 3, id: 1 }, { role: 'client', local: a('10.0.0.5', 3), remote: a('93.184.216.34', 80) });
  t.open({ pid: 200, fd: 4, id: 1 }, { role: 'server', local: a('10.0.0.5', 8080), remote: a('192.168.1.7', 50001) });
  t.open({ pid: 200, fd: 5, id: 1 }, { role: 'server', local: a('10.0.0.5', 8080), remote: a('192.168.1.7', 50002) });
  t.open({ pid: 999, fd: 1, id: 1 }, { role: 'client', local: a('10.0.0.5', 4), remote: a('1.1.1.1', 53) });
  const traffics = groupTraffics(t.all(), ctx());
  assert.deepEqual(
    traffics.map((x) => [x.local.name, x.role, x.remote, x.connections.length, x.isSsl]),
    [
      ['client', 'client', { kind: 'address', address: '93.184.216.34:443' }, 2, true],
      ['client', 'client', { kind: 'address', address: '93.184.216.34:80' }, 1, false],
      ['server', 'server', { kind: 'address', address: '192.168.1.7:50001' }, 2, false],
    ],
    'pid 999 is not monitored: no traffic',
  );
});

test('unknown role falls back to the listening ports; peer resolvers extend steps 2 and 4', () => {
  const t = table();
  t.open({ pid: 200, fd: 1, id: 1 }, { local: a('10.0.0.5', 8080), remote: a('10.1.0.1', 50000) });
  t.open({ pid: 200, fd: 2, id: 1 }, { local: a('10.0.0.5', 42000), remote: a('10.1.0.2', 3306) });
  const envoyLike: PeerResolver<Counters> = {
    name: 'test',
    remotePid: (c) => (c.remote?.port === 3306 ? 100 : undefined),
  };
  const traffics = groupTraffics(t.all(), ctx({ listeningPorts: () => new Set([8080]), peerResolvers: [envoyLike] }));
  assert.deepEqual(
    traffics.map((x) => [x.role, x.remotePid, x.remote.kind]),
    [
      ['server', undefined, 'address'],
      ['client', 100, 'process'],
    ],
  );
});

test('host addresses include loopback', () => {
  assert.ok(hostAddresses().has('127.0.0.1'));
});
