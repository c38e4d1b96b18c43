/* Double-buffered aggregation in the kernel: programs write to slot control[0] while user space
 * flips it and drains the other slot, so the kernel never writes to what is being read.
 * User space: StackProfilerBase.flip/drainSlot in src/profiler.ts. */
#ifndef SWLITE_SLOTS_H
#define SWLITE_SLOTS_H

#include "sw_counters.h"

/* control[0] = active slot (0 or 1). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} control SEC(".maps");

static __always_inline __u32 active_slot(void)
{
	__u32 zero = 0;
	__u32 *s = bpf_map_lookup_elem(&control, &zero);
	return s ? (*s & 1) : 0;
}

/* prefix##_0 and prefix##_1: hash maps from key_t to value_t, one per slot (AGG_MAPS: keyed by
 * struct stack_key). */
#define AGG_MAP(name, key_t, value_t)                                          \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_HASH);                               \
		__uint(max_entries, 10240);                                    \
		__type(key, key_t);                                            \
		__type(value, value_t);                                        \
	} name SEC(".maps")
#define AGG_MAPS_KEYED(prefix, key_t, value_t)                                 \
	AGG_MAP(prefix##_0, key_t, value_t);                                   \
	AGG_MAP(prefix##_1, key_t, value_t)
#define AGG_MAPS(prefix, value_t) AGG_MAPS_KEYED(prefix, struct stack_key, value_t)

/* The value of key in agg, inserted as *init when absent (another CPU may insert it first); NULL
 * when the map is full (counted: SW_CNT_AGG_FULL). Callers update it with atomic adds. */
static __always_inline void *agg_value(void *agg, const void *key, const void *init)
{
	void *v = bpf_map_lookup_elem(agg, key);
	if (v)
		return v;
	long err = bpf_map_update_elem(agg, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		count(SW_CNT_AGG_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(agg, key);
}

/* agg_value in the slot's map of AGG_MAPS(prefix, ...). */
#define SLOT_AGG_VALUE(prefix, slot, key, init)                                \
	((slot) ? agg_value(&prefix##_1, key, init) : agg_value(&prefix##_0, key, init))

#endif
