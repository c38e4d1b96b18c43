// SPDX-License-Identifier: GPL-2.0
/* On-CPU stack snapshots ("perf --call-graph dwarf" style): on each perf_event sample of a target
 * process, emit to a ring buffer the user registers (ip, sp, bp), the kernel stack (addresses),
 * and a copy of the top of the user stack from sp, so that user space can unwind with CFI
 * (.eh_frame) binaries built without frame pointers. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"

/* Bytes of user stack to copy (rounded down to a multiple of 8, at most SNAPSHOT_MAX_USER_STACK). */
const volatile __u32 user_stack_bytes = 8192;
const volatile __u8 collect_kernel = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by user space */
} snapshots SEC(".maps");

#define KSTACK_BYTES (PERF_MAX_STACK_DEPTH * 8)

/* The record as emitted: header, then kernel frames, then user stack bytes, contiguous. */
struct snapshot_buf {
	struct stack_snapshot_hdr hdr;
	__u8 area[KSTACK_BYTES + SNAPSHOT_MAX_USER_STACK];
};

/* Per-CPU scratch: the record is built here, then copied to the ring buffer at its real size. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snapshot_buf);
} scratch SEC(".maps");

SEC("perf_event")
int on_cpu_snapshot(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!is_target(tgid))
		return 0;
	count(SW_CNT_SAMPLES);

	__u32 zero = 0;
	struct snapshot_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;

	/* User-mode registers: task_pt_regs is the user state whether the sample hit user or
	 * kernel mode. */
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	b->hdr.ts_ns = bpf_ktime_get_ns();
	b->hdr.tgid = tgid;
	b->hdr.tid = (__u32)id;
	b->hdr.ip = BPF_CORE_READ(regs, ip);
	b->hdr.sp = BPF_CORE_READ(regs, sp);
	b->hdr.bp = BPF_CORE_READ(regs, bp);

	long klen = 0;
	if (collect_kernel) {
		klen = bpf_get_stack(ctx, b->area, KSTACK_BYTES, 0);
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

	/* Copy the top of the user stack right after the kernel frames. Near the end of a stack
	 * mapping a large read faults as a whole, so retry with halves. */
	__u32 want = user_stack_bytes & ~7u;
	__u32 got = 0;
	void *sp = (void *)b->hdr.sp;
	for (int i = 0; i < 8; i++) {
		__u32 n = want;
		if (n > SNAPSHOT_MAX_USER_STACK)
			n = SNAPSHOT_MAX_USER_STACK;
		if (n < 64)
			break;
		if (bpf_probe_read_user(b->area + ksz, n, sp) == 0) {
			got = n;
			break;
		}
		want >>= 1;
	}
	if (!got)
		count(SW_CNT_USER_STACK_ERR);
	b->hdr.user_stack_len = got;

	__u64 total = sizeof(struct stack_snapshot_hdr) + ksz + got;
	if (total > sizeof(struct snapshot_buf))
		return 0;
	if (bpf_ringbuf_output(&snapshots, b, total, 0))
		count(SW_CNT_RB_FULL);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
