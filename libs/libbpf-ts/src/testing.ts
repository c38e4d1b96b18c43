// Helpers for tests that run BPF in the real kernel (also used by @swlite/bpf's tests).
//
// Policy: a BPF test skips with the reason when the process is not root or BPF is refused,
// except under CI=true, where a missing capability must FAIL (so the test runs and fails).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { bpfAvailable } from './probe.js';

let cachedSkip: string | false | undefined;

/** false when BPF tests can run; otherwise the reason to skip. Always false under CI=true. */
export function bpfTestSkip(): string | false {
  if (cachedSkip !== undefined) return cachedSkip;
  let reason: string | false = false;
  if (process.getuid?.() !== 0 && !hasBpfCaps()) {
    reason = 'not root and no CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN): BPF tests need them';
  } else {
    const a = bpfAvailable();
    if (!a.ok) reason = `BPF refused: ${a.reason}`;
  }
  if (reason && process.env.CI === 'true') {
    process.stderr.write(`CI=true: not skipping although ${reason}\n`);
    reason = false;
  }
  cachedSkip = reason;
  return reason;
}

/** Effective capabilities allow BPF: CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON. */
export function hasBpfCaps(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (!hex) return false;
    const eff = BigInt(`0x${hex}`);
    const has = (bit: number): boolean => ((eff >> BigInt(bit)) & 1n) === 1n;
    return has(21) || (has(39) && has(38));
  } catch {
    return false;
  }
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'swlite-bpf-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Compiles a self-contained BPF C file (no vmlinux.h) into `outDir`; returns the .o path. */
export function compileBpf(src: string, outDir: string, extraFlags: string[] = []): string {
  const out = join(outDir, basename(src).replace(/\.c$/, '.o'));
  execFileSync(
    'clang',
    [
      '-g',
      '-O2',
      '-target',
      'bpf',
      '-D__TARGET_ARCH_x86',
      '-I/usr/include/x86_64-linux-gnu',
      ...extraFlags,
      '-c',
      src,
      '-o',
      out,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return out;
}
