// SPDX-License-Identifier: GPL-2.0
/* Off-CPU profiling with stack snapshots, on sched_switch (core/sched_switch.h). When a target
 * thread switches out we emit its snapshot (core/snapshot.h) stamped with the switch-out time, and
 * remember that time per thread; when it is switched in again we add (1 switch, time off CPU) to
 * the active slot's map under struct offcpu_snap_key {ts_out, tgid, tid} (a ring record per
 * switch-in cost user space a callback each). User space unwinds the snapshot once and attributes
 * the aggregated intervals with the same (tid, ts_out) to it. A thread that switches out with the
 * same signature (registers, kernel stack, return addresses atop the user stack, Python frames) as one of its last
 * SNAP_HISTORY emitted snapshots does not emit a new one: its interval carries that snapshot's
 * ts_out (a server under load switches out tens of thousands of times per second, mostly from the
 * same few places, often in turn). */
#include "core/core.h"
#include "core/snapshot.h"
#include "core/sched_switch.h"
#include "core/slots.h"

/* Minimum off-CPU interval to record, in ns (0 = all). */
const volatile __u64 min_block_ns = 0;

struct snap_start {
	__u64 ts_ns;   /* switch-out time */
	__u64 snap_ts; /* ts_ns of the snapshot that holds the stack */
	__u32 tgid;
	__u32 pad;
};

SWITCH_STARTS(struct snap_start)

AGG_MAPS_KEYED(snap_intervals, struct offcpu_snap_key, struct offcpu_value);
/* The last SNAP_HISTORY snapshots emitted per thread: signatures and times. A thread that blocks
 * again at one of these places (event loops, worker pools) reuses the snapshot instead of
 * emitting 16 KiB again. Entries are replaced round-robin (next). */
struct last_snap {
	__u64 sig[SNAP_HISTORY];
	__u64 snap_ts[SNAP_HISTORY];
	__u32 next;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct last_snap);
} last_snaps SEC(".maps");

#define SIG_MUL 0x9E3779B97F4A7C15ULL
/* Words within this distance of sp are taken for pointers into the stack (see snapshot_sig). */
#define STACK_NEAR (8ULL << 20)

/* Signature of a snapshot: user registers, kernel frames, sizes and the return addresses among the
 * top 64 bytes of the user stack (the syscall wrapper's frame and the return address into its
 * caller). Equal signatures with an equal sp mean the thread blocked at the same place through
 * the same frames. */
static __always_inline __u64 snapshot_sig(struct snapshot_buf *b)
{
	__u64 h = b->hdr.tgid;
	/* The ip by 256-byte block: a thread preempted in user code (most switch-outs of a busy
	 * server) stops at any instruction of a loop; with the same sp and the same return addresses
	 * it is in the same function, and a block apart it would be a new snapshot each time. */
	h = (h ^ (b->hdr.ip >> 8)) * SIG_MUL;
	h = (h ^ b->hdr.sp) * SIG_MUL;
	/* bp only as a frame pointer (into the stack): code built without frame pointers keeps data
	 * in it (a connection, a buffer) that differs per call and plays no part in unwinding. */
	if (b->hdr.bp - (b->hdr.sp - STACK_NEAR) < 2 * STACK_NEAR)
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
		/* Only words that may be return addresses: small values (descriptors, lengths, flags)
		 * and pointers into the stack itself (saved frame pointers, local buffers) change from
		 * call to call at the same place and would make every switch-out of a busy server new
		 * (a new snapshot through the ring and a new key in the aggregation for each). */
		__u64 sp = b->hdr.sp;
		for (int i = 0; i < 8; i++) {
			__u64 w = *(__u64 *)(b->area + off + i * 8);
			if (w < 0x10000 || w - (sp - STACK_NEAR) < 2 * STACK_NEAR)
				continue;
			h = (h ^ w) * SIG_MUL;
		}
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
	int hit = -1;
	if (ls) {
		for (int i = 0; i < SNAP_HISTORY; i++) {
			if (ls->snap_ts[i] && ls->sig[i] == sig) {
				hit = i;
				break;
			}
		}
	}
	if (hit >= 0 && hit < SNAP_HISTORY) {
		st.snap_ts = ls->snap_ts[hit];
		count(SW_CNT_SNAPSHOT_REUSED);
	} else if (output_snapshot(b, total) == 0) {
		/* Only this thread's switch-outs touch its entry, one CPU at a time. */
		if (ls) {
			__u32 slot = ls->next % SNAP_HISTORY;
			ls->sig[slot] = sig;
			ls->snap_ts[slot] = now;
			ls->next = slot + 1;
		} else {
			struct last_snap n = { .sig = { sig }, .snap_ts = { now }, .next = 1 };
			bpf_map_update_elem(&last_snaps, &tid, &n, BPF_ANY);
		}
		st.snap_ts = now;
	} else {
		return;
	}
	put_start(tid, &st);
}

static __always_inline void on_switch_in(void *ctx, __u64 now, __u32 tid)
{
	struct snap_start st;
	if (take_start(tid, now, &st) || now - st.ts_ns < min_block_ns)
		return;
	struct offcpu_snap_key key = { .ts_out = st.snap_ts, .tgid = st.tgid, .tid = tid };
	struct offcpu_value init = {};
	struct offcpu_value *v = SLOT_AGG_VALUE(snap_intervals, active_slot(), &key, &init);
	if (!v)
		return;
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->duration_ns, now - st.ts_ns);
	count(SW_CNT_SWITCH_IN);
}

char LICENSE[] SEC("license") = "GPL";
