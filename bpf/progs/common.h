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

#define STACK_MAP(name, n)                                                     \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                        \
		__uint(max_entries, n);                                        \
		__uint(key_size, sizeof(__u32));                               \
		__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(__u64));      \
	} name SEC(".maps")

/* Per slot: a primary stack map and a smaller secondary one for bucket collisions. */
STACK_MAP(stacks_0, 8192);
STACK_MAP(stacks_1, 8192);
STACK_MAP(stacks_0x, 2048);
STACK_MAP(stacks_1x, 2048);

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

/* bpf_get_stackid into the slot's primary map, or its secondary map when the primary bucket is
 * held by a different stack. Secondary ids carry STACK_ID_SECONDARY. */
static __always_inline long slot_stackid(void *ctx, __u32 slot, __u64 flags)
{
	long id = slot ? bpf_get_stackid(ctx, &stacks_1, flags) : bpf_get_stackid(ctx, &stacks_0, flags);
	if (id != -EEXIST)
		return id;
	id = slot ? bpf_get_stackid(ctx, &stacks_1x, flags) : bpf_get_stackid(ctx, &stacks_0x, flags);
	if (id >= 0) {
		count(SW_CNT_STACK_SECONDARY);
		return id | STACK_ID_SECONDARY;
	}
	return id;
}

/* Captures the current task's kernel and user stack ids into the slot's stack maps. */
static __always_inline void capture_stacks(void *ctx, __u32 slot, struct stack_key *key, int want_kernel,
					   int want_user)
{
	long k = -1, u = -1;
	if (want_kernel) {
		k = slot_stackid(ctx, slot, 0);
		if (k == -EEXIST)
			count(SW_CNT_STACK_COLLISION);
		else if (k < 0 && k != -EFAULT)
			count(SW_CNT_KERNEL_STACK_ERR);
	}
	if (want_user) {
		u = slot_stackid(ctx, slot, BPF_F_USER_STACK);
		if (u == -EEXIST)
			count(SW_CNT_STACK_COLLISION);
		else if (u < 0)
			count(SW_CNT_USER_STACK_ERR);
	}
	key->kernel_stack_id = k < 0 ? -1 : (__s32)k;
	key->user_stack_id = u < 0 ? -1 : (__s32)u;
}

#endif
