/* What the stack cores (slots.h, stacks.h, snapshot.h, sched_switch.h) share beyond core.h: they
 * count with enum sw_counter, core.h's default counters. */
#ifndef SWLITE_SW_COUNTERS_H
#define SWLITE_SW_COUNTERS_H

#include "core.h"
#ifndef CORE_SW_COUNTERS
#error "the stack cores count with enum sw_counter: include them without CORE_COUNTER_ENUM"
#endif

/* True when the current task belongs to a target process: counts the event as SW_CNT_SAMPLES
 * (a sample on CPU, a switch out off CPU) and returns its process and thread ids. */
static __always_inline int current_target_event(__u32 *tgid, __u32 *tid)
{
	__u64 id = bpf_get_current_pid_tgid();
	*tgid = id >> 32;
	*tid = (__u32)id;
	if (!is_target(*tgid))
		return 0;
	count(SW_CNT_SAMPLES);
	return 1;
}

/* current_target_event for a sampling event of `scope` (TARGET_SCOPE_*): only the processes
 * sampled by that kind of event count. */
static __always_inline int current_target_sample(__u32 *tgid, __u32 *tid, __u8 scope)
{
	__u64 id = bpf_get_current_pid_tgid();
	*tgid = id >> 32;
	*tid = (__u32)id;
	if (!is_target_in_scope(*tgid, scope))
		return 0;
	count(SW_CNT_SAMPLES);
	return 1;
}

#endif
