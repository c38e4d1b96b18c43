// SPDX-License-Identifier: GPL-2.0
/* Off-CPU profiling on sched_switch (core/sched_switch.h): when a target thread switches out we
 * record the time and its stack ids; when it is switched in again we add (1 switch, time off CPU)
 * to the aggregation map of the slot its stacks were captured in. */
#include "core/core.h"
#include "core/stacks.h"
#include "core/sched_switch.h"

/* Minimum off-CPU interval to record, in ns (0 = all). */
const volatile __u64 min_block_ns = 0;

SWITCH_STARTS(struct offcpu_start)
AGG_MAPS(offcpu, struct offcpu_value);

static __always_inline void on_switch_out(void *ctx, __u64 now, __u32 tgid, __u32 tid, __u32 kernel_skip)
{
	struct offcpu_start st = { .ts_ns = now, .key = { .tgid = tgid }, .slot = active_slot() };
	capture_stacks(ctx, st.slot, &st.key, kernel_skip);
	put_start(tid, &st);
}

static __always_inline void on_switch_in(void *ctx, __u64 now, __u32 tid)
{
	struct offcpu_start st;
	if (take_start(tid, now, &st) || now - st.ts_ns < min_block_ns)
		return;
	struct offcpu_value init = {};
	struct offcpu_value *v = SLOT_AGG_VALUE(offcpu, st.slot, &st.key, &init);
	if (!v)
		return;
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->duration_ns, now - st.ts_ns);
	count(SW_CNT_SWITCH_IN);
}

char LICENSE[] SEC("license") = "GPL";
