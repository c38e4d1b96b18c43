/** The swlite command line: commander program over the GraphQL API. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PROFILING_TRIGGER_TYPES, type ProfilingTargetType, type ProfilingTriggerType } from '@swlite/protocol';
import { OapApi, type AggregateType, type Process, type SamplingRule } from './api';
import { DEFAULT_OAP, OapClient } from './client';
import { UserError } from './errors';
import { checkPicturePath, printReport, readNetworkTask, runNetwork, writePicture } from './network';
import { consolePrinter, type Printer } from './printer';
import { findTask, formatTime, listTasks, renderTask, runProfile } from './profile';
import { compactTable } from './tables';
import {
  DEFAULT_FLAME_GRAPH_TARGET,
  FLAME_GRAPH_TARGETS,
  TARGET_TYPES,
  TARGET_VIEWS,
  targetsWithAggregate,
} from './targets';

const VERSION = '0.1.0';

const oneOf =
  <T extends string>(values: readonly T[]) =>
  (value: string): T => {
    const upper = value.trim().toUpperCase().replace(/-/g, '_') as T;
    if (!values.includes(upper)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return upper;
  };

const positiveInt =
  (what: string, min = 1, max = 86_400) =>
  (value: string): number => {
    if (!/^\s*\d+\s*$/.test(value)) throw new InvalidArgumentError(`${what} must be a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${what} must be between ${min} and ${max}`);
    return n;
  };

const labelList = (value: string): string[] => {
  const labels = value
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
  if (!labels.length) throw new InvalidArgumentError('give one or more labels separated by commas');
  return labels;
};

interface SamplingOptions {
  sampling: boolean;
  uriRegex?: string;
  minDuration?: number;
  when4xx?: boolean;
  when5xx?: boolean;
  requestBody?: boolean;
  responseBody?: boolean;
  maxBodySize?: number;
}

/**
 * The task's sampling rule from the flags (upstream's EBPFNetworkSamplingRule). Without flags it
 * is the UI's default rule: 5xx responses, with their complete request and response.
 */
export const samplingRules = (opts: SamplingOptions): SamplingRule[] => {
  const given = [
    opts.uriRegex !== undefined && '--uri-regex',
    opts.minDuration !== undefined && '--min-duration',
    opts.when4xx && '--when-4xx',
    opts.when5xx !== undefined && '--when-5xx',
    opts.requestBody && '--request-body',
    opts.responseBody && '--response-body',
    opts.maxBodySize !== undefined && '--max-body-size',
  ].filter(Boolean);
  if (!opts.sampling) {
    if (given.length) throw new UserError(`--no-sampling cannot go with ${given.join(', ')}`);
    return [];
  }
  if (opts.uriRegex !== undefined) {
    try {
      new RegExp(opts.uriRegex);
    } catch (err) {
      throw new UserError(
        `--uri-regex ${JSON.stringify(opts.uriRegex)} is not a regular expression: ${(err as Error).message}`,
      );
    }
  }
  const when5xx = opts.when5xx !== false;
  if (!opts.when4xx && !when5xx && opts.minDuration === undefined) {
    throw new UserError(
      'the rule samples nothing: give --when-4xx, --min-duration, or leave 5xx sampling on (or use --no-sampling)',
    );
  }
  // neither flag: both, as the UI asks
  const both = !opts.requestBody && !opts.responseBody;
  return [
    {
      uriRegex: opts.uriRegex,
      minDuration: opts.minDuration,
      when4xx: Boolean(opts.when4xx),
      when5xx,
      settings: {
        requireCompleteRequest: both || Boolean(opts.requestBody),
        maxRequestSize: opts.maxBodySize,
        requireCompleteResponse: both || Boolean(opts.responseBody),
        maxResponseSize: opts.maxBodySize,
      },
    },
  ];
};

/** The `network` options that shape a new task (meaningless with --task), by their commander names. */
const NEW_TASK_FLAGS: Record<string, string> = {
  duration: '--duration',
  uriRegex: '--uri-regex',
  minDuration: '--min-duration',
  when4xx: '--when-4xx',
  when5xx: '--when-5xx',
  requestBody: '--request-body',
  responseBody: '--response-body',
  maxBodySize: '--max-body-size',
  sampling: '--sampling',
};

interface GlobalOptions {
  oap: string;
  debug?: boolean;
  timeout: number;
}

const attr = (p: { attributes: Array<{ name: string; value: string }> }, name: string) =>
  p.attributes.find((a) => a.name === name)?.value ?? '';
const shortId = (id: string, wide: boolean | undefined) => (wide || id.length <= 16 ? id : `${id.slice(0, 12)}…`);

export interface CliContext {
  printer: Printer;
  env: NodeJS.ProcessEnv;
}

export const buildProgram = (ctx: CliContext = { printer: consolePrinter(), env: process.env }): Command => {
  const { printer } = ctx;
  const program = new Command('swlite');
  const table = (head: string[]) => compactTable(printer, head);
  const print = (json: boolean | undefined, rows: unknown, render: () => string, empty: string, count: number) => {
    if (json) printer.out(JSON.stringify(rows, null, 2));
    else if (!count) printer.out(empty);
    else printer.out(render());
  };

  program
    .description(
      'Terminal client for oap-lite (SkyWalking eBPF profiling): list services and processes, run profiling tasks, draw flame graphs.',
    )
    .version(VERSION)
    .addOption(
      new Option(
        '--oap <address>',
        'oap-lite address, GraphQL on its REST port (env: SW_OAP_ADDRESS or SWLITE_OAP)',
      ).default(ctx.env.SW_OAP_ADDRESS || ctx.env.SWLITE_OAP || DEFAULT_OAP),
    )
    .option('--timeout <seconds>', 'per-request timeout', positiveInt('--timeout', 1, 600), 15)
    .option('--debug', 'print stack traces of errors')
    .showHelpAfterError('(run "swlite --help" for usage)')
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    })
    .exitOverride();

  const api = (cmd: Command): OapApi => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return new OapApi(new OapClient(g.oap, { timeoutMs: g.timeout * 1000 }));
  };

  program
    .command('services')
    .description('list services')
    .option('--layer <layer>', 'only services of this layer (OS_LINUX, K8S_SERVICE, ...)')
    .option('--json', 'print JSON')
    .action(async (opts: { layer?: string; json?: boolean }, cmd: Command) => {
      const services = await api(cmd).listServices(opts.layer);
      print(
        opts.json,
        services,
        () => {
          const t = table(['Service', 'Layers', 'Group', 'Normal', 'ID']);
          for (const s of services)
            t.push([s.name, s.layers.join(', '), s.group, s.normal === false ? 'no' : 'yes', s.id]);
          return t.toString();
        },
        opts.layer ? `No services in layer ${opts.layer}.` : 'No services yet (is a rover reporting processes?).',
        services.length,
      );
    });

  program
    .command('instances <service>')
    .description('list the instances (hosts, pods) of a service')
    .option('--since <minutes>', 'seen in the last N minutes', positiveInt('--since', 1, 525_600), 60)
    .option('--json', 'print JSON')
    .action(async (serviceName: string, opts: { since: number; json?: boolean }, cmd: Command) => {
      const a = api(cmd);
      const service = await a.resolveService(serviceName);
      const instances = await a.listInstances(service.id, await a.recentDuration(opts.since));
      print(
        opts.json,
        instances,
        () => {
          const t = table(['Instance', 'Language', 'Attributes', 'ID']);
          for (const i of instances)
            t.push([i.name, i.language, i.attributes.map((x) => `${x.name}=${x.value}`).join('\n'), i.id]);
          return t.toString();
        },
        `No instances of ${service.name} seen in the last ${opts.since} minutes.`,
        instances.length,
      );
    });

  program
    .command('processes <service>')
    .description('list the processes of a service that rovers reported')
    .option('--instance <instance>', 'only this instance (name or ID)')
    .option('--since <minutes>', 'seen in the last N minutes', positiveInt('--since', 1, 525_600), 60)
    .option('--wide', 'show full IDs')
    .option('--json', 'print JSON')
    .action(
      async (
        serviceName: string,
        opts: {
          instance?: string;
          since: number;
          wide?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const a = api(cmd);
        const service = await a.resolveService(serviceName);
        const duration = await a.recentDuration(opts.since);
        const instances = opts.instance
          ? await a.resolveInstance(service, opts.instance, duration, `the last ${opts.since} minutes`)
          : await a.listInstances(service.id, duration);
        const processes: Process[] = [];
        for (const i of instances) processes.push(...(await a.listProcesses(i.id, duration)));
        print(
          opts.json,
          processes,
          () => {
            const t = table(['Process', 'PID', 'Instance', 'Labels', 'Profilable', 'Agent', 'Detect', 'ID']);
            for (const p of processes) {
              t.push([
                p.name,
                attr(p, 'pid'),
                p.instanceName,
                p.labels.join(', '),
                attr(p, 'support_ebpf_profiling') === 'false' ? 'no' : 'yes',
                p.agentId,
                p.detectType,
                shortId(p.id, opts.wide),
              ]);
            }
            return t.toString();
          },
          `No processes of ${service.name}${opts.instance ? ` on ${opts.instance}` : ''} seen in the last ${opts.since} minutes.`,
          processes.length,
        );
      },
    );

  program
    .command('tasks <service>')
    .description('list the eBPF profiling tasks of a service, newest first')
    .addOption(new Option('--target <type>', TARGET_TYPES.join(' or ')).argParser(oneOf(TARGET_TYPES)))
    .addOption(
      new Option('--trigger <type>', PROFILING_TRIGGER_TYPES.join(' or ')).argParser(oneOf(PROFILING_TRIGGER_TYPES)),
    )
    .option('--wide', 'show full task IDs')
    .option('--json', 'print JSON')
    .action(
      async (
        serviceName: string,
        opts: {
          target?: ProfilingTargetType;
          trigger?: ProfilingTriggerType;
          wide?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const a = api(cmd);
        const service = await a.resolveService(serviceName);
        const tasks = await listTasks(a, {
          serviceId: service.id,
          targets: opts.target ? [opts.target] : undefined,
          triggerType: opts.trigger,
        });
        print(
          opts.json,
          tasks,
          () => {
            const t = table(['Task', 'Target', 'Trigger', 'Processes', 'Start', 'Duration', 'Created']);
            for (const k of tasks) {
              const who = k.processName ?? (k.processLabels.length ? `labels: ${k.processLabels.join(', ')}` : 'all');
              t.push([
                shortId(k.taskId, opts.wide),
                k.targetType,
                k.triggerType,
                who,
                formatTime(Number(k.taskStartTime)),
                k.fixedTriggerDuration ? `${k.fixedTriggerDuration} s` : '',
                formatTime(Number(k.createTime)),
              ]);
            }
            return t.toString();
          },
          `No${opts.target ? ` ${opts.target}` : ''}${opts.trigger ? ` ${opts.trigger}` : ''} tasks for ${service.name}.`,
          tasks.length,
        );
      },
    );

  const defaultOut = (name: string) =>
    `swlite-${name.replace(/[^A-Za-z0-9._-]+/g, '_')}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
  const checkAggregate = (aggregate: AggregateType, target: ProfilingTargetType) => {
    if (!TARGET_VIEWS[target].aggregates.includes(aggregate)) {
      throw new UserError(
        `--aggregate ${aggregate} needs an ${targetsWithAggregate(aggregate).join(' or ')} task (${TARGET_VIEWS[target].label} data carry ${TARGET_VIEWS[target].aggregates.join(' and ') || 'no values'} only); this one is ${target}`,
      );
    }
  };

  program
    .command('profile <service>')
    .description(
      'run a fixed-time eBPF profiling task on a service and write its flame graph (HTML, SVG, folded stacks, pprof)',
    )
    .option('--labels <labels>', 'only processes with all these labels (comma separated)', labelList, [] as string[])
    .addOption(
      new Option('--target <type>', FLAME_GRAPH_TARGETS.join(' or '))
        .argParser(oneOf(FLAME_GRAPH_TARGETS))
        .default(DEFAULT_FLAME_GRAPH_TARGET),
    )
    .option(
      '--duration <seconds>',
      'how long to profile (oap-lite enforces its minimum, 60 s by default)',
      positiveInt('--duration', 1, 3600),
      60,
    )
    .option('--out <dir>', 'directory for the files (default: ./swlite-<service>-<time>)')
    .addOption(
      new Option('--aggregate <type>', 'COUNT (samples/switches) or DURATION (off-CPU time)')
        .argParser(oneOf(['COUNT', 'DURATION'] as const))
        .default('COUNT'),
    )
    .option('--wait', "after the duration, wait for the rovers' last uploads (until the totals stop growing)")
    .option('--wait-max <seconds>', 'longest --wait', positiveInt('--wait-max', 1, 600), 30)
    .action(
      async (
        serviceName: string,
        opts: {
          labels: string[];
          target: ProfilingTargetType;
          duration: number;
          out?: string;
          aggregate: AggregateType;
          wait?: boolean;
          waitMax: number;
        },
        cmd: Command,
      ) => {
        checkAggregate(opts.aggregate, opts.target);
        await runProfile(api(cmd), printer, {
          service: serviceName,
          labels: opts.labels,
          target: opts.target,
          durationSec: opts.duration,
          out: opts.out ?? defaultOut(serviceName),
          aggregate: opts.aggregate,
          waitSec: opts.wait ? opts.waitMax : 0,
        });
      },
    );

  program
    .command('flamegraph')
    .description('write the flame graph files of an existing task')
    .requiredOption('--task <id>', 'task ID (or a unique prefix of 6+ characters)')
    .option('--out <dir>', 'directory for the files (default: ./swlite-task-<id>)')
    .addOption(
      new Option('--aggregate <type>', 'COUNT or DURATION (off-CPU tasks)')
        .argParser(oneOf(['COUNT', 'DURATION'] as const))
        .default('COUNT'),
    )
    .action(async (opts: { task: string; out?: string; aggregate: AggregateType }, cmd: Command) => {
      const a = api(cmd);
      if (opts.aggregate === 'DURATION') {
        checkAggregate(opts.aggregate, (await findTask(a, opts.task)).targetType);
      }
      await renderTask(a, printer, opts.task, {
        out: opts.out ?? `swlite-task-${opts.task.slice(0, 12)}`,
        aggregate: opts.aggregate,
      });
    });

  program
    .command('network <service> <instance>')
    .description(
      "profile an instance's network for a while: the processes' topology with per-edge request rate, latency, status codes and bytes, and the sampled slow/4xx/5xx requests",
    )
    .option(
      '--duration <seconds>',
      'how long to profile; the task is kept alive meanwhile (Ctrl-C stops early and prints what arrived)',
      positiveInt('--duration', 1, 86_400),
      60,
    )
    .option('--task <id>', 'read an existing NETWORK task again (ID or a unique prefix) instead of creating one')
    .option('--uri-regex <regex>', 'sample only requests whose URI matches')
    .option(
      '--min-duration <ms>',
      'sample requests that take at least this long',
      positiveInt('--min-duration', 0, 3_600_000),
    )
    .option('--when-4xx', 'sample 4xx responses')
    .option('--when-5xx', 'sample 5xx responses (the default)')
    .option('--no-when-5xx', 'do not sample 5xx responses')
    .option(
      '--request-body',
      'keep the complete request of sampled exchanges (with neither this nor --response-body both are kept)',
    )
    .option('--response-body', 'keep the complete response of sampled exchanges')
    .option(
      '--max-body-size <bytes>',
      'keep at most this many bytes of each request and response',
      positiveInt('--max-body-size', 1, 2 ** 31 - 1),
    )
    .option('--no-sampling', 'sample no requests (topology and metrics only)')
    .option('--records <n>', 'sampled requests shown per kind (slow, 4xx, 5xx)', positiveInt('--records', 1, 1000), 10)
    .option('--out <file>', 'also draw the topology: a .svg picture or an interactive .html page')
    .option('--json', 'print one JSON object: task, window, processes, edges with their metrics and sampled requests')
    .addHelpText(
      'after',
      '\nRequests are sampled only when they carry a trace header (sw8 or b3), as rover samples them.\nThe OAP runs a network task for 10 minutes and extends it while the command keeps it alive.',
    )
    .action(
      async (
        serviceName: string,
        instanceName: string,
        opts: SamplingOptions & { duration: number; task?: string; records: number; out?: string; json?: boolean },
        cmd: Command,
      ) => {
        if (opts.out) checkPicturePath(opts.out);
        if (opts.task) {
          const creating = Object.entries(NEW_TASK_FLAGS)
            .filter(([o]) => cmd.getOptionValueSource(o) === 'cli')
            .map(([o, flag]) =>
              (o === 'when5xx' && opts.when5xx === false) || o === 'sampling' ? `--no-${flag.slice(2)}` : flag,
            );
          if (creating.length) {
            throw new UserError(`--task reads an existing task: ${creating.join(', ')} only apply to a new one`);
          }
        }
        const a = api(cmd);
        const report = opts.task
          ? await readNetworkTask(a, {
              service: serviceName,
              instance: instanceName,
              taskId: opts.task,
              records: opts.records,
            })
          : await runNetwork(a, printer, {
              service: serviceName,
              instance: instanceName,
              durationSec: opts.duration,
              samplings: samplingRules(opts),
              records: opts.records,
            });
        if (opts.json) printer.out(JSON.stringify(report, null, 2));
        else printReport(printer, report, opts.records);
        if (opts.out) {
          const file = writePicture(opts.out, report, opts.records);
          (opts.json ? printer.err : printer.out)(`Wrote ${file.path} (${file.bytes} bytes)`);
        }
      },
    );

  return program;
};

/** Runs the CLI; returns the exit code. Errors are printed without a stack unless --debug. */
export const runCli = async (
  argv: string[],
  ctx: CliContext = { printer: consolePrinter(), env: process.env },
): Promise<number> => {
  const program = buildProgram(ctx);
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander has printed its message
    if (err instanceof UserError) {
      ctx.printer.err(`swlite: error: ${err.message}`);
      if (debug) ctx.printer.err(err.stack ?? '');
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.printer.err(`swlite: unexpected error: ${message}${debug ? '' : ' (run with --debug for details)'}`);
    if (debug && err instanceof Error) ctx.printer.err(err.stack ?? '');
    return 2;
  }
};
