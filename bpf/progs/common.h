/* Helpers shared by the profiling programs (BPF side only). */
#ifndef SWLITE_COMMON_H
#define SWLITE_COMMON_H

#include "profiling.h"

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef EFAULT
#define EFAULT 14
#endif

/* Processes to profile: tgid -> 1. One loaded object serves several tasks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} target_tgids SEC(".maps");

/* control[0] = active aggregation slot (0 or 1). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} control SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline __u32 active_slot(void)
{
	__u32 zero = 0;
	__u32 *s = bpf_map_lookup_elem(&control, &zero);
	return s ? (*s & 1) : 0;
}

static __always_inline int is_target(__u32 tgid)
{
	return tgid != 0 && bpf_map_lookup_elem(&target_tgids, &tgid) != 0;
}

#endif
