/**
 * Connections of the monitored processes and their grouping into traffics, following upstream
 * rover (analyze/base/connection.go and traffic.go):
 *
 * - a connection is keyed by (pid, fd, id): the id tells apart successive sockets that reuse an
 *   fd (the kernel's socket cookie, or a generation number the kernel side draws at creation);
 * - its role is client after connect, server after accept, else unknown until the first HTTP
 *   message tells (a request sent or a response received: client), else, at grouping, server when
 *   its local port is one the process listens on and client otherwise;
 * - at each flush the remote end of every connection is resolved to a monitored process when
 *   another monitored connection has the mirrored 4-tuple (step 1) or listens on its remote
 *   address (step 3); steps 2 (Envoy outbound) and 4 (service-mesh heuristics) are
 *   `PeerResolver` extensions;
 * - traffics group the connections by (local pid, remote pid, role) when the remote process is
 *   known, else by (local pid, role, remote ip, and the remote port unless the role is server).
 *
 * The table is bounded: past `maxConnections` the least recently active connection is evicted
 * (counted), so a process that leaks sockets cannot grow it without limit. Recency is kept
 * loosely: a connection moves to the recent end only when it was last moved more than a table's
 * size of lookups ago (a lookup per data record must stay cheap); eviction then takes one of the
 * least recently active.
 */

import { networkInterfaces } from 'node:os';

export type ConnectionRole = 'client' | 'server' | 'unknown';

export interface SocketAddress {
  ip: string;
  port: number;
}

export interface ConnectionKey {
  pid: number;
  fd: number;
  /** Socket cookie, or a generation number drawn when the kernel side first saw the socket. */
  id: bigint | number;
}

export interface TrackedConnection<M> {
  readonly key: string;
  readonly pid: number;
  readonly fd: number;
  readonly id: bigint | number;
  role: ConnectionRole;
  local?: SocketAddress;
  remote?: SocketAddress;
  /** 'http' once an HTTP/1 or HTTP/2 message was seen on it. */
  protocol: 'http' | 'unknown';
  isSsl: boolean;
  /** Set by close(); the connection stays until the flush that reports its last deltas. */
  closed: boolean;
  /** Per-connection accumulators (layer 4 deltas, HTTP parser state), created by the table. */
  readonly metrics: M;
  /** The table's lookup count when it last moved this connection to the recent end. */
  movedAt?: number;
}

const keyOf = (k: ConnectionKey): string => `${k.pid}:${k.fd}:${k.id}`;

export interface ConnectionTableOptions<M> {
  maxConnections: number;
  createMetrics: () => M;
  /** Called for each connection pushed out by the bound (its data is lost). */
  onEvict?: (conn: TrackedConnection<M>) => void;
}

export class ConnectionTable<M> {
  /** Insertion order is recency order: the first entry is the least recently active. */
  private readonly conns = new Map<string, TrackedConnection<M>>();
  private lookups = 0;
  evictions = 0;

  constructor(private readonly options: ConnectionTableOptions<M>) {
    if (!(options.maxConnections > 0))
      throw new Error(`maxConnections must be positive, got ${options.maxConnections}`);
  }

  get size(): number {
    return this.conns.size;
  }

  /** A connection seen at connect/accept (or its first data op: role unknown). Replaces a closed one with the same key. */
  open(
    key: ConnectionKey,
    init: { role?: ConnectionRole; local?: SocketAddress; remote?: SocketAddress } = {},
  ): TrackedConnection<M> {
    const k = keyOf(key);
    const existing = this.conns.get(k);
    if (existing && !existing.closed) {
      if (init.role && existing.role === 'unknown') existing.role = init.role;
      existing.local ??= init.local;
      existing.remote ??= init.remote;
      return this.touch(existing);
    }
    const conn: TrackedConnection<M> = {
      key: k,
      pid: key.pid,
      fd: key.fd,
      id: key.id,
      role: init.role ?? 'unknown',
      local: init.local,
      remote: init.remote,
      protocol: 'unknown',
      isSsl: false,
      closed: false,
      metrics: this.options.createMetrics(),
    };
    this.conns.delete(k);
    this.conns.set(k, conn);
    while (this.conns.size > this.options.maxConnections) {
      const [oldestKey, oldest] = this.conns.entries().next().value!;
      this.conns.delete(oldestKey);
      this.evictions++;
      this.options.onEvict?.(oldest);
    }
    return conn;
  }

  /** The live connection, marked as recently active; undefined if unknown. */
  get(key: ConnectionKey): TrackedConnection<M> | undefined {
    const conn = this.conns.get(keyOf(key));
    return conn ? this.touch(conn) : undefined;
  }

  /** The connection of a data op, created with role unknown if it was never seen (as upstream). */
  getOrOpen(key: ConnectionKey): TrackedConnection<M> {
    return this.get(key) ?? this.open(key);
  }

  close(key: ConnectionKey): TrackedConnection<M> | undefined {
    const conn = this.conns.get(keyOf(key));
    if (conn) conn.closed = true;
    return conn;
  }

  /** All connections (closed ones included until `removeClosed`). */
  all(): TrackedConnection<M>[] {
    return [...this.conns.values()];
  }

  /** Forgets every connection of a process. */
  removeProcess(pid: number): number {
    let n = 0;
    for (const [k, c] of this.conns) {
      if (c.pid === pid) {
        this.conns.delete(k);
        n++;
      }
    }
    return n;
  }

  /** After a flush has reported them. */
  removeClosed(): number {
    let n = 0;
    for (const [k, c] of this.conns) {
      if (c.closed) {
        this.conns.delete(k);
        n++;
      }
    }
    return n;
  }

  private touch(conn: TrackedConnection<M>): TrackedConnection<M> {
    const now = ++this.lookups;
    if (conn.movedAt !== undefined && now - conn.movedAt <= this.conns.size) return conn;
    conn.movedAt = now;
    this.conns.delete(conn.key);
    this.conns.set(conn.key, conn);
    return conn;
  }
}

/**
 * The role an HTTP message implies when the connection's is unknown: sending a request or
 * receiving a response makes the process the client, the opposite the server.
 */
export function roleFromFirstMessage(kind: 'request' | 'response', direction: 'egress' | 'ingress'): ConnectionRole {
  return (kind === 'request') === (direction === 'egress') ? 'client' : 'server';
}

/** Set the role from the first message if it is still unknown. */
export function learnRole<M>(
  conn: TrackedConnection<M>,
  kind: 'request' | 'response',
  direction: 'egress' | 'ingress',
): void {
  if (conn.role === 'unknown') conn.role = roleFromFirstMessage(kind, direction);
}

const reverse = (role: ConnectionRole): ConnectionRole =>
  role === 'client' ? 'server' : role === 'server' ? 'client' : 'unknown';

export interface MonitoredProcess {
  pid: number;
  /** The OAP's process id. */
  id: string;
  service: string;
  instance: string;
  name: string;
  layer: string;
}

/**
 * Steps 2 and 4 of upstream's remote resolution (Envoy outbound, service-mesh heuristics) are
 * not built in: a resolver may name the remote pid of a connection that steps 1 and 3 left
 * unresolved.
 */
export interface PeerResolver<M> {
  readonly name: string;
  remotePid(conn: TrackedConnection<M>, all: readonly TrackedConnection<M>[]): number | undefined;
}

export interface TrafficContext<M> {
  processes: ReadonlyMap<number, MonitoredProcess>;
  /** This host's interface addresses. */
  hostAddresses: ReadonlySet<string>;
  /** Ports the process listens on (user-space role fallback). */
  listeningPorts?: (pid: number) => ReadonlySet<number>;
  /** Tried in order after steps 1 and 3. */
  peerResolvers?: readonly PeerResolver<M>[];
}

/** How the far end is labelled (`<peer>_process_id` / `<peer>_local` / `<peer>_address`). */
export type RemoteEnd =
  { kind: 'process'; processId: string } | { kind: 'local' } | { kind: 'address'; address: string };

export interface Traffic<M> {
  local: MonitoredProcess;
  role: ConnectionRole;
  remotePid?: number;
  remoteIp: string;
  remotePort: number;
  protocol: 'http' | 'unknown';
  isSsl: boolean;
  remote: RemoteEnd;
  connections: TrackedConnection<M>[];
}

const addr = (a: SocketAddress | undefined): string => (a ? `${a.ip}:${a.port}` : '');
/** Steps 1 and 3 (and the resolvers): the remote pid, and the role a mirrored peer implies. */
function resolvePeer<M>(
  conn: TrackedConnection<M>,
  all: readonly TrackedConnection<M>[],
  byTuple: ReadonlyMap<string, TrackedConnection<M>>,
  listeners: ReadonlyMap<string, number[]>,
  resolvers: readonly PeerResolver<M>[],
): { pid?: number; role: ConnectionRole } {
  if (conn.local && conn.remote) {
    const peer = byTuple.get(`${addr(conn.remote)}>${addr(conn.local)}`);
    if (peer) return { pid: peer.pid, role: conn.role === 'unknown' ? reverse(peer.role) : conn.role };
  }
  const listening = conn.remote ? listeners.get(addr(conn.remote)) : undefined;
  if (listening && listening.length > 0) {
    return { pid: listening.find((p) => p !== conn.pid) ?? listening[0], role: conn.role };
  }
  for (const r of resolvers) {
    const pid = r.remotePid(conn, all);
    if (pid !== undefined) return { pid, role: conn.role };
  }
  return { role: conn.role };
}

/** Group connections into traffics for one flush (upstream CombineConnectionToTraffics). */
export function groupTraffics<M>(conns: readonly TrackedConnection<M>[], ctx: TrafficContext<M>): Traffic<M>[] {
  const byTuple = new Map<string, TrackedConnection<M>>();
  const listeners = new Map<string, number[]>();
  const monitoredLocalIps = new Set<string>();
  for (const c of conns) {
    if (c.local && c.remote) byTuple.set(`${addr(c.local)}>${addr(c.remote)}`, c);
    if (c.local) monitoredLocalIps.add(c.local.ip);
    if (c.role === 'server' && c.local) {
      const list = listeners.get(addr(c.local)) ?? [];
      if (!list.includes(c.pid)) list.push(c.pid);
      listeners.set(addr(c.local), list);
    }
  }
  const traffics = new Map<string, Traffic<M>>();
  for (const conn of conns) {
    const local = ctx.processes.get(conn.pid);
    if (!local) continue;
    const peer = resolvePeer(conn, conns, byTuple, listeners, ctx.peerResolvers ?? []);
    let role = peer.role;
    if (role === 'unknown' && conn.local && ctx.listeningPorts) {
      role = ctx.listeningPorts(conn.pid).has(conn.local.port) ? 'server' : 'client';
    }
    const remoteIp = conn.remote?.ip ?? '';
    const remotePort = conn.remote?.port ?? 0;
    const key =
      peer.pid !== undefined
        ? `p|${conn.pid}|${peer.pid}|${role}`
        : `a|${conn.pid}|${role}|${remoteIp}|${role === 'server' ? '' : remotePort}`;
    let traffic = traffics.get(key);
    if (!traffic) {
      traffic = {
        local,
        role,
        remotePid: peer.pid,
        remoteIp,
        remotePort,
        protocol: 'unknown',
        isSsl: false,
        remote: remoteEnd(local, peer.pid, remoteIp, remotePort, ctx, monitoredLocalIps),
        connections: [],
      };
      traffics.set(key, traffic);
    }
    traffic.connections.push(conn);
    if (conn.protocol === 'http') traffic.protocol = 'http';
    if (conn.isSsl) traffic.isSsl = true;
  }
  return [...traffics.values()];
}

/** Process id only for a monitored peer of the same service instance, as upstream labels it. */
function remoteEnd<M>(
  local: MonitoredProcess,
  remotePid: number | undefined,
  remoteIp: string,
  remotePort: number,
  ctx: TrafficContext<M>,
  monitoredLocalIps: ReadonlySet<string>,
): RemoteEnd {
  const remote = remotePid === undefined ? undefined : ctx.processes.get(remotePid);
  if (remote && remote.service === local.service && remote.instance === local.instance) {
    return { kind: 'process', processId: remote.id };
  }
  if (isLocalAddress(remoteIp, ctx.hostAddresses) || monitoredLocalIps.has(remoteIp)) return { kind: 'local' };
  return { kind: 'address', address: `${remoteIp}:${remotePort}` };
}

/** One of the host's addresses or the unspecified address (upstream IsLocalHostAddress). */
export function isLocalAddress(ip: string, hostAddresses: ReadonlySet<string>): boolean {
  return ip === '0.0.0.0' || ip === '::' || hostAddresses.has(ip);
}

/** Is the remote process also monitored (then both ends report the exchange)? */
export const remoteIsMonitored = <M>(t: Traffic<M>, processes: ReadonlyMap<number, MonitoredProcess>): boolean =>
  t.remotePid !== undefined && processes.has(t.remotePid);

/** The addresses of this host's interfaces (loopback included), for `TrafficContext.hostAddresses`. */
export function hostAddresses(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(interfaces)) for (const i of list ?? []) out.add(i.address);
  return out;
}
