// /proc/PID/maps parsing.

export interface MapEntry {
  start: bigint;
  end: bigint;
  /** e.g. "r-xp" */
  perms: string;
  /** File offset of `start`. */
  offset: bigint;
  dev: string;
  inode: number;
  /** Path or pseudo-name ("[vdso]", "[heap]"), '' for anonymous; " (deleted)" removed. */
  path: string;
  deleted: boolean;
}

/** Parses the text of /proc/PID/maps. Malformed lines are skipped. */
export function parseProcMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+(\S+)\s+(\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    let path = m[7] ?? '';
    let deleted = false;
    if (path.endsWith(' (deleted)')) {
      deleted = true;
      path = path.slice(0, -' (deleted)'.length);
    }
    out.push({
      start: BigInt('0x' + m[1]),
      end: BigInt('0x' + m[2]),
      perms: m[3]!,
      offset: BigInt('0x' + m[4]),
      dev: m[5]!,
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  return out;
}

/** Binary search of sorted, non-overlapping entries. */
export function findMapping<T extends { start: bigint; end: bigint }>(maps: T[], addr: bigint): T | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = maps[mid]!;
    if (addr < m.start) hi = mid - 1;
    else if (addr >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}
