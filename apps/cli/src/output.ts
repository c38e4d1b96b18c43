/** Renders a flame graph into the four files the CLI writes. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { treeToFolded, treeToHtml, treeToPprof, treeToSvg, type FlameNode, type ValueUnit } from './render/index';

export interface ProfileMeta {
  title: string;
  subtitle: string;
  unit: ValueUnit;
  startTimeMs?: number;
  durationMs?: number;
  /** Name of the profiled binary / service, stored as the pprof main mapping. */
  binaryName?: string;
  comments?: string[];
}

export interface WrittenFile {
  kind: 'html' | 'svg' | 'folded' | 'pprof';
  path: string;
  bytes: number;
}

export const OUTPUT_FILES = {
  html: 'flamegraph.html',
  svg: 'flamegraph.svg',
  folded: 'stacks.folded',
  pprof: 'profile.pb.gz',
} as const;

export const writeProfileFiles = (dir: string, root: FlameNode, meta: ProfileMeta): WrittenFile[] => {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const contents: Array<[WrittenFile['kind'], string | Buffer]> = [
    [
      'html',
      treeToHtml(root, {
        title: meta.title,
        subtitle: meta.subtitle,
        unit: meta.unit,
      }),
    ],
    [
      'svg',
      treeToSvg(root, {
        title: meta.title,
        subtitle: meta.subtitle,
        unit: meta.unit,
      }),
    ],
    ['folded', treeToFolded(root)],
    [
      'pprof',
      treeToPprof(root, {
        unit: meta.unit,
        startTimeMs: meta.startTimeMs,
        durationMs: meta.durationMs,
        binaryName: meta.binaryName,
        comments: meta.comments,
      }),
    ],
  ];
  return contents.map(([kind, body]) => {
    const path = join(out, OUTPUT_FILES[kind]);
    writeFileSync(path, body);
    return { kind, path, bytes: Buffer.byteLength(body) };
  });
};
