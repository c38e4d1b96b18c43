#!/usr/bin/env -S node --import tsx
// symbolize --pid PID ADDR...   runtime addresses of a live process
// symbolize --file PATH ADDR... ELF virtual addresses of a file
// symbolize --kernel ADDR...    kernel addresses (/proc/kallsyms)
// Options: --json (one JSON object per frame), --debug-dir DIR (repeatable).
import { Symbolizer, type Frame } from './index.js';

function usage(code: number): never {
  (code ? console.error : console.log)(
    'usage: symbolize (--pid PID | --file PATH | --kernel) [--json] [--debug-dir DIR] ADDR...',
  );
  process.exit(code);
}

function parseAddr(s: string): bigint {
  try {
    return BigInt(s.startsWith('0x') || s.startsWith('0X') ? s : /^[0-9]+$/.test(s) ? s : '0x' + s);
  } catch {
    console.error(`bad address: ${s}`);
    process.exit(2);
  }
}

export function formatTable(frames: Frame[]): string {
  const rows = frames.map((f) => ['0x' + f.address.toString(16), f.resolved && f.offset ? `${f.name}+0x${f.offset.toString(16)}` : f.name, f.module]);
  const head = ['ADDRESS', 'NAME', 'MODULE'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]!) : c)).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

function main(argv: string[]): void {
  let mode: 'pid' | 'file' | 'kernel' | undefined;
  let pid = 0;
  let file = '';
  let json = false;
  const debugDirs: string[] = [];
  const addrs: bigint[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--pid') {
      mode = 'pid';
      pid = Number(argv[++i]);
      if (!Number.isInteger(pid) || pid <= 0) usage(2);
    } else if (a === '--file') {
      mode = 'file';
      file = argv[++i] ?? usage(2);
    } else if (a === '--kernel') mode = 'kernel';
    else if (a === '--json') json = true;
    else if (a === '--debug-dir') debugDirs.push(argv[++i] ?? usage(2));
    else if (a === '-h' || a === '--help') usage(0);
    else if (a === 'symbolize' && addrs.length === 0 && !mode) continue;
    else addrs.push(parseAddr(a));
  }
  if (!mode || addrs.length === 0) usage(2);
  const s = new Symbolizer(debugDirs.length ? { debugDirs: ['/usr/lib/debug', ...debugDirs] } : {});
  const frames =
    mode === 'pid' ? s.symbolizeUser(pid, addrs) : mode === 'file' ? s.symbolizeFile(file, addrs) : s.symbolizeKernel(addrs);
  if (json) {
    for (const f of frames)
      console.log(JSON.stringify({ ...f, address: '0x' + f.address.toString(16), offset: '0x' + f.offset.toString(16) }));
  } else console.log(formatTable(frames));
}

main(process.argv.slice(2));
