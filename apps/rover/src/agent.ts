/**
 * Composition root of rover: discovery → reporter → task manager (profiling targets, uploads) and
 * continuous profiling; the symbolizer is shared by the targets that need it.
 * `startRover` is what main.ts and the tests start.
 */
import { closeAllObjects, releaseFreeMemory } from '@swlite/libbpf-ts';
import { Symbolizer, debuginfodOptionsFromEnv } from '@swlite/symbolizer';
import type { Logger } from 'pino';
import { BackendConnection } from './backend/connection';
import { createContinuousProfiling, type ContinuousProfiling } from './continuous';
import type { RoverConfig } from './config';
import { ProcessDiscovery } from './process/discovery';
import { ProcessReporter } from './process/reporter';
import { createTargetRegistry } from './profiling/targets/registry';
import { TaskManager } from './profiling/task-manager';

export interface Rover {
  agentId: string;
  discovery: ProcessDiscovery;
  reporter: ProcessReporter;
  tasks: TaskManager;
  continuous: ContinuousProfiling;
  stop(): Promise<void>;
}

export interface RoverOptions {
  log: Logger;
  /** Extra pids discovery must not report (the test harness, for instance). */
  excludePids?: number[];
}

export const startRover = async (config: RoverConfig, options: RoverOptions): Promise<Rover> => {
  const { log } = options;
  const backend = new BackendConnection(config.core.backend);
  const discovery = new ProcessDiscovery(config, {
    logger: log.child({ module: 'discovery' }),
    excludePids: [process.pid, ...(options.excludePids ?? [])],
  });
  const agentId = discovery.instanceId;
  const reporter = new ProcessReporter(backend, discovery, agentId, config.processDiscovery.heartbeatPeriodMs, log.child({ module: 'reporter' }));
  // Debug files from debuginfod servers only when DEBUGINFOD_URLS names some (fetched in the background).
  const debuginfod = debuginfodOptionsFromEnv(process.env);
  const symbolizer = new Symbolizer(debuginfod ? { debuginfod: { ...debuginfod, log: log.child({ module: 'debuginfod' }) } } : {});
  if (debuginfod) log.info({ urls: symbolizer.debuginfod!.urls, cache: debuginfod.cachePath }, 'debuginfod enabled');
  const profilingLog = log.child({ module: 'profiling' });
  const targets = createTargetRegistry({
    config: config.profiling,
    symbolizer,
    log: profilingLog,
    network: {
      reporter: {
        meters: (collections) => backend.collectMeters(collections),
        logs: (_service, logs) => backend.collectLogs(logs),
        events: (events) => backend.collectSpanAttachedEvents(events),
      },
      process: (pid) => {
        const r = reporter.all().find((p) => p.process.pid === pid);
        if (!r) return undefined;
        const p = r.process;
        return { pid, id: r.processId, service: p.serviceName, instance: p.instanceName, name: p.processName, layer: p.layer };
      },
    },
  });
  const tasks = new TaskManager(backend, reporter, {
    agentId,
    checkIntervalMs: config.profiling.checkIntervalMs,
    flushIntervalMs: config.profiling.flushIntervalMs,
    targets,
    log: profilingLog,
  });
  discovery.on('change', ({ removed }) => {
    for (const p of removed) tasks.processExited(p.pid);
  });
  const continuous = createContinuousProfiling(config, backend, reporter, tasks, targets, log.child({ module: 'continuous' }));
  await discovery.start();
  reporter.start();
  if (config.profiling.active) {
    tasks.start();
    continuous.start();
  }
  log.info({ agentId, backend: config.core.backend.addr, processes: discovery.current().length }, 'rover started');
  // RSS is what a pod's memory limit sees: give glibc's free pages back every 30 s (measured: the
  // heap held ~17 MB free after kallsyms and ELF loads, 105 -> 88 MB RSS profiling with CFI).
  const trim = setInterval(() => {
    try {
      releaseFreeMemory();
    } catch {
      clearInterval(trim); // no addon here: nothing to trim with
    }
  }, 30_000);
  trim.unref();

  return {
    agentId,
    discovery,
    reporter,
    tasks,
    continuous,
    stop: async () => {
      clearInterval(trim);
      continuous.stop();
      await tasks.stop();
      reporter.stop();
      await discovery.stop();
      backend.close();
      closeAllObjects();
      symbolizer.close();
    },
  };
};
