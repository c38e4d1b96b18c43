/* Off-CPU on sched_switch, written once for every off-CPU program: two programs with the same
 * logic, tp_btf/sched_switch (preferred) and tracepoint/sched/sched_switch (fallback; user space
 * loads the one the kernel allows, src/core/sched-switch.ts), and the per-thread switch-out state.
 *
 * At the switch `current` is still prev. The including program defines
 *   on_switch_out(ctx, now, tgid, tid, kernel_skip): a thread of a target process switches out
 *     (its stacks can be captured now, from its own context; skip kernel_skip leading kernel
 *     frames so that the kernel stack starts at __schedule in both modes);
 *   on_switch_in(ctx, now, tid): thread tid (any process) switches in;
 * and keeps per-thread state with SWITCH_STARTS(value_t), value_t starting with __u64 ts_ns. */
#ifndef SWLITE_SCHED_SWITCH_H
#define SWLITE_SCHED_SWITCH_H

#include "sw_counters.h"

/* Kernel frames to skip in tp_btf mode: the stack starts in the BPF program and the
 * bpf_trace_run* trampoline before __schedule (2 frames on x86-64 6.x; the classic tracepoint
 * path already starts at __schedule). */
const volatile __u32 tp_btf_kernel_skip = 2;

static __always_inline void on_switch_out(void *ctx, __u64 now, __u32 tgid, __u32 tid, __u32 kernel_skip);
static __always_inline void on_switch_in(void *ctx, __u64 now, __u32 tid);

static __always_inline int sched_switch(void *ctx, __u32 next_tid, __u32 kernel_skip)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid, tid;
	if (current_target_event(&tgid, &tid))
		on_switch_out(ctx, now, tgid, tid, kernel_skip);
	if (next_tid != 0)
		on_switch_in(ctx, now, next_tid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return sched_switch(ctx, BPF_CORE_READ(next, pid), tp_btf_kernel_skip);
}

SEC("tracepoint/sched/sched_switch")
int sched_switch_tp(struct trace_event_raw_sched_switch *ctx)
{
	return sched_switch(ctx, (__u32)ctx->next_pid, 0);
}

/* `starts`: thread id -> value_t of a switched-out target thread; put_start() at switch-out,
 * take_start() at switch-in (0 when found and not later than now: the thread was off CPU for
 * now - ts_ns). */
#define SWITCH_STARTS(value_t)                                                 \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, 16384);                                    \
		__type(key, __u32);                                            \
		__type(value, value_t);                                        \
	} starts SEC(".maps");                                                 \
	static __always_inline void put_start(__u32 tid, const value_t *v)     \
	{                                                                      \
		if (bpf_map_update_elem(&starts, &tid, v, BPF_ANY))            \
			count(SW_CNT_START_FULL);                              \
	}                                                                      \
	static __always_inline int take_start(__u32 tid, __u64 now, value_t *out) \
	{                                                                      \
		value_t *s = bpf_map_lookup_elem(&starts, &tid);               \
		if (!s)                                                        \
			return -1;                                             \
		*out = *s;                                                     \
		bpf_map_delete_elem(&starts, &tid);                            \
		return now < out->ts_ns ? -1 : 0;                              \
	}

#endif
