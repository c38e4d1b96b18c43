// SPDX-License-Identifier: GPL-2.0
/* On-CPU profiling: perf_event programs on the software CPU clock sample the running task; for
 * target processes they count samples per (tgid, user stack, kernel stack) in the active slot.
 * User space drains the other slot. One program per kind of event (per CPU, or per target thread,
 * inherited by its new threads): an inherited event runs its parent's program, so the program
 * says which kind fired, and each counts only the processes of its scope (core.h). */
#include "core/core.h"
#include "core/stacks.h"

AGG_MAPS(counts, __u64);

static __noinline int sample(struct bpf_perf_event_data *ctx, __u8 scope)
{
	__u32 tgid, tid;
	if (!ctx || !current_target_sample(&tgid, &tid, scope))
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

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, TARGET_SCOPE_CPU);
}

SEC("perf_event")
int on_cpu_sample_thread(struct bpf_perf_event_data *ctx)
{
	return sample(ctx, TARGET_SCOPE_THREAD);
}

char LICENSE[] SEC("license") = "GPL";
