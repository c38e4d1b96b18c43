// SPDX-License-Identifier: GPL-2.0
/* Off-CPU profiling on sched_switch. At the switch, `current` is still prev: when a target
 * thread switches out we record the time and its stack ids (captured now, from its own
 * context); when it is switched in again we add (1 switch, time off CPU) to the aggregation map
 * of the slot its stacks were captured in. Two programs carry the same logic: tp_btf (preferred)
 * and the classic tracepoint (fallback); user space loads the one the kernel allows. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"
#include "stacks.h"

const volatile __u8 collect_kernel = 1;
const volatile __u8 collect_user = 1;
/* Minimum off-CPU interval to record, in ns (0 = all). */
const volatile __u64 min_block_ns = 0;
/* Kernel frames to skip in tp_btf mode: the stack starts in the BPF program and the
 * bpf_trace_run* trampoline before __schedule (2 frames on x86-64 6.x; the classic tracepoint
 * path already starts at __schedule). */
const volatile __u32 tp_btf_kernel_skip = 2;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct offcpu_start);
} starts SEC(".maps");

#define OFFCPU_MAP(name)                                                       \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, 10240);                                    \
		__type(key, struct stack_key);                                 \
		__type(value, struct offcpu_value);                            \
	} name SEC(".maps")

OFFCPU_MAP(offcpu_0);
OFFCPU_MAP(offcpu_1);

static __always_inline void add_interval(void *agg, struct stack_key *key, __u64 delta)
{
	struct offcpu_value *v = bpf_map_lookup_elem(agg, key);
	if (!v) {
		struct offcpu_value init = {};
		long err = bpf_map_update_elem(agg, key, &init, BPF_NOEXIST);
		if (err && err != -EEXIST) {
			count(SW_CNT_AGG_FULL);
			return;
		}
		v = bpf_map_lookup_elem(agg, key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->duration_ns, delta);
	count(SW_CNT_SWITCH_IN);
}

static __always_inline int on_switch(void *ctx, __u32 prev_tid, __u32 next_tid, __u32 kernel_skip)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* prev (== current) switches out */
	if (prev_tid != 0 && is_target(tgid)) {
		count(SW_CNT_SAMPLES);
		struct offcpu_start st = { .ts_ns = now, .tgid = tgid };
		struct stack_key key = {};
		st.slot = active_slot();
		capture_stacks(ctx, st.slot, &key, collect_kernel, collect_user, kernel_skip);
		st.user_stack_id = key.user_stack_id;
		st.kernel_stack_id = key.kernel_stack_id;
		if (bpf_map_update_elem(&starts, &prev_tid, &st, BPF_ANY))
			count(SW_CNT_START_FULL);
	}

	/* next switches in */
	if (next_tid == 0)
		return 0;
	struct offcpu_start *s = bpf_map_lookup_elem(&starts, &next_tid);
	if (!s)
		return 0;
	struct offcpu_start st = *s;
	bpf_map_delete_elem(&starts, &next_tid);
	if (now < st.ts_ns)
		return 0;
	__u64 delta = now - st.ts_ns;
	if (delta < min_block_ns)
		return 0;
	struct stack_key key = {
		.tgid = st.tgid,
		.user_stack_id = st.user_stack_id,
		.kernel_stack_id = st.kernel_stack_id,
	};
	if (st.slot)
		add_interval(&offcpu_1, &key, delta);
	else
		add_interval(&offcpu_0, &key, delta);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, BPF_CORE_READ(prev, pid), BPF_CORE_READ(next, pid), tp_btf_kernel_skip);
}

SEC("tracepoint/sched/sched_switch")
int offcpu_tp(struct trace_event_raw_sched_switch *ctx)
{
	return on_switch(ctx, (__u32)ctx->prev_pid, (__u32)ctx->next_pid, 0);
}

char LICENSE[] SEC("license") = "GPL";
