#!/usr/bin/env -S node --import tsx
// symbolize --pid PID ADDR...   runtime addresses of a live process
// symbolize --file PATH ADDR... ELF virtual addresses of a file
// symbolize --kernel ADDR...    kernel addresses (/proc/kallsyms)
// Options: --json (one JSON object per frame), --debug-dir DIR (repeatable),
//   --debuginfod URL (repeatable; default: the servers in DEBUGINFOD_URLS), --no-debuginfod.
// With debuginfod servers, frames of files without symbols are looked up again once their
// debug files have been downloaded (into DEBUGINFOD_CACHE_PATH's cache).
import {
  Symbolizer,
  debuginfodOptionsFromEnv,
  type DebuginfodLogger,
  type Frame,
  type SymbolizerOptions,
} from './index.js';

function usage(code: number): never {
  (code ? console.error : console.log)(
    'usage: symbolize (--pid PID | --file PATH | --kernel) [--json] [--debug-dir DIR] [--debuginfod URL | --no-debuginfod] ADDR...',
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

const stderrLog: DebuginfodLogger = {
  info: (fields, msg) => console.error(`debuginfod: ${msg} ${JSON.stringify(fields)}`),
  warn: (fields, msg) => console.error(`debuginfod: ${msg} ${JSON.stringify(fields)}`),
};

async function main(argv: string[]): Promise<void> {
  let mode: 'pid' | 'file' | 'kernel' | undefined;
  let pid = 0;
  let file = '';
  let json = false;
  const debugDirs: string[] = [];
  const servers: string[] = [];
  let noDebuginfod = false;
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
    else if (a === '--debuginfod') servers.push(argv[++i] ?? usage(2));
    else if (a === '--no-debuginfod') noDebuginfod = true;
    else if (a === '-h' || a === '--help') usage(0);
    else if (a === 'symbolize' && addrs.length === 0 && !mode) continue;
    else addrs.push(parseAddr(a));
  }
  if (!mode || addrs.length === 0) usage(2);
  const opts: SymbolizerOptions = debugDirs.length ? { debugDirs: ['/usr/lib/debug', ...debugDirs] } : {};
  const fromEnv = debuginfodOptionsFromEnv();
  if (!noDebuginfod && (servers.length || fromEnv)) {
    opts.debuginfod = { ...fromEnv, urls: servers.length ? servers : fromEnv!.urls, log: stderrLog };
  }
  const s = new Symbolizer(opts);
  const symbolize = () =>
    mode === 'pid' ? s.symbolizeUser(pid, addrs) : mode === 'file' ? s.symbolizeFile(file, addrs) : s.symbolizeKernel(addrs);
  let frames = symbolize();
  if (s.debuginfod && s.debuginfod.stats().pending > 0) {
    // Downloads started by this lookup: wait for them (bounded by DEBUGINFOD_TIMEOUT/MAXTIME), then look up again.
    await s.debuginfod.idle();
    frames = symbolize();
  }
  s.close();
  if (json) {
    for (const f of frames)
      console.log(JSON.stringify({ ...f, address: '0x' + f.address.toString(16), offset: '0x' + f.offset.toString(16) }));
  } else console.log(formatTable(frames));
}

await main(process.argv.slice(2));
