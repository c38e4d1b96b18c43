/* The kernel half of the user-space unwinder, shared by oncpu_snapshot.bpf.c and
 * offcpu_snapshot.bpf.c. A snapshot is the user registers, the kernel stack, optionally the user
 * stack as the kernel's frame-pointer walk sees it, and a copy of the top of the user stack from
 * sp; user space unwinds it with CFI (.eh_frame), like `perf record --call-graph dwarf`. */
#ifndef SWLITE_SNAPSHOT_H
#define SWLITE_SNAPSHOT_H

#include "sw_counters.h"
#include "config.h"
#include "python.h"

#define KSTACK_BYTES (PERF_MAX_STACK_DEPTH * 8)
#define UFP_BYTES (PERF_MAX_STACK_DEPTH * 8)

/* Bytes of user stack to copy (rounded down to a multiple of 8, at most SNAPSHOT_MAX_USER_STACK). */
const volatile __u32 user_stack_bytes = 8192;
/* Also record the kernel's frame-pointer walk of the user stack (bpf_get_stack BPF_F_USER_STACK):
 * user space uses it where frame pointers are sound and the stack copy is too short. */
const volatile __u8 collect_user_fp = 0;

/* Bytes of user stack to copy per process (tgid), set by user space from how far unwinding its
 * snapshots reached into the copy: most stacks need far less than the ceiling, and every byte
 * copied crosses the ring. user_stack_bytes caps it and applies to processes not in the map. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} stack_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by user space */
} snapshots SEC(".maps");

/* The record as emitted: header, kernel frames, FP user frames, user stack bytes, Python frames,
 * contiguous. */
struct snapshot_buf {
	struct stack_snapshot_hdr hdr;
	/* + slack: the verifier bounds the chunked stack copy by masks (see emit_snapshot) */
	__u8 area[KSTACK_BYTES + UFP_BYTES + SNAPSHOT_MAX_USER_STACK + 8192];
};

/* Scratch per CPU, indexed by CPU id: the record is built here, then copied to the ring buffer at
 * its real size. A plain array (max_entries = possible CPUs, set by user space), because per-CPU
 * array values are limited to 32 KiB. Programs run with preemption off on their CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct snapshot_buf);
} scratch SEC(".maps");

/* Builds the current task's snapshot in the CPU's scratch buffer; returns it with its size in
 * *total, or NULL. */
static __always_inline struct snapshot_buf *build_snapshot(void *ctx, __u64 ts, __u32 tgid, __u32 tid, __u32 kernel_skip,
							  __u64 *total)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct snapshot_buf *b = bpf_map_lookup_elem(&scratch, &cpu);
	if (!b)
		return 0;

	/* User-mode registers: task_pt_regs is the user state whether we are in user or kernel mode. */
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	b->hdr.ts_ns = ts;
	b->hdr.tgid = tgid;
	b->hdr.tid = tid;
	b->hdr.ip = BPF_CORE_READ(regs, ip);
	b->hdr.sp = BPF_CORE_READ(regs, sp);
	b->hdr.bp = BPF_CORE_READ(regs, bp);
	/* The thread's Python frames, now: they are gone by the time user space sees the record.
	 * Walked before the stack copy, whose page-by-page paths would each verify the walk again. */
	__u32 npy = py_collect(tgid, tid);

	long klen = 0;
	if (collect_kernel) {
		klen = bpf_get_stack(ctx, b->area, KSTACK_BYTES, kernel_skip & BPF_F_SKIP_FIELD_MASK);
		if (klen < 0) {
			if (klen != -EFAULT)
				count(SW_CNT_KERNEL_STACK_ERR);
			klen = 0;
		}
	}
	__u64 ksz = (__u64)klen & ~7ULL;
	if (ksz > KSTACK_BYTES)
		ksz = KSTACK_BYTES;
	b->hdr.kernel_stack_len = ksz / 8;

	long flen = 0;
	if (collect_user_fp) {
		flen = bpf_get_stack(ctx, b->area + ksz, UFP_BYTES, BPF_F_USER_STACK);
		if (flen < 0)
			flen = 0;
	}
	__u64 fsz = (__u64)flen & ~7ULL;
	if (fsz > UFP_BYTES)
		fsz = UFP_BYTES;
	b->hdr.user_fp_len = fsz / 8;
	__u64 off = ksz + fsz;
	if (off > KSTACK_BYTES + UFP_BYTES)
		return 0;

	/* Copy the top of the user stack: all of it when it can be read at once, else page by page up
	 * to the first page that cannot be read (the end of the stack mapping, near the top of the
	 * main thread's stack), so that no readable byte an unwinder needs is dropped. */
	__u32 want = user_stack_bytes & ~7u;
	if (want > SNAPSHOT_MAX_USER_STACK)
		want = SNAPSHOT_MAX_USER_STACK;
	__u32 *sized = bpf_map_lookup_elem(&stack_bytes, &tgid);
	if (sized && *sized < want) {
		want = *sized & ~7u;
		/* Bounded for the verifier on the register the copy uses: clang would test a copy. */
		asm volatile("" : "+r"(want));
		if (want > SNAPSHOT_MAX_USER_STACK)
			want = SNAPSHOT_MAX_USER_STACK;
	}
	__u32 got = 0;
	void *sp = (void *)b->hdr.sp;
	if (want >= 64 && bpf_probe_read_user(b->area + off, want, sp) == 0) {
		got = want;
	} else if (want >= 64) {
		__u32 first = 4096 - (__u32)((__u64)sp & 4095);
		for (int i = 0; i < SNAPSHOT_MAX_USER_STACK / 4096 + 1; i++) {
			if (got >= want || got > SNAPSHOT_MAX_USER_STACK - 4096)
				break;
			__u32 n = i == 0 ? first : 4096;
			if (got + n > want)
				n = want - got; /* the last, partial chunk */
			if (n == 0 || n > 4096)
				break;
			/* The checks above bound got and n, but clang may test copies of them: hide the
			 * values from the compiler and mask them, so that the verifier sees the bounds
			 * (off <= 2032, got <= 32767, n <= 8191: within area, thanks to its slack). */
			__u64 g = got, m = n;
			asm volatile("" : "+r"(g), "+r"(m));
			g &= 0x7fff;
			m &= 0x1fff;
			if (bpf_probe_read_user(b->area + off + g, m, sp + g))
				break;
			got += n;
		}
	}
	if (!got)
		count(SW_CNT_USER_STACK_ERR);
	b->hdr.user_stack_len = got;

	/* The thread's Python frames (collected above) after the stack bytes. */
	b->hdr.py_frames_len = 0;
	__u64 pos = off + got, pyb = 0;
	struct py_scratch *ps = npy ? py_state() : 0;
	asm volatile("" : "+r"(pos));
	if (ps && pos <= KSTACK_BYTES + UFP_BYTES + SNAPSHOT_MAX_USER_STACK) {
		pyb = (__u64)npy * sizeof(struct py_frame);
		if (pyb > sizeof(ps->frames))
			pyb = sizeof(ps->frames);
		if (bpf_probe_read_kernel(b->area + pos, pyb, ps->frames))
			pyb = 0;
		b->hdr.py_frames_len = pyb / sizeof(struct py_frame);
	}

	*total = sizeof(struct stack_snapshot_hdr) + off + got + pyb;
	if (*total > sizeof(struct snapshot_buf))
		return 0;
	return b;
}

/* Outputs a built snapshot. Returns 0 when emitted. */
static __always_inline int output_snapshot(struct snapshot_buf *b, __u64 total)
{
	if (total > sizeof(struct snapshot_buf))
		return -1;
	if (bpf_ringbuf_output(&snapshots, b, total, BPF_RB_NO_WAKEUP)) {
		count(SW_CNT_RING_BUFFER_FULL);
		return -1;
	}
	return 0;
}

/* Builds the current task's snapshot and outputs it. Returns 0 when emitted. */
static __always_inline int emit_snapshot(void *ctx, __u64 ts, __u32 tgid, __u32 tid, __u32 kernel_skip)
{
	__u64 total = 0;
	struct snapshot_buf *b = build_snapshot(ctx, ts, tgid, tid, kernel_skip, &total);
	if (!b)
		return -1;
	return output_snapshot(b, total);
}

#endif
