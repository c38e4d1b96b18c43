// SPDX-License-Identifier: GPL-2.0
/* On-CPU stack snapshots ("perf --call-graph dwarf" style): on each perf_event sample of a target
 * process, emit to a ring buffer the user registers (ip, sp, bp), the kernel stack (addresses),
 * optionally the kernel's frame-pointer walk of the user stack, and a copy of the top of the user
 * stack from sp, so that user space can unwind with CFI (.eh_frame) binaries built without frame
 * pointers (see snapshot.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"
#include "snapshot.h"

SEC("perf_event")
int on_cpu_snapshot(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!is_target(tgid))
		return 0;
	count(SW_CNT_SAMPLES);
	emit_snapshot(ctx, bpf_ktime_get_ns(), tgid, (__u32)id, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
