/**
 * Container IDs from /proc/PID/cgroup. Each line is "hierarchy-ID:controllers:path" (cgroup v1
 * has one line per hierarchy, v2 a single "0::/path"). The container ID is the last path segment,
 * in one of the runtimes' spellings:
 *
 *   cgroupfs driver   /kubepods/burstable/pod<uid>/<id>            (docker, containerd, cri-o)
 *   systemd driver    /kubepods.slice/kubepods-burstable.slice/
 *                       kubepods-burstable-pod<uid_with_underscores>.slice/<runtime>-<id>.scope
 *                     with <runtime> = cri-containerd | crio | docker | libpod
 *   plain docker      /docker/<id>, /system.slice/docker-<id>.scope
 *
 * (cri-o's "crio-conmon-<id>.scope" is the conmon monitor, not a container process.)
 */

export interface CgroupInfo {
  /** Container IDs found (64 hex, lower-case), without duplicates. */
  containerIds: string[];
  /** The pod UID from a "pod<uid>" segment, dashes restored. */
  podUid?: string;
}

const SCOPE = /^(?:(cri-containerd|crio|docker|libpod|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
const POD_SEGMENT = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

export function parseCgroup(text: string): CgroupInfo {
  const ids: string[] = [];
  let podUid: string | undefined;
  for (const line of text.split('\n')) {
    // "hierarchy:controllers:path" — the path itself may contain ":" (rare), so split twice only
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1).trim();
    if (!path.startsWith('/')) continue;
    const segments = path.split('/').filter(Boolean);
    for (const seg of segments) {
      const pm = POD_SEGMENT.exec(seg);
      if (pm) podUid ??= (pm[1] as string).replace(/_/g, '-');
    }
    const last = segments[segments.length - 1];
    if (!last) continue;
    const m = SCOPE.exec(last.toLowerCase());
    if (m) {
      const id = m[2] as string;
      if (!ids.includes(id)) ids.push(id);
    }
  }
  return podUid ? { containerIds: ids, podUid } : { containerIds: ids };
}

/** Strips the runtime scheme of a container status ID: "containerd://<id>" → "<id>". */
export function containerIdFromStatus(containerId: string | undefined): string {
  if (!containerId) return '';
  const i = containerId.indexOf('://');
  return (i >= 0 ? containerId.slice(i + 3) : containerId).toLowerCase();
}
