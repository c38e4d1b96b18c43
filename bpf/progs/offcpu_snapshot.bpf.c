// SPDX-License-Identifier: GPL-2.0
/* Off-CPU profiling with stack snapshots, on sched_switch. When a target thread switches out
 * (`current` is still prev) we emit its snapshot (registers, kernel stack, user stack copy; see
 * snapshot.h) stamped with the switch-out time, and remember that time per thread; when it is
 * switched in again we emit a struct offcpu_interval {ts_out, tgid, tid, duration}. User space
 * unwinds the snapshot once and attributes every later interval with the same ts_out to the
 * unwound stack, aggregating (count, blocked time) per stack. A thread that switches out again
 * with the same signature (registers, kernel stack, top 64 bytes of the user stack) as its last
 * emitted snapshot does not emit a new one: its interval carries the old snapshot's ts_out (a
 * server under load switches out tens of thousands of times per second, mostly from the same
 * few places). tp_btf preferred, the classic tracepoint as fallback, as in offcpu.bpf.c. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"
#include "snapshot.h"

/* Kernel frames to skip in tp_btf mode (the BPF program and the bpf_trace_run* trampoline). */
const volatile __u32 tp_btf_kernel_skip = 2;

/* Keeps struct offcpu_interval in the object's BTF (layout.test.ts checks it). */
const volatile struct offcpu_interval *btf_offcpu_interval __attribute__((unused)) = 0;

struct snap_start {
	__u64 ts_ns;   /* switch-out time */
	__u64 snap_ts; /* ts_ns of the snapshot that holds the stack */
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct snap_start);
} snap_starts SEC(".maps");

/* The last snapshot emitted per thread: its signature and time. A thread that blocks again at
 * the same place (event loops, worker pools) reuses it instead of emitting 16 KiB again. */
struct last_snap {
	__u64 sig;
	__u64 snap_ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct last_snap);
} last_snaps SEC(".maps");

#define SIG_MUL 0x9E3779B97F4A7C15ULL

/* Signature of a snapshot: user registers, kernel frames, sizes and the top 64 bytes of the user
 * stack (the syscall wrapper's frame and the return address into its caller). Equal signatures
 * with an equal sp mean the thread blocked at the same place through the same frames. */
static __always_inline __u64 snapshot_sig(struct snapshot_buf *b)
{
	__u64 h = b->hdr.tgid;
	h = (h ^ b->hdr.ip) * SIG_MUL;
	h = (h ^ b->hdr.sp) * SIG_MUL;
	h = (h ^ b->hdr.bp) * SIG_MUL;
	h = (h ^ ((__u64)b->hdr.kernel_stack_len << 32 | b->hdr.user_stack_len)) * SIG_MUL;
	__u32 klen = b->hdr.kernel_stack_len;
	for (int i = 0; i < PERF_MAX_STACK_DEPTH; i++) {
		if (i >= klen)
			break;
		h = (h ^ *(__u64 *)(b->area + i * 8)) * SIG_MUL;
	}
	__u64 off = ((__u64)b->hdr.kernel_stack_len + b->hdr.user_fp_len) * 8;
	off &= 2047;
	if (b->hdr.user_stack_len >= 64) {
		for (int i = 0; i < 8; i++)
			h = (h ^ *(__u64 *)(b->area + off + i * 8)) * SIG_MUL;
	}
	return h;
}

static __always_inline int on_switch(void *ctx, __u32 prev_tid, __u32 next_tid, __u32 kernel_skip)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* prev (== current) switches out */
	if (prev_tid != 0 && is_target(tgid)) {
		count(SW_CNT_SAMPLES);
		__u64 total = 0;
		struct snapshot_buf *b = build_snapshot(ctx, now, tgid, prev_tid, kernel_skip, &total);
		if (b) {
			__u64 sig = snapshot_sig(b);
			struct last_snap *ls = bpf_map_lookup_elem(&last_snaps, &prev_tid);
			struct snap_start st = { .ts_ns = now, .tgid = tgid };
			int ok = 0;
			if (ls && ls->sig == sig) {
				st.snap_ts = ls->snap_ts;
				count(SW_CNT_SNAPSHOT_REUSED);
				ok = 1;
			} else if (output_snapshot(b, total) == 0) {
				struct last_snap n = { .sig = sig, .snap_ts = now };
				bpf_map_update_elem(&last_snaps, &prev_tid, &n, BPF_ANY);
				st.snap_ts = now;
				ok = 1;
			} else {
				bpf_map_delete_elem(&last_snaps, &prev_tid);
			}
			if (ok && bpf_map_update_elem(&snap_starts, &prev_tid, &st, BPF_ANY))
				count(SW_CNT_START_FULL);
		}
	}

	/* next switches in */
	if (next_tid == 0)
		return 0;
	struct snap_start *s = bpf_map_lookup_elem(&snap_starts, &next_tid);
	if (!s)
		return 0;
	struct offcpu_interval iv = { .ts_out = s->snap_ts, .tgid = s->tgid, .tid = next_tid };
	__u64 start = s->ts_ns;
	bpf_map_delete_elem(&snap_starts, &next_tid);
	if (now < start)
		return 0;
	iv.duration_ns = now - start;
	if (bpf_ringbuf_output(&snapshots, &iv, sizeof(iv), BPF_RB_NO_WAKEUP))
		count(SW_CNT_RB_FULL);
	else
		count(SW_CNT_SWITCH_IN);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_snap_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, BPF_CORE_READ(prev, pid), BPF_CORE_READ(next, pid), tp_btf_kernel_skip);
}

SEC("tracepoint/sched/sched_switch")
int offcpu_snap_tp(struct trace_event_raw_sched_switch *ctx)
{
	return on_switch(ctx, (__u32)ctx->prev_pid, (__u32)ctx->next_pid, 0);
}

char LICENSE[] SEC("license") = "GPL";
