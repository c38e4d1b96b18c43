// SPDX-License-Identifier: GPL-2.0
/* On-CPU profiling: a perf_event program (software CPU clock, one event per CPU) samples the
 * running task; for target processes it counts samples per (tgid, user stack, kernel stack) in
 * the kernel. User space drains the inactive slot of counts_N / stacks_N. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "common.h"
#include "stacks.h"

/* Knobs set before load. */
const volatile __u8 collect_kernel = 1;
const volatile __u8 collect_user = 1;

#define COUNT_MAP(name)                                                        \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, 10240);                                    \
		__type(key, struct stack_key);                                 \
		__type(value, __u64);                                          \
	} name SEC(".maps")

COUNT_MAP(counts_0);
COUNT_MAP(counts_1);

static __always_inline void add_sample(void *agg, struct stack_key *key)
{
	__u64 *v = bpf_map_lookup_elem(agg, key);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	__u64 one = 1;
	long err = bpf_map_update_elem(agg, key, &one, BPF_NOEXIST);
	if (err == -EEXIST) { /* another CPU inserted it meanwhile */
		v = bpf_map_lookup_elem(agg, key);
		if (v)
			__sync_fetch_and_add(v, 1);
		return;
	}
	if (err)
		count(SW_CNT_AGG_FULL);
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!is_target(tgid))
		return 0;
	count(SW_CNT_SAMPLES);
	__u32 slot = active_slot();
	struct stack_key key = { .tgid = tgid };
	capture_stacks(ctx, slot, &key, collect_kernel, collect_user, 0);
	if (slot)
		add_sample(&counts_1, &key);
	else
		add_sample(&counts_0, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
