// CPU lists as the kernel prints them ("0-3,5,7-8").
import { readFileSync } from 'node:fs';

/** Parses a kernel CPU list ("0-3,5") into sorted CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list element "${part}" in "${text.trim()}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

/** CPUs that are online now (/sys/devices/system/cpu/online). */
export function onlineCpus(path = '/sys/devices/system/cpu/online'): number[] {
  return parseCpuList(readFileSync(path, 'utf8'));
}

/** CPUs that may ever exist (/sys/devices/system/cpu/possible): the per-CPU map slot count. */
export function possibleCpus(path = '/sys/devices/system/cpu/possible'): number[] {
  return parseCpuList(readFileSync(path, 'utf8'));
}
