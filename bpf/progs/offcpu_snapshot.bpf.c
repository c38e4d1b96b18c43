// SPDX-License-Identifier: GPL-2.0
/* Off-CPU profiling with stack snapshots, on sched_switch. When a target thread switches out
 * (`current` is still prev) we emit its snapshot (registers, kernel stack, user stack copy; see
 * snapshot.h) stamped with the switch-out time, and remember that time per thread; when it is
 * switched in again we emit a struct offcpu_interval {ts_out, tgid, tid, duration}. User space
 * unwinds the snapshot once and attributes every later interval with the same ts_out to the
 * unwound stack, aggregating (count, blocked time) per stack. tp_btf preferred, the classic
 * tracepoint as fallback, as in offcpu.bpf.c. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"
#include "snapshot.h"

/* Kernel frames to skip in tp_btf mode (the BPF program and the bpf_trace_run* trampoline). */
const volatile __u32 tp_btf_kernel_skip = 2;

/* Keeps struct offcpu_interval in the object's BTF (layout.test.ts checks it). */
const volatile struct offcpu_interval *btf_offcpu_interval __attribute__((unused)) = 0;

struct snap_start {
	__u64 ts_ns;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct snap_start);
} snap_starts SEC(".maps");

static __always_inline int on_switch(void *ctx, __u32 prev_tid, __u32 next_tid, __u32 kernel_skip)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* prev (== current) switches out */
	if (prev_tid != 0 && is_target(tgid)) {
		count(SW_CNT_SAMPLES);
		if (emit_snapshot(ctx, now, tgid, prev_tid, kernel_skip) == 0) {
			struct snap_start st = { .ts_ns = now, .tgid = tgid };
			if (bpf_map_update_elem(&snap_starts, &prev_tid, &st, BPF_ANY))
				count(SW_CNT_START_FULL);
		}
	}

	/* next switches in */
	if (next_tid == 0)
		return 0;
	struct snap_start *s = bpf_map_lookup_elem(&snap_starts, &next_tid);
	if (!s)
		return 0;
	struct offcpu_interval iv = { .ts_out = s->ts_ns, .tgid = s->tgid, .tid = next_tid };
	bpf_map_delete_elem(&snap_starts, &next_tid);
	if (now < iv.ts_out)
		return 0;
	iv.duration_ns = now - iv.ts_out;
	if (bpf_ringbuf_output(&snapshots, &iv, sizeof(iv), BPF_RB_NO_WAKEUP))
		count(SW_CNT_RB_FULL);
	else
		count(SW_CNT_SWITCH_IN);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_snap_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, BPF_CORE_READ(prev, pid), BPF_CORE_READ(next, pid), tp_btf_kernel_skip);
}

SEC("tracepoint/sched/sched_switch")
int offcpu_snap_tp(struct trace_event_raw_sched_switch *ctx)
{
	return on_switch(ctx, (__u32)ctx->prev_pid, (__u32)ctx->next_pid, 0);
}

char LICENSE[] SEC("license") = "GPL";
