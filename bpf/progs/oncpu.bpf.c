// SPDX-License-Identifier: GPL-2.0
/* On-CPU profiling: a perf_event program (software CPU clock, one event per CPU or per target
 * thread) samples the running task; for target processes it counts samples per (tgid, user
 * stack, kernel stack) in the active slot. User space drains the other slot. */
#include "core/core.h"
#include "core/stacks.h"

AGG_MAPS(counts, __u64);

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid, tid;
	if (!current_target_event(&tgid, &tid))
		return 0;
	__u32 slot = active_slot();
	struct stack_key key = { .tgid = tgid };
	capture_stacks(ctx, slot, &key, 0);
	__u64 zero = 0;
	__u64 *v = SLOT_AGG_VALUE(counts, slot, &key, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
