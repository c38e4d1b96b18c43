// Where the built BPF objects are: $SWLITE_BPF_DIR, else <package>/dist.
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { BpfProgramName } from './objects.js';

export type { BpfProgramName };

const here = dirname(fileURLToPath(import.meta.url));

/** Directory holding the *.bpf.o files (env SWLITE_BPF_DIR overrides, for bundled apps). */
export function bpfObjectDir(): string {
  const env = process.env.SWLITE_BPF_DIR;
  if (env) return resolve(env);
  // A bundled app (apps/*/dist) carries the objects in bpf/ beside its bundle.
  const besideBundle = join(here, 'bpf');
  if (existsSync(join(besideBundle, 'oncpu.bpf.o'))) return besideBundle;
  return join(here, '..', 'dist');
}

/** Path of one built object; `dir` overrides bpfObjectDir(). */
export function bpfObjectPath(name: BpfProgramName, dir?: string): string {
  return join(dir ?? bpfObjectDir(), `${name}.bpf.o`);
}

/** True when the object is built. */
export function bpfObjectExists(name: BpfProgramName, dir?: string): boolean {
  return existsSync(bpfObjectPath(name, dir));
}

/** Number of possible CPUs (highest id in /sys/devices/system/cpu/possible, plus one). */
export function possibleCpus(): number {
  try {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let max = 0;
    for (const part of text.split(',')) {
      const hi = Number(part.split('-').pop());
      if (Number.isFinite(hi) && hi > max) max = hi;
    }
    return max + 1;
  } catch {
    return cpus().length || 1;
  }
}
