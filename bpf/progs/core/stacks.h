/* Stack capture as stack ids (the kernel's frame-pointer walk, bpf_get_stackid) into the active
 * slot's stack maps. User space resolves and deletes the ids when it drains the slot. */
#ifndef SWLITE_STACKS_H
#define SWLITE_STACKS_H

#include "sw_counters.h"
#include "config.h"
#include "slots.h"

/* Capture user stacks (the kernel stack follows collect_kernel). */
const volatile __u8 collect_user = 1;

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

/* Captures the current task's kernel and user stack ids into the slot's stack maps (as the knobs
 * ask), skipping kernel_skip leading kernel frames. An id < 0 means "not captured". */
static __always_inline void capture_stacks(void *ctx, __u32 slot, struct stack_key *key, __u32 kernel_skip)
{
	long k = -1, u = -1;
	if (collect_kernel) {
		k = slot_stackid(ctx, slot, kernel_skip & BPF_F_SKIP_FIELD_MASK);
		if (k == -EEXIST)
			count(SW_CNT_STACK_COLLISION);
		else if (k < 0 && k != -EFAULT) /* -EFAULT: no kernel stack (sample in user mode) */
			count(SW_CNT_KERNEL_STACK_ERR);
	}
	if (collect_user) {
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
