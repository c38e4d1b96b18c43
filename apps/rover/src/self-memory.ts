/**
 * Where rover's memory goes, for the log lines an operator reads when RSS is higher than
 * expected: V8's heap, memory outside it (Buffers and typed arrays of symbol tables, ring
 * buffers' user-side copies), and what the BPF maps rover holds lock in the kernel.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface MemoryBreakdown {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** ArrayBuffers (typed arrays, Buffers): tables, map reads. */
  arrayBuffersMiB: number;
  /** Other memory V8 knows is held outside its heap (native addon objects, strings of modules). */
  otherExternalMiB: number;
  /** Kernel memory of the BPF maps this process holds (not in RSS unless mmapped). */
  bpfMapsMiB: number;
  bpfMaps: number;
}

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

/** Sums the `memlock` of every BPF map fd of this process (from /proc/self/fdinfo). */
const bpfMapMemory = (): { bytes: number; maps: number } => {
  let bytes = 0;
  let maps = 0;
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return { bytes, maps };
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf-map') continue;
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
      const m = /^memlock:\s+(\d+)/m.exec(info);
      if (m) bytes += Number(m[1]);
      maps++;
    } catch {
      // closed between the listing and the read
    }
  }
  return { bytes, maps };
};

export const memoryBreakdown = (): MemoryBreakdown => {
  const m = process.memoryUsage();
  const bpf = bpfMapMemory();
  return {
    rssMiB: mib(m.rss),
    heapUsedMiB: mib(m.heapUsed),
    heapTotalMiB: mib(m.heapTotal),
    arrayBuffersMiB: mib(m.arrayBuffers),
    otherExternalMiB: mib(m.external - m.arrayBuffers),
    bpfMapsMiB: mib(bpf.bytes),
    bpfMaps: bpf.maps,
  };
};
