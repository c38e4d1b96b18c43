/* Double-buffered stack trace maps and stack capture (BPF side only). Include after common.h. */
#ifndef SWLITE_STACKS_H
#define SWLITE_STACKS_H

#include "common.h"

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
					   int want_user, __u32 kernel_skip)
{
	long k = -1, u = -1;
	if (want_kernel) {
		k = slot_stackid(ctx, slot, kernel_skip & BPF_F_SKIP_FIELD_MASK);
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
