/**
 * Checks at start that this host lets rover profile: root or CAP_BPF+CAP_PERFMON, kernel BTF,
 * tracefs for the off-CPU tracepoint fallback. Says exactly what is missing: libbpf's probe
 * reports a refusal for lack of privilege as "unsupported", so when it fails the effective
 * capabilities decide whether the kernel or the privileges are to blame.
 */
import { bpfAvailable, permissionProblem } from '@swlite/libbpf-ts';
import { existsSync } from 'node:fs';

export interface PreflightResult {
  ok: boolean;
  problems: string[];
}

export const preflight = (): PreflightResult => {
  const problems: string[] = [];
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    problems.push('the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE BPF programs cannot be loaded');
  }
  const probe = bpfAvailable();
  if (!probe.ok) problems.push(permissionProblem() ?? `BPF is not usable here: ${probe.reason}`);
  if (!existsSync('/proc/self/ns/pid')) problems.push('/proc is not mounted');
  return { ok: problems.length === 0, problems };
};
