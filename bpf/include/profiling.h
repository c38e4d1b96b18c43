/* Structures that cross the kernel/user boundary for the profiling programs. Described for user
 * space in src/layout.ts (offsets computed from the description); src/layout.test.ts checks every
 * size and offset against the BTF of the built objects. Include after vmlinux.h. */
#ifndef SWLITE_PROFILING_H
#define SWLITE_PROFILING_H

/* perf_event_max_stack; a stack map value is PERF_MAX_STACK_DEPTH u64 addresses. */
#define PERF_MAX_STACK_DEPTH 127

/* Aggregation maps are double-buffered: the BPF side writes to slot control[0], user space
 * flips it, then drains the inactive slot without racing the writers. */
#define SW_SLOTS 2

/* Stack ids with this bit set live in the slot's secondary stack map (stacks_Nx): used when the
 * primary map's bucket for a stack is held by another stack (bpf_get_stackid -EEXIST). */
#define STACK_ID_SECONDARY (1u << 30)

/* Key of the aggregation maps (on-CPU and off-CPU). A negative stack id means "not captured". */
struct stack_key {
	__u32 tgid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
}; /* 12 bytes */

/* Value of the off-CPU aggregation maps. On-CPU values are a plain __u64 sample count. */
struct offcpu_value {
	__u64 count;       /* switches out */
	__u64 duration_ns; /* total time off CPU */
}; /* 16 bytes */

/* Off-CPU: state of a target thread that is switched out, keyed by thread id. */
struct offcpu_start {
	__u64 ts_ns;
	struct stack_key key; /* the switch-out's stacks, in slot `slot`'s stack maps */
	__u32 slot;
}; /* 24 bytes */

/* Stack snapshot mode (oncpu_snapshot.bpf.c): one ring buffer record per sample, for user-space
 * (DWARF/CFI) unwinding of binaries without frame pointers. The record is the header, then
 * kernel_stack_len u64 kernel addresses, then user_stack_len bytes of user stack from regs.sp,
 * then py_frames_len Python frames (struct py_frame, innermost first) when the process is Python. */
#define SNAPSHOT_MAX_USER_STACK 32768

struct stack_snapshot_hdr {
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	/* user-mode registers at the sample (task_pt_regs) */
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u32 kernel_stack_len; /* number of u64 kernel frames that follow */
	__u32 user_stack_len;   /* bytes of user stack copied after the kernel (and FP) frames */
	__u32 user_fp_len;      /* number of u64 user frames from the kernel's frame-pointer walk,
				 * between the kernel frames and the stack bytes (0 when not asked) */
	__u32 py_frames_len;    /* number of struct py_frame (pyframes.h) after the stack bytes */
}; /* 56 bytes */

/* Off-CPU snapshot mode (offcpu_snapshot.bpf.c): the ring buffer carries a stack snapshot record
 * (hdr.ts_ns = switch-out time) when a target thread switches out with a new signature; the
 * intervals until its switch-ins are aggregated in the kernel (maps snap_intervals_N, value
 * struct offcpu_value) under this key, which user space joins with the snapshot of (tid, ts_out). */
/* Snapshots remembered per thread for reuse (signature, ts_out): a thread that blocks at a few
 * places in turn (an event loop's epoll_wait, read, write) reuses each; user space keeps at
 * least this many of each thread's latest snapshots (layout.ts SNAP_HISTORY). */
#define SNAP_HISTORY 4

struct offcpu_snap_key {
	__u64 ts_out; /* hdr.ts_ns of the snapshot holding the stack: the switch-out's own, or the
		       * thread's previous one when registers, kernel stack and the top 64 bytes of the
		       * user stack were identical (that snapshot is then not emitted again) */
	__u32 tgid;
	__u32 tid;
}; /* 16 bytes */

/* Indexes of the per-CPU `counters` array. */
enum sw_counter {
	SW_CNT_SAMPLES = 0,           /* on-CPU samples / off-CPU switch-outs of target tasks */
	SW_CNT_AGG_FULL = 1,          /* LOST: aggregation map full, sample dropped */
	SW_CNT_USER_STACK_ERR = 2,    /* user stack not captured (kept with id < 0) */
	SW_CNT_KERNEL_STACK_ERR = 3,  /* kernel stack not captured, other than "no kernel stack" */
	SW_CNT_STACK_COLLISION = 4,   /* LOST stack: bucket taken in both primary and secondary maps */
	SW_CNT_START_FULL = 5,        /* LOST: off-CPU start map full, switch dropped */
	SW_CNT_SWITCH_IN = 6,         /* off-CPU: completed off-CPU intervals aggregated */
	SW_CNT_RING_BUFFER_FULL = 7,  /* LOST: ring buffer full (stack snapshot mode) */
	SW_CNT_STACK_SECONDARY = 8,   /* stacks stored in the secondary map (not lost) */
	SW_CNT_SNAPSHOT_REUSED = 9,   /* off-CPU snapshots not emitted: same as the thread's previous one */
	SW_CNT_PY_INVALID = 10,       /* Python frame walks cut short: a frame or code object unreadable or not a code object */
	SW_CNT_MAX = 11,
};

#endif
