/* The profiler core every program includes first: kernel types and libbpf helpers, the target
 * process table, the per-CPU event counters and the BTF anchor for records that only cross the
 * ring buffer. A program that counts other events than enum sw_counter defines CORE_COUNTER_ENUM
 * (the enum's tag) and CORE_COUNTERS (the number of its counters) before including this; one that
 * tracks more than 1024 processes defines CORE_MAX_TARGETS. User space: src/core/targets.ts,
 * src/core/counters.ts and the object's spec in src/objects.ts. */
#ifndef SWLITE_CORE_H
#define SWLITE_CORE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "profiling.h"

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef EFAULT
#define EFAULT 14
#endif

#ifndef CORE_COUNTER_ENUM
#define CORE_COUNTER_ENUM sw_counter
#define CORE_COUNTERS SW_CNT_MAX
#define CORE_SW_COUNTERS 1 /* the profiling counters: the stack cores count with them */
#endif
#ifndef CORE_MAX_TARGETS
#define CORE_MAX_TARGETS 1024
#endif

/* Processes to observe: tgid -> its sampling scope (any non-zero value for programs that do not
 * sample). One loaded object serves several tasks. An on-CPU sampler samples each process either
 * with the per-CPU clock events (TARGET_SCOPE_CPU) or with the process's own per-thread events
 * (TARGET_SCOPE_THREAD); each kind of event fires its own program, which counts only the processes
 * of its scope, so a process is never counted by both. */
#define TARGET_SCOPE_CPU 1
#define TARGET_SCOPE_THREAD 2
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CORE_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} target_tgids SEC(".maps");

/* Event counters, one u64 per CPU each; user space sums the CPUs and reports deltas. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CORE_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline int is_target(__u32 tgid)
{
	return tgid != 0 && bpf_map_lookup_elem(&target_tgids, &tgid) != 0;
}

/* True when `tgid` is a target sampled by the events of `scope` (TARGET_SCOPE_*). */
static __always_inline int is_target_in_scope(__u32 tgid, __u8 scope)
{
	__u8 *v = tgid != 0 ? bpf_map_lookup_elem(&target_tgids, &tgid) : 0;
	return v && *v == scope;
}

/* Ring buffer records and counter enums appear in no map definition, so the compiler would leave
 * them out of the object's BTF, where layout.test.ts reads every layout user space decodes.
 * BTF_KEEP(type, name) puts one instance in a section libbpf does not load (it logs, at info
 * level, that it skips the section). */
#define BTF_KEEP(type, name) type __btf_keep_##name SEC(".shared_types") __attribute__((unused))

BTF_KEEP(enum CORE_COUNTER_ENUM, counter_enum);

#endif
