// SPDX-License-Identifier: GPL-2.0
/* Off-CPU profiling with stack snapshots, on sched_switch (core/sched_switch.h). When a target
 * thread switches out we emit its snapshot (core/snapshot.h) stamped with the switch-out time, and
 * remember that time per thread; when it is switched in again we emit a struct offcpu_interval
 * {ts_out, tgid, tid, duration}. User space unwinds the snapshot once and attributes every later
 * interval with the same ts_out to the unwound stack. A thread that switches out again with the
 * same signature (registers, kernel stack, top 64 bytes of the user stack, Python frames) as its
 * last emitted snapshot does not emit a new one: its interval carries the old snapshot's ts_out
 * (a server under load switches out tens of thousands of times per second, mostly from the same
 * few places). */
#include "core/core.h"
#include "core/snapshot.h"
#include "core/sched_switch.h"

struct snap_start {
	__u64 ts_ns;   /* switch-out time */
	__u64 snap_ts; /* ts_ns of the snapshot that holds the stack */
	__u32 tgid;
	__u32 pad;
};

SWITCH_STARTS(struct snap_start)

BTF_KEEP(struct offcpu_interval, offcpu_interval);
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
	h = (h ^ ((__u64)b->hdr.py_frames_len << 32 | py_last_hash())) * SIG_MUL;
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

static __always_inline void on_switch_out(void *ctx, __u64 now, __u32 tgid, __u32 tid, __u32 kernel_skip)
{
	__u64 total = 0;
	struct snapshot_buf *b = build_snapshot(ctx, now, tgid, tid, kernel_skip, &total);
	if (!b)
		return;
	__u64 sig = snapshot_sig(b);
	struct last_snap *ls = bpf_map_lookup_elem(&last_snaps, &tid);
	struct snap_start st = { .ts_ns = now, .tgid = tgid };
	if (ls && ls->sig == sig) {
		st.snap_ts = ls->snap_ts;
		count(SW_CNT_SNAPSHOT_REUSED);
	} else if (output_snapshot(b, total) == 0) {
		struct last_snap n = { .sig = sig, .snap_ts = now };
		bpf_map_update_elem(&last_snaps, &tid, &n, BPF_ANY);
		st.snap_ts = now;
	} else {
		bpf_map_delete_elem(&last_snaps, &tid);
		return;
	}
	put_start(tid, &st);
}

static __always_inline void on_switch_in(void *ctx, __u64 now, __u32 tid)
{
	struct snap_start st;
	if (take_start(tid, now, &st))
		return;
	struct offcpu_interval iv = { .ts_out = st.snap_ts, .tgid = st.tgid, .tid = tid, .duration_ns = now - st.ts_ns };
	if (bpf_ringbuf_output(&snapshots, &iv, sizeof(iv), BPF_RB_NO_WAKEUP))
		count(SW_CNT_RING_BUFFER_FULL);
	else
		count(SW_CNT_SWITCH_IN);
}

char LICENSE[] SEC("license") = "GPL";
