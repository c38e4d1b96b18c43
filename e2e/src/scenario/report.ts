/** The seed-style table and the flame graph files of a scenario run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFlameGraph, treeToHtml, treeToSvg } from '@swlite/cli';
import { REPO_ROOT, type Element } from '@swlite/testkit';
import { inWritePath, kernelFrames, topLeaves, type Stack } from './analysis';
import type { ScenarioResult, VariantResult } from './run';

export const OUT_DIR = join(REPO_ROOT, 'e2e', 'out', 'scenario');

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const pad = (cells: string[], widths: number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');

/**
 * The seed-style table: variant | QPS | the access log's share of the proxy's on-CPU samples
 * (formatting + write) | its share of the proxy's off-CPU switches (and blocked time) | proxy CPU.
 */
export const table = (r: ScenarioResult): string => {
  const full = r.logPhaseFrame !== undefined;
  const head = [
    'variant',
    'QPS',
    'access log CPU',
    'formatting',
    'write(2)',
    'write switches',
    'write blocked',
    'proxy CPU',
    'rover CPU',
    'samples',
    'switches',
  ];
  const rows = r.variants.map((v) => [
    v.variant.name,
    v.wrk.requestsPerSec.toFixed(0),
    pct(full ? (v.shares.onCpuLogPhase ?? 0) : v.shares.onCpuAccessLog),
    pct(full ? (v.shares.onCpuLogPhaseFormatting ?? 0) : v.shares.onCpuFormatting),
    pct(v.shares.onCpuWrite),
    pct(v.shares.offCpuWriteSwitches),
    pct(v.shares.offCpuWriteTime),
    `${v.proxyCpu.toFixed(0)}%`,
    `${v.roverCpu.toFixed(0)}%`,
    String(v.onCpu.samples),
    String(v.offCpu.switches),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = '-'.repeat(widths.reduce((s, w) => s + w + 2, -2));
  const note = full
    ? `access log CPU: on-CPU samples under nginx's log phase (ngx_http_free_request → ${r.logPhaseFrame}, whole user stacks); ` +
      'formatting: the part of it outside write(2)'
    : 'access log CPU: on-CPU samples whose leaf user frame is a log formatting function or that are in write(2) ' +
      '(rover gave no whole user paths for nginx: leaf frames and kernel stacks only)';
  return [
    pad(head, widths),
    line,
    ...rows.map((row) => pad(row, widths)),
    '',
    note,
    'write switches / write blocked: off-CPU switches (blocked time) of the proxy taken in write(2) to the access log',
    'QPS from wrk on 127.0.0.1; proxy CPU from /proc/PID/stat over the load (% of one core); the machine is shared, so QPS varies run to run',
    'rover CPU: rover over the same load, profiling the proxy on CPU (every 2 ms) and off CPU (every switch) at once (% of one core)',
  ].join('\n');
};

/** A few lines per variant on where the time went (the leaf user frames), for the reader. */
export const details = (v: VariantResult): string => {
  const fmt = (stacks: Stack[]) => {
    const all = stacks.reduce((s, x) => s + x.value, 0) || 1;
    return topLeaves(stacks, 8)
      .map(([name, n]) => `${name} ${((n / all) * 100).toFixed(1)}%`)
      .join(', ');
  };
  const path = (s: Stack | undefined) => (s ? `${s.frames.map((f) => f.symbol).join(' → ')} (${s.value})` : '(none)');
  const heaviest = (stacks: Stack[], p: (s: Stack) => boolean) => stacks.filter(p).sort((a, b) => b.value - a.value)[0];
  return [
    `  ${v.variant.name} (${v.variant.description}; proxy pid ${v.proxyPid}; wrk ${v.wrk.requests} requests, ${v.wrk.errors} errors; ` +
      `/proc switches ${v.proxySwitches.voluntary} voluntary + ${v.proxySwitches.involuntary} involuntary)`,
    `    on-CPU leaves: ${fmt(v.onCpu.stacks)}`,
    `    off-CPU leaves: ${fmt(v.offCpu.stacks)}`,
    `    heaviest off-CPU stack in the write path: ${path(heaviest(v.offCpu.stacks, inWritePath))}`,
    `    heaviest off-CPU stack inside write(2): ${path(heaviest(v.offCpu.stacks, (s) => kernelFrames(s).includes('ksys_write')))}`,
    `    heaviest on-CPU stack inside write(2): ${path(heaviest(v.onCpu.stacks, (s) => kernelFrames(s).includes('ksys_write')))}`,
  ].join('\n');
};

/** Writes an SVG and an interactive HTML flame graph per variant and task type; returns the paths. */
export const writeFlameGraphs = (r: ScenarioResult, dir = OUT_DIR): string[] => {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (v: VariantResult, kind: string, trees: Element[][], unit: 'samples' | 'nanoseconds') => {
    const root = buildFlameGraph(trees.map((elements) => ({ elements })));
    const title = `sidecar-proxy (nginx) ${kind} — ${v.variant.name}`;
    const subtitle =
      `${v.variant.description}; ${v.wrk.requestsPerSec.toFixed(0)} req/s, proxy CPU ${v.proxyCpu.toFixed(0)}%, ` +
      `access log ${((v.shares.onCpuLogPhase ?? v.shares.onCpuAccessLog) * 100).toFixed(1)}% of on-CPU, ` +
      `write path ${(v.shares.offCpuWriteSwitches * 100).toFixed(1)}% of switches`;
    const base = join(dir, `${v.variant.name}.${kind.toLowerCase().replace(/[^a-z]+/g, '-')}`);
    writeFileSync(`${base}.svg`, treeToSvg(root, { title, subtitle, unit }));
    writeFileSync(`${base}.html`, treeToHtml(root, { title, subtitle, unit }));
    files.push(`${base}.svg`, `${base}.html`);
  };
  // The stacks themselves, for a closer look (jq) or a later comparison.
  const stacksFile = join(dir, 'stacks.json');
  writeFileSync(
    stacksFile,
    JSON.stringify(
      r.variants.map((v) => ({
        variant: v.variant,
        qps: v.wrk.requestsPerSec,
        proxyCpu: v.proxyCpu,
        roverCpu: v.roverCpu,
        shares: v.shares,
        onCpu: v.onCpu.stacks.map((s) => ({
          value: s.value,
          frames: s.frames.map((f) => (f.kernel ? `[k] ${f.symbol}` : f.symbol)),
        })),
        offCpu: v.offCpu.stacks.map((s) => ({
          value: s.value,
          frames: s.frames.map((f) => (f.kernel ? `[k] ${f.symbol}` : f.symbol)),
        })),
      })),
      null,
      1,
    ),
  );
  files.push(stacksFile);
  for (const v of r.variants) {
    write(v, 'ON_CPU', v.onCpu.trees, 'samples');
    write(v, 'OFF_CPU switches', v.offCpu.trees, 'samples');
    write(v, 'OFF_CPU blocked time', v.offCpu.durations, 'nanoseconds');
  }
  return files;
};
