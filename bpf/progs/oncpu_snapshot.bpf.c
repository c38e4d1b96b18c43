// SPDX-License-Identifier: GPL-2.0
/* On-CPU stack snapshots ("perf --call-graph dwarf" style): each perf_event sample of a target
 * process becomes a ring buffer record (core/snapshot.h) that user space unwinds with CFI, for
 * binaries built without frame pointers. One program per kind of sampling event, as in oncpu.bpf.c. */
#include "core/core.h"
#include "core/snapshot.h"

static __noinline int snapshot(struct bpf_perf_event_data *ctx, __u8 scope)
{
	__u32 tgid, tid;
	if (ctx && current_target_sample(&tgid, &tid, scope))
		emit_snapshot(ctx, bpf_ktime_get_ns(), tgid, tid, 0);
	return 0;
}

SEC("perf_event")
int on_cpu_snapshot(struct bpf_perf_event_data *ctx)
{
	return snapshot(ctx, TARGET_SCOPE_CPU);
}

SEC("perf_event")
int on_cpu_snapshot_thread(struct bpf_perf_event_data *ctx)
{
	return snapshot(ctx, TARGET_SCOPE_THREAD);
}

char LICENSE[] SEC("license") = "GPL";
