// SPDX-License-Identifier: GPL-2.0
/* On-CPU stack snapshots ("perf --call-graph dwarf" style): each perf_event sample of a target
 * process becomes a ring buffer record (core/snapshot.h) that user space unwinds with CFI, for
 * binaries built without frame pointers. */
#include "core/core.h"
#include "core/snapshot.h"

SEC("perf_event")
int on_cpu_snapshot(struct bpf_perf_event_data *ctx)
{
	__u32 tgid, tid;
	if (current_target_event(&tgid, &tid))
		emit_snapshot(ctx, bpf_ktime_get_ns(), tgid, tid, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
