/**
 * Template contexts shared by the finders, mirroring upstream's `.Rover` and `.Process` objects.
 *
 * `.Rover`:   InstanceID, HostName, HostIPV4 "<iface>", HostIPV6 "<iface>"
 *             (an interface list "eth0,ens5" takes the first that has an address; "" = the default
 *             host address, i.e. the first non-loopback one; a missing address fails the render,
 *             as upstream's does).
 * `.Process`: ExeFilePath, ExeName, CommandLine, Pid, WorkDir, ExeNameInCommandLine.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { ProcFs } from './procfs.js';

export interface HostInfo {
  hostname: string;
  /** interface name → first IPv4 / IPv6 address */
  ipv4: Record<string, string>;
  ipv6: Record<string, string>;
  /** The address reported as host_ip: first non-internal IPv4 (else IPv6, else 127.0.0.1). */
  defaultIp: string;
}

export function readHostInfo(): HostInfo {
  const ipv4: Record<string, string> = {};
  const ipv6: Record<string, string> = {};
  let firstV4: string | undefined;
  let firstV6: string | undefined;
  const ifaces = networkInterfaces();
  for (const [name, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4') {
        ipv4[name] ??= a.address;
        if (!a.internal) firstV4 ??= a.address;
      } else if (a.family === 'IPv6') {
        ipv6[name] ??= a.address;
        if (!a.internal && !a.address.startsWith('fe80')) firstV6 ??= a.address;
      }
    }
  }
  return { hostname: hostname(), ipv4, ipv6, defaultIp: firstV4 ?? firstV6 ?? '127.0.0.1' };
}

export function roverContext(host: HostInfo, instanceId: string) {
  const pick = (table: Record<string, string>, kind: string, names: string): string => {
    if (names.trim() === '') {
      if (kind === 'v4' && host.defaultIp.includes('.')) return host.defaultIp;
      const any = Object.entries(table).find(([n, a]) => n !== 'lo' && !a.startsWith('127.') && a !== '::1');
      if (any) return any[1];
    }
    for (const n of names.split(',').map((s) => s.trim())) {
      const a = table[n];
      if (a) return a;
    }
    throw new Error(`could not found the ip ${kind} address from ${names}`);
  };
  return {
    InstanceID: () => instanceId,
    HostName: () => host.hostname,
    HostIPV4: (name: unknown = '') => pick(host.ipv4, 'v4', String(name)),
    HostIPV6: (name: unknown = '') => pick(host.ipv6, 'v6', String(name)),
  };
}

export interface ProcessFacts {
  pid: number;
  exe: string;
  exeName: string;
  argv: readonly string[];
}

export function processContext(p: ProcessFacts, proc: ProcFs) {
  return {
    Pid: () => p.pid,
    ExeFilePath: () => {
      if (!p.exe) throw new Error(`could not read the executable of pid ${p.pid}`);
      return p.exe;
    },
    ExeName: () => p.exeName,
    CommandLine: () => p.argv.join(' '),
    WorkDir: () => proc.cwdSync(p.pid),
    ExeNameInCommandLine: () => {
      if (p.argv.length === 0) throw new Error('cannot found the command line');
      return p.argv[0] as string;
    },
  };
}
