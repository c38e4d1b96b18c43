// BpfError: every failure of the binding, with errno, its symbolic code, the operation and a
// hint that tells an operator what to do about it.
import { constants } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}
// Kernel-internal codes that leak out of bpf(2) and are not in os.constants.
errnoNames.set(524, 'ENOTSUPP');

/** Symbolic name of an errno value ("EPERM"), or "E<number>" when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

export interface BpfErrorInit {
  op: string;
  errno: number;
  message?: string;
  detail?: string;
  log?: string;
  hint?: string;
}

export class BpfError extends Error {
  /** Positive errno value (1 = EPERM...). */
  readonly errno: number;
  /** Symbolic errno ("EPERM"). */
  readonly code: string;
  /** The failing operation, e.g. "bpf_object__load" or "perf_event_open". */
  readonly op: string;
  /** What to do about it; empty when there is nothing specific to say. */
  readonly hint: string;
  /** libbpf log captured during the failing call (holds the verifier log on load failures). */
  readonly log: string;
  readonly detail: string;

  constructor(init: BpfErrorInit) {
    const code = errnoName(init.errno);
    const hint = init.hint ?? hintFor(init.op, init.errno, init.log ?? '', init.detail ?? '');
    const base = init.message ?? `${init.op}: ${code}`;
    super(hint ? `${base} [${code}] — hint: ${hint}` : `${base} [${code}]`);
    this.name = 'BpfError';
    this.errno = init.errno;
    this.code = code;
    this.op = init.op;
    this.hint = hint;
    this.log = init.log ?? '';
    this.detail = init.detail ?? '';
  }

  /** The verifier's log, when this error is a program-load failure. */
  get verifierLog(): string {
    const begin = this.log.indexOf('-- BEGIN PROG LOAD LOG --');
    if (begin < 0) return '';
    const end = this.log.indexOf('-- END PROG LOAD LOG --', begin);
    return this.log.slice(begin, end < 0 ? undefined : end + '-- END PROG LOAD LOG --'.length);
  }
}

const PERM_HINT = 'needs root or CAP_BPF+CAP_PERFMON (and CAP_SYS_ADMIN for some attach types)';

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** The capabilities loading and attaching a perf-event BPF program needs that this process lacks. */
export interface CapabilityCheck {
  /** e.g. ["CAP_BPF", "CAP_PERFMON"]; empty when nothing is missing. */
  missing: string[];
  /** The kernel predates CAP_BPF/CAP_PERFMON (< 5.8): only CAP_SYS_ADMIN grants BPF. */
  legacyKernel: boolean;
}

/**
 * Reads the effective capabilities (/proc/self/status CapEff). libbpf's feature probe answers
 * "unsupported" for EPERM too, so this is how a refusal for lack of privilege is told apart.
 * Null when /proc cannot say.
 */
export function checkBpfCapabilities(
  status = '/proc/self/status',
  capLastCap = '/proc/sys/kernel/cap_last_cap',
): CapabilityCheck | null {
  let effective: bigint;
  let lastCap: number;
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(readFileSync(status, 'utf8'))?.[1];
    if (!hex) return null;
    effective = BigInt(`0x${hex}`);
    lastCap = Number(readFileSync(capLastCap, 'utf8').trim());
  } catch {
    return null;
  }
  const has = (cap: number) => (effective >> BigInt(cap)) & 1n ? true : false;
  if (has(CAP_SYS_ADMIN)) return { missing: [], legacyKernel: lastCap < CAP_BPF };
  if (lastCap < CAP_BPF) return { missing: ['CAP_SYS_ADMIN'], legacyKernel: true };
  const missing = [];
  if (!has(CAP_BPF)) missing.push('CAP_BPF');
  if (!has(CAP_PERFMON)) missing.push('CAP_PERFMON');
  return { missing, legacyKernel: false };
}

/** One line naming what is missing and how to grant it; null when no capability is missing. */
export function permissionProblem(check: CapabilityCheck | null = checkBpfCapabilities()): string | null {
  if (!check || check.missing.length === 0) return null;
  const missing = check.missing.join(' and ');
  return check.legacyKernel
    ? `BPF was refused: this process lacks ${missing}, which kernels before 5.8 require for BPF; run as root or grant CAP_SYS_ADMIN`
    : `BPF was refused: this process lacks ${missing}; run as root or grant CAP_BPF and CAP_PERFMON ` +
        '(e.g. setcap cap_bpf,cap_perfmon+ep, or Kubernetes securityContext.capabilities.add: [BPF, PERFMON]; ' +
        'kernels before 5.8 need CAP_SYS_ADMIN instead)';
}

/** The hint for an errno from an operation (exported for tests and for callers' own errors). */
export function hintFor(op: string, errno: number, log = '', detail = ''): string {
  const code = errnoName(errno);
  const isLoad = op.includes('load');
  const btfLog = /failed to (parse target BTF|find valid kernel BTF|perform CO-RE relocations)|vmlinux BTF/i.test(log);
  if (isLoad && (btfLog || (!existsSync(VMLINUX_BTF) && /BTF|CO-RE|relo/i.test(log)))) {
    return existsSync(VMLINUX_BTF) && /target BTF/.test(log)
      ? 'cannot read the kernel BTF given as btfCustomPath (the object needs BTF for CO-RE)'
      : `kernel has no BTF at ${VMLINUX_BTF}; CO-RE programs need CONFIG_DEBUG_INFO_BTF=y`;
  }
  if (isLoad && log.includes('BEGIN PROG LOAD LOG')) {
    return 'the verifier rejected the program; its log is in error.verifierLog';
  }
  if (code === 'EPERM' || code === 'EACCES') {
    const missing = checkBpfCapabilities()?.missing ?? [];
    const hint = missing.length > 0 ? `${PERM_HINT}; this process lacks ${missing.join(' and ')}` : PERM_HINT;
    if (op === 'perf_event_open') {
      return `${hint}; or lower /proc/sys/kernel/perf_event_paranoid`;
    }
    return hint;
  }
  if (op.includes('open_file') && code === 'ENOENT') return `no such BPF object file: ${detail}`;
  if (op.includes('open_file')) return `not a valid BPF ELF object: ${detail}`;
  if (op.includes('update') && (code === 'E2BIG' || code === 'ENOSPC' || code === 'ENOMEM')) {
    return 'map full: raise max_entries or drain it more often';
  }
  if (op.includes('tracepoint') && code === 'ENOENT') {
    return 'tracefs not mounted or tracepoint missing (mount -t tracefs nodev /sys/kernel/tracing; ls /sys/kernel/tracing/events)';
  }
  if (op.includes('uprobe') && code === 'ENOENT') return 'binary or symbol not found';
  if (op === 'perf_event_open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP')) {
    return 'the perf event is not supported here (no such PMU/event, or CPU offline)';
  }
  if (op.includes('attach') && (code === 'EOPNOTSUPP' || code === 'ENOTSUPP' || code === 'EINVAL')) {
    return 'this kernel does not support this attach type for the program';
  }
  if (code === 'EBADF') return 'the object, map or ring buffer was already closed';
  if (code === 'ENOMEM' && isLoad) {
    return 'out of memory for BPF maps (memcg limit, or RLIMIT_MEMLOCK on kernels < 5.11)';
  }
  return '';
}

interface NativeErrorShape {
  message?: string;
  errno?: number;
  op?: string;
  detail?: string;
}

/** Converts an error thrown by the addon into a BpfError (other errors pass through). */
export function toBpfError(e: unknown, log = '', fallbackOp = 'libbpf'): unknown {
  if (e instanceof BpfError) return e;
  const n = e as NativeErrorShape;
  if (e instanceof Error && typeof n.errno === 'number') {
    return new BpfError({
      op: n.op ?? fallbackOp,
      errno: n.errno,
      message: n.message,
      detail: n.detail,
      log,
    });
  }
  return e;
}
