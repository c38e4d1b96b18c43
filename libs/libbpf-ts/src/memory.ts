// The process's free malloc memory back to the kernel. Not BPF, but this is the project's one
// native addon, and rover needs it: loading ELF files and /proc/kallsyms leaves ~15-20 MB of free
// but resident pages in glibc's heap (its dynamic mmap threshold moves big buffers into the heap
// after the first few are freed), which RSS-based limits in Kubernetes count against the pod.
import { native } from './native.js';

/** glibc malloc_trim(0): true when pages were returned. A few ms for a heap of tens of MB. */
export const releaseFreeMemory = (): boolean => native().releaseFreeMemory();
