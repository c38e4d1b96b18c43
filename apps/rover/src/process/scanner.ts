/**
 * Host mode ("scanner" upstream): matches the host's processes against the configured finders.
 *
 * REGEX mode: each finder has `match_cmd` (regex over the command line, arguments joined by
 * spaces) and/or `match_exe` (regex over the executable path); the first finder whose regexes all
 * match wins. Its templates build the entity; they see `.Rover`, `.Process` (see context.ts) and
 * `.Finder`: `Layer`, `RegexMatchGroup N` (group N of the match_cmd match, 0 = whole match) and
 * `ExeRegexMatchGroup N` (same for match_exe). If several processes build the same entity, only
 * the oldest is reported (upstream reports one and warns).
 *
 * AGENT_SENSOR mode: processes running a SkyWalking language agent, found by the metadata file
 * the agent refreshes at `<tmp>/apache_skywalking/process/<pid>/metadata.properties` (tmp =
 * the process's TMPDIR, else /tmp, seen through /proc/PID/root); the file gives layer,
 * service_name, instance_name, process_name, labels.
 *
 * AUTO mode (the default; ours): what a person means by "the services of this host": processes
 * with a language agent (as AGENT_SENSOR) and, among the processes the regex finders match, the
 * servers (a listening TCP socket, see listeners.ts). Short-lived commands are never reported.
 */
import { readFile, stat as fsStat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegexFinderConfig, ScannerConfig } from '../config/types.js';
import { type HostInfo, processContext, roverContext } from './context.js';
import { ListenerIndex } from './listeners.js';
import type { LiveProcess, ProcessTable } from './table.js';
import { type CompiledTemplate, compileTemplate } from './template.js';
import { type DiscoveredProcess, type ProcessEntity, entityIdentity } from './types.js';

export interface FinderDeps {
  table: ProcessTable;
  host: HostInfo;
  /** rover's own instance ID (`.Rover.InstanceID`). */
  instanceId: string;
  warn: (message: string, fields?: Record<string, unknown>) => void;
}

/** A source of processes; ProcessDiscovery runs `scan()` every `periodMs`. */
export interface ProcessFinder {
  readonly name: string;
  readonly periodMs: number;
  init?(): Promise<void>;
  scan(): Promise<DiscoveredProcess[]>;
  close?(): void;
}

interface CompiledFinder {
  index: number;
  config: RegexFinderConfig;
  cmd?: RegExp;
  exe?: RegExp;
  service: CompiledTemplate;
  instance: CompiledTemplate;
  process: CompiledTemplate;
}

/**
 * The fields every finder fills the same way from a live process and its entity; `properties`
 * go between host_ip and the pid/command line/profiling support that end every list.
 */
export function discoveredProcess(
  detectType: DiscoveredProcess['detectType'],
  p: LiveProcess,
  entity: ProcessEntity,
  hostIp: string,
  properties: DiscoveredProcess['properties'] = [],
): DiscoveredProcess {
  return {
    key: `${detectType}|${p.pid}|${p.startTicks}|${entityIdentity(entity)}|${entity.labels.join(',')}`,
    pid: p.pid,
    detectType,
    entity,
    layer: entity.layer,
    serviceName: entity.serviceName,
    instanceName: entity.instanceName,
    processName: entity.processName,
    labels: entity.labels,
    exe: p.exe,
    exeName: p.exeName,
    cmdline: p.cmdline,
    argv: p.argv,
    startTime: p.startTime,
    startTicks: p.startTicks,
    hostIp,
    profilingSupported: p.profilingSupported,
    properties: [
      { key: 'host_ip', value: hostIp },
      ...properties,
      { key: 'pid', value: String(p.pid) },
      { key: 'command_line', value: p.cmdline },
      { key: 'support_ebpf_profiling', value: String(p.profilingSupported) },
    ],
  };
}

/** Builds a host-mode DiscoveredProcess (also used by tests and other finders). */
export function makeHostProcess(p: LiveProcess, entity: ProcessEntity, hostIp: string): DiscoveredProcess {
  return discoveredProcess('VM', p, entity, hostIp);
}

/** Keeps one process per entity identity: the oldest (then lowest pid). */
export function dedupeByEntity(list: DiscoveredProcess[]): DiscoveredProcess[] {
  const groups = new Map<string, DiscoveredProcess[]>();
  for (const p of list) {
    const id = entityIdentity(p.entity);
    const g = groups.get(id);
    if (g) g.push(p);
    else groups.set(id, [p]);
  }
  const out: DiscoveredProcess[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.startTicks - b.startTicks || a.pid - b.pid);
    out.push(g[0] as DiscoveredProcess);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

export class ScannerFinder implements ProcessFinder {
  readonly name = 'scanner';
  readonly periodMs: number;
  private readonly finders: CompiledFinder[];
  /** per pid:startTicks → built process or null (no finder / failed), so templates run once. */
  private cache = new Map<string, DiscoveredProcess | null>();
  /** per pid:startTicks → where its language agent would write its metadata file. */
  private agentFiles = new Map<string, string[]>();
  private readonly listeners: ListenerIndex;
  private readonly warnedDuplicates = new Set<string>();

  constructor(
    private readonly config: ScannerConfig,
    private readonly deps: FinderDeps,
  ) {
    this.periodMs = config.periodMs;
    this.listeners = new ListenerIndex(deps.table.proc);
    this.finders = config.regex.map((f, index) => {
      const at = `process_discovery.scanner.regex[${index}]`;
      return {
        index,
        config: f,
        ...(f.matchCmd !== undefined ? { cmd: new RegExp(f.matchCmd) } : {}),
        ...(f.matchExe !== undefined ? { exe: new RegExp(f.matchExe) } : {}),
        service: compileTemplate(`${at}.service_name`, f.serviceName),
        instance: compileTemplate(`${at}.instance_name`, f.instanceName),
        process: compileTemplate(`${at}.process_name`, f.processName),
      };
    });
  }

  async scan(): Promise<DiscoveredProcess[]> {
    const live = (await this.deps.table.list()).filter((p) => p.ageMs >= this.config.minAgeMs);
    const keyOf = (p: LiveProcess) => `${p.pid}:${p.startTicks}`;
    const mode = this.config.mode;
    if (mode === 'AUTO') this.listeners.beginScan(live.map(keyOf));
    const next = new Map<string, DiscoveredProcess | null>();
    const nextAgentFiles = new Map<string, string[]>();
    const found: DiscoveredProcess[] = [];
    for (const p of live) {
      const key = keyOf(p);
      let built: DiscoveredProcess | null | undefined = null;
      if (mode !== 'REGEX') {
        // the agent's metadata file comes and goes (it must stay fresh): check on every scan
        const files = this.agentFiles.get(key) ?? (await this.agentFileCandidates(p));
        nextAgentFiles.set(key, files);
        built = await this.buildFromAgent(p, files);
      }
      if (!built && mode !== 'AGENT_SENSOR') {
        built = this.cache.get(key);
        if (built === undefined) built = this.buildByRegex(p);
        next.set(key, built);
        if (built && mode === 'AUTO' && !this.listeners.isServer(p.pid, key)) built = null;
      }
      if (built) found.push(built);
    }
    this.cache = next;
    this.agentFiles = nextAgentFiles;
    const result = dedupeByEntity(found);
    if (result.length !== found.length) this.warnDuplicates(found, result);
    return result;
  }

  /** Matches one process against the finders; null when none matches or a template fails. */
  buildByRegex(p: LiveProcess): DiscoveredProcess | null {
    const f = this.finders.find(
      (c) => (c.cmd === undefined || c.cmd.test(p.cmdline)) && (c.exe === undefined || (p.exe !== '' && c.exe.test(p.exe))),
    );
    if (!f || (f.cmd === undefined && f.exe === undefined)) return null;
    const group = (re: RegExp | undefined, subject: string, what: string) => (n: unknown) => {
      const idx = Number(n);
      const m = re?.exec(subject);
      if (!m || !Number.isInteger(idx) || idx < 0 || idx >= m.length || m[idx] === undefined) {
        throw new Error(`could not find ${what} match group ${String(n)}`);
      }
      return m[idx] as string;
    };
    const ctx = {
      Rover: roverContext(this.deps.host, this.deps.instanceId),
      Process: processContext(p, this.deps.table.proc),
      Finder: {
        Layer: () => f.config.layer,
        RegexMatchGroup: group(f.cmd, p.cmdline, 'command line'),
        ExeRegexMatchGroup: group(f.exe, p.exe, 'executable'),
      },
    };
    try {
      const entity: ProcessEntity = {
        layer: f.config.layer,
        serviceName: f.service.render(ctx),
        instanceName: f.instance.render(ctx),
        processName: f.process.render(ctx),
        labels: [...f.config.labels],
      };
      for (const [k, v] of Object.entries(entity)) {
        if (v === '') throw new Error(`${k} rendered empty`);
      }
      return makeHostProcess(p, entity, this.deps.host.defaultIp);
    } catch (err) {
      this.deps.warn(`failed to build the process data for pid ${p.pid}: ${(err as Error).message}`, {
        pid: p.pid,
        finder: f.index,
      });
      return null;
    }
  }

  /** The metadata files a language agent in this process would refresh (TMPDIR, then /tmp; each pid of its pid namespaces). */
  private async agentFileCandidates(p: LiveProcess): Promise<string[]> {
    const proc = this.deps.table.proc;
    const env = (await proc.environ(p.pid)) ?? [];
    const tmpDirs: string[] = [];
    const tmpEnv = env.find((e) => e.startsWith('TMPDIR='));
    if (tmpEnv) tmpDirs.push(proc.path(p.pid, 'root', tmpEnv.slice('TMPDIR='.length)));
    tmpDirs.push(proc.path(p.pid, 'root', 'tmp'));
    const pids = [p.pid, ...((await proc.nsPids(p.pid)) ?? []).slice(1).reverse()];
    return tmpDirs.flatMap((dir) => pids.map((id) => join(dir, 'apache_skywalking', 'process', String(id), 'metadata.properties')));
  }

  private async buildFromAgent(p: LiveProcess, files: readonly string[]): Promise<DiscoveredProcess | null> {
    for (const file of files) {
      const st = await fsStat(file).catch(() => undefined);
      if (!st) continue;
      if (st.mtimeMs + this.config.agent.processStatusRefreshPeriodMs < Date.now()) return null;
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const meta = parseProperties(text);
      const need = ['layer', 'service_name', 'instance_name', 'process_name'] as const;
      const missing = need.filter((k) => !meta[k]);
      if (missing.length) {
        this.deps.warn(`agent metadata of pid ${p.pid} lacks ${missing.join(', ')}`, { file });
        return null;
      }
      const entity: ProcessEntity = {
        layer: meta.layer as string,
        serviceName: meta.service_name as string,
        instanceName: meta.instance_name as string,
        processName: meta.process_name as string,
        labels: (meta.labels ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      };
      return makeHostProcess(p, entity, this.deps.host.defaultIp);
    }
    return null;
  }

  private warnDuplicates(found: DiscoveredProcess[], kept: DiscoveredProcess[]): void {
    const keptKeys = new Set(kept.map((p) => p.key));
    for (const p of found) {
      if (keptKeys.has(p.key)) continue;
      const id = entityIdentity(p.entity);
      if (this.warnedDuplicates.has(id)) continue;
      this.warnedDuplicates.add(id);
      this.deps.warn(
        'found multiple processes with the same entity in the scanner, only the oldest is reported; ' +
          'make the finder templates tell them apart',
        { entity: id, pid: p.pid },
      );
    }
    if (this.warnedDuplicates.size > 10_000) this.warnedDuplicates.clear();
  }
}

/** Java-style .properties (key=value or key: value, # and ! comments); enough for agent metadata. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) out[(m[1] as string).toLowerCase()] = m[2] as string;
  }
  return out;
}
