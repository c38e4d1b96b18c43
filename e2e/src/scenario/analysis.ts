/**
 * Reads the analysis trees (as `analysisEBPFProfilingResult` returns them) back into stacks and
 * measures the share of the frames the seed blamed: the access log's write path and its
 * formatting work.
 *
 * Debian's nginx has no frame pointers, so until rover unwinds with CFI (.eh_frame) only the
 * leaf user frame of an nginx stack is right (frames past it are garbage that may even resolve
 * to real names); kernel stacks are always right. The shares therefore look at the kernel frames
 * and at the LEAF user frame only, which holds with and without CFI. `fullUserPaths` tells
 * whether stacks carry whole user call chains (rover unwinds), and then the log phase can also
 * be found by its callers.
 */
import type { Element } from '@swlite/testkit';

export interface Stack {
  /** Root first: user frames (outermost first), then kernel frames (syscall entry first). */
  frames: { symbol: string; kernel: boolean }[];
  value: number;
}

/** Splits merged trees into their stacks: each node's self value (inclusive minus children). */
export const stacksOf = (trees: Element[][]): Stack[] => {
  const out: Stack[] = [];
  for (const elements of trees) {
    const byId = new Map(elements.map((e) => [e.id, e]));
    const childSum = new Map<string, number>();
    for (const e of elements) {
      if (e.parentId !== e.id && byId.has(e.parentId))
        childSum.set(e.parentId, (childSum.get(e.parentId) ?? 0) + Number(e.dumpCount));
    }
    for (const e of elements) {
      const self = Number(e.dumpCount) - (childSum.get(e.id) ?? 0);
      if (self <= 0) continue;
      const frames: Stack['frames'] = [];
      const seen = new Set<string>();
      for (
        let x: Element | undefined = e;
        x && !seen.has(x.id);
        x = x.parentId === x.id ? undefined : byId.get(x.parentId)
      ) {
        seen.add(x.id);
        frames.unshift({ symbol: x.symbol, kernel: x.stackType === 'KERNEL_SPACE' });
      }
      out.push({ frames, value: self });
    }
  }
  return out;
};

export const totalOf = (stacks: Stack[]) => stacks.reduce((s, x) => s + x.value, 0);

/** The innermost user frame of a stack (where user code was, or which syscall wrapper it was in). */
export const leafUser = (s: Stack): string | undefined => {
  for (let i = s.frames.length - 1; i >= 0; i--) if (!s.frames[i]!.kernel) return s.frames[i]!.symbol;
  return undefined;
};

export const kernelFrames = (s: Stack): string[] => s.frames.filter((f) => f.kernel).map((f) => f.symbol);
export const userFrames = (s: Stack): string[] => s.frames.filter((f) => !f.kernel).map((f) => f.symbol);

/** glibc's write(2) wrapper under any of its names, and nginx's own file-write helpers. */
export const USER_WRITE = /^(__)?(libc_)?write(64)?$|^__GI___libc_write$|^ngx_write_fd$|^ngx_write_file$/;

/**
 * The kernel side of write(2) to the log: nginx sends to sockets with send/writev/sendfile and
 * writes only its log files with write(2), so `ksys_write` (and the file systems' write_iter
 * under `vfs_write`) is the access log.
 */
export const KERNEL_WRITE =
  /^(__x64_sys_write|ksys_write|vfs_write|ext4_file_write_iter|ext4_buffered_write_iter|generic_perform_write|shmem_file_write_iter|pipe_write)$/;

/** A stack in the log's write path: in the write(2) syscall (kernel frames) or in its wrapper. */
export const inWritePath = (s: Stack): boolean =>
  kernelFrames(s).some((k) => KERNEL_WRITE.test(k)) || USER_WRITE.test(leafUser(s) ?? '');

/**
 * nginx's exported functions that the log module's formatting spends its time in (checked with
 * `nm -D /usr/sbin/nginx`): variable lookups, the header search behind every `$http_*`,
 * number/time formatting and escaping. The log module's own functions (ngx_http_log_handler,
 * ngx_http_log_variable, ngx_http_log_copy_*) are static, so not in .dynsym: Debian's nginx
 * shows them only as unnamed frames.
 */
export const LOG_FORMAT_FRAMES = new Set([
  'ngx_http_get_indexed_variable',
  'ngx_http_get_flushed_variable',
  'ngx_http_variable_unknown_header',
  'ngx_vslprintf',
  'ngx_sprintf',
  'ngx_snprintf',
  'ngx_slprintf',
  'ngx_escape_json',
  'ngx_escape_html',
  'ngx_escape_uri',
  'ngx_strncasecmp',
  'ngx_strlcasestrn',
  'ngx_http_time',
  'ngx_gmtime',
]);

/** A stack whose leaf user frame is one of the log formatting functions. */
export const inLogFormatting = (s: Stack): boolean => LOG_FORMAT_FRAMES.has(leafUser(s) ?? '');

/** The culprit frames of the on-CPU profile: formatting the log line plus writing it. */
export const inAccessLog = (s: Stack): boolean => inLogFormatting(s) || inWritePath(s);

/** Share (0..1) of the stacks' value that passes the predicate. */
export const share = (stacks: Stack[], predicate: (s: Stack) => boolean): number => {
  const all = totalOf(stacks);
  return all === 0 ? 0 : totalOf(stacks.filter(predicate)) / all;
};

/** Share of the stacks whose user part starts at nginx's main (a whole user call chain). */
export const rootedShare = (stacks: Stack[]): number => {
  const all = totalOf(stacks);
  const rooted = totalOf(
    stacks.filter((s) => userFrames(s).includes('main') && userFrames(s).includes('ngx_process_events_and_timers')),
  );
  return all > 0 ? rooted / all : 0;
};

/** Whether the stacks carry whole user call chains (nginx's event loop at the bottom). */
export const fullUserPaths = (stacks: Stack[]): boolean => rootedShare(stacks) > 0.5;

/**
 * With whole user paths: the frame under which nginx runs its log-phase handlers. It is the
 * callee of `ngx_http_free_request` on the way to the log's write(2): `ngx_http_log_request`,
 * static, so unnamed in Debian's nginx (e.g. `nginx+0x6ba00`); found from the data, not assumed.
 */
export const logPhaseFrame = (stacks: Stack[]): string | undefined => {
  const votes = new Map<string, number>();
  for (const s of stacks) {
    if (!USER_WRITE.test(leafUser(s) ?? '')) continue;
    const user = userFrames(s);
    const i = user.indexOf('ngx_http_free_request');
    if (i < 0 || i + 1 >= user.length) continue;
    votes.set(user[i + 1]!, (votes.get(user[i + 1]!) ?? 0) + s.value);
  }
  return [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
};

/** A stack inside the log phase: `ngx_http_free_request` calling `frame` (see logPhaseFrame). */
export const inLogPhase =
  (frame: string) =>
  (s: Stack): boolean => {
    const user = userFrames(s);
    for (let i = 0; i + 1 < user.length; i++)
      if (user[i] === 'ngx_http_free_request' && user[i + 1] === frame) return true;
    return false;
  };

/** The user call chain (outermost first) of the heaviest stack that passes the predicate. */
export const heaviestPath = (stacks: Stack[], predicate: (s: Stack) => boolean): Stack | undefined =>
  stacks.filter(predicate).sort((a, b) => b.value - a.value)[0];

/** Top leaf user frames by value, for the printed summary. */
export const topLeaves = (stacks: Stack[], n: number): Array<[string, number]> => {
  const m = new Map<string, number>();
  for (const s of stacks) {
    const k = leafUser(s) ?? '(kernel only)';
    m.set(k, (m.get(k) ?? 0) + s.value);
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
};
