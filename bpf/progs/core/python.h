/* Python frames at sample time (CPython 3.11+): the current thread's PyThreadState (found by its
 * native thread id in the interpreters' thread lists, then cached per thread), its frame chain
 * (current frame -> previous) and, per frame, the code object and instruction. Code objects are
 * named once per process in py_codes (qualified name, file, first line and location table read
 * here, so that a sample outlives its code object). Offsets come per process from user space's
 * per-version table (py_procs); a code object whose type is not PyCode_Type stops the walk and
 * counts SW_CNT_PY_INVALID: a wrong table shows as that counter, never as wrong names.
 * A program calls py_collect() and then copies py_frames()->frames. */
#ifndef SWLITE_PYTHON_H
#define SWLITE_PYTHON_H

#include "sw_counters.h"
#include "pyframes.h"

#define PY_NO_OFFSET 0xffff
/* Threads looked at per interpreter list walk (all interpreters together). */
#define PY_MAX_THREAD_STEPS 256
/* A thread without a PyThreadState is looked up again after this long. */
#define PY_THREAD_RETRY_NS 500000000ULL

/* Python processes: tgid -> where their runtime is and how to read it. Filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct py_proc);
} py_procs SEC(".maps");

struct py_thread {
	__u64 tstate; /* 0: none found at ts_ns */
	__u64 ts_ns;
};

/* Thread id -> its PyThreadState, checked against native_thread_id at every use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct py_thread);
} py_threads SEC(".maps");

/* Code objects named so far (user space reads them when it decodes a sample). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct py_code_key);
	__type(value, struct py_code);
} py_codes SEC(".maps");

/* Bytes read at once from a frame and from a code object (every offset used lies below them). */
#define PY_FRAME_READ 80
#define PY_CODE_READ 152
#define PY_CHUNK 264 /* offsets are masked to 0xff below: room for a u64 at 0xff */

/* Per-CPU state of one walk (programs run with preemption off on their CPU). */
struct py_scratch {
	struct py_frame frames[PY_MAX_FRAMES];
	struct py_code code; /* built here before it goes into py_codes */
	struct py_offsets off;
	__u64 code_type;
	__u64 frame;     /* next frame to read */
	__u64 hash;      /* of the frames collected (off-CPU snapshot signatures) */
	__u32 tgid;
	__u32 n;         /* frames collected */
	__u8 chunk[PY_CHUNK];
	__u8 code_chunk[PY_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_scratch);
} py_scratch SEC(".maps");

static __always_inline struct py_scratch *py_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&py_scratch, &zero);
}

/* Fields of a chunk read from the process (offsets masked into the chunk for the verifier). */
static __always_inline __u64 py_u64(const __u8 *chunk, __u16 off)
{
	return *(const __u64 *)(chunk + (off & 0xff));
}
static __always_inline __u32 py_u32(const __u8 *chunk, __u16 off)
{
	return *(const __u32 *)(chunk + (off & 0xff));
}
static __always_inline __u8 py_u8(const __u8 *chunk, __u16 off)
{
	return chunk[off & 0xff];
}

static __always_inline __u64 py_read_ptr(__u64 addr)
{
	__u64 v = 0;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* The current thread's PyThreadState, 0 when it has none. */
static __always_inline __u64 py_find_tstate(const struct py_proc *p, __u32 tid)
{
	__u64 now = bpf_ktime_get_ns();
	struct py_thread *t = bpf_map_lookup_elem(&py_threads, &tid);
	if (t) {
		if (t->tstate) {
			__u32 id = 0;
			if (!bpf_probe_read_user(&id, sizeof(id), (void *)(t->tstate + p->off.tstate_native_thread_id)) &&
			    id == tid)
				return t->tstate;
		} else if (now - t->ts_ns < PY_THREAD_RETRY_NS) {
			return 0;
		}
	}
	struct py_thread found = { .tstate = 0, .ts_ns = now };
	__u64 interp = py_read_ptr(p->runtime + p->off.runtime_interpreters_head);
	__u64 ts = interp ? py_read_ptr(interp + p->off.interp_threads_head) : 0;
	for (int i = 0; i < PY_MAX_THREAD_STEPS && interp; i++) {
		if (!ts) {
			interp = py_read_ptr(interp + p->off.interp_next);
			ts = interp ? py_read_ptr(interp + p->off.interp_threads_head) : 0;
			continue;
		}
		__u32 id = 0;
		bpf_probe_read_user(&id, sizeof(id), (void *)(ts + p->off.tstate_native_thread_id));
		if (id == tid) {
			found.tstate = ts;
			break;
		}
		ts = py_read_ptr(ts + p->off.tstate_next);
	}
	bpf_map_update_elem(&py_threads, &tid, &found, BPF_ANY);
	return found.tstate;
}

/* Copies the bytes of a compact str (PyUnicode) into dst: its head (tail = 0) or its tail. */
static __always_inline void py_read_str(struct py_scratch *s, __u64 str, __u8 *dst, __u32 cap, int tail, __u32 *len,
					__u8 *kind)
{
	*len = 0;
	*kind = 0;
	if (!str || bpf_probe_read_user(s->chunk, 64, (void *)str))
		return;
	__u32 state = py_u32(s->chunk, s->off.unicode_state);
	__u64 chars = py_u64(s->chunk, s->off.unicode_length);
	__u32 k = (state >> 2) & 7;
	if (!((state >> 5) & 1) || (k != 1 && k != 2 && k != 4) || chars > 0x10000000)
		return; /* not a compact string: code object names always are */
	__u64 data = str + (((state >> 6) & 1) ? s->off.unicode_ascii_data : s->off.unicode_compact_data);
	__u32 bytes = (__u32)chars * k;
	__u32 n = bytes < cap ? bytes : cap;
	__u64 from = tail ? data + bytes - n : data;
	/* n <= cap <= PY_FILE_BYTES; the mask shows the verifier a bound on the register it checks. */
	asm volatile("" : "+r"(n));
	n &= 2 * PY_FILE_BYTES - 1;
	if (n && bpf_probe_read_user(dst, n, (void *)from))
		return;
	*len = bytes;
	*kind = k;
}

/* Names a code object (py_codes) the first time one of its frames is sampled. code_chunk holds
 * its first PY_CODE_READ bytes. */
static __always_inline void py_name_code(struct py_scratch *s, const struct py_code_key *key)
{
	if (bpf_map_lookup_elem(&py_codes, key))
		return;
	struct py_code *c = &s->code;
	c->first_line = (__s32)py_u32(s->code_chunk, s->off.code_firstlineno);
	__u32 len;
	__u8 kind;
	py_read_str(s, py_u64(s->code_chunk, s->off.code_qualname), c->name, PY_NAME_BYTES, 0, &len, &kind);
	c->name_len = len;
	c->name_kind = kind;
	py_read_str(s, py_u64(s->code_chunk, s->off.code_filename), c->file, PY_FILE_BYTES, 1, &len, &kind);
	c->file_len = len;
	c->file_kind = kind;
	c->linetable_len = 0;
	__u64 lt = py_u64(s->code_chunk, s->off.code_linetable);
	if (lt && !bpf_probe_read_user(s->chunk, 64, (void *)lt)) {
		__u64 size = py_u64(s->chunk, s->off.bytes_size);
		__u32 n = size < PY_LINETABLE_BYTES ? (__u32)size : PY_LINETABLE_BYTES;
		asm volatile("" : "+r"(n));
		n &= 2 * PY_LINETABLE_BYTES - 1;
		if (size < 0x10000000 &&
		    (n == 0 || !bpf_probe_read_user(c->linetable, n, (void *)(lt + s->off.bytes_data))))
			c->linetable_len = (__u32)size;
	}
	bpf_map_update_elem(&py_codes, key, c, BPF_NOEXIST);
}

/* One frame of the walk (bpf_loop callback): reads s->frame, appends it, moves to the previous. */
static long py_step(__u32 i, void *unused)
{
	struct py_scratch *s = py_state();
	if (!s || !s->frame)
		return 1;
	__u64 f = s->frame;
	if (bpf_probe_read_user(s->chunk, PY_FRAME_READ, (void *)f)) {
		count(SW_CNT_PY_INVALID);
		return 1;
	}
	s->frame = py_u64(s->chunk, s->off.frame_previous);
	__u8 owner = py_u8(s->chunk, s->off.frame_owner);
	__u32 n = s->n;
	if (s->off.entry_kind == PY_ENTRY_SHIM && owner == s->off.cstack_owner) {
		/* The shim before an eval call's first frame: that frame is the last one collected. */
		if (n > 0 && n <= PY_MAX_FRAMES)
			s->frames[(n - 1) & (PY_MAX_FRAMES - 1)].instr |= PY_FRAME_ENTRY;
		return 0;
	}
	if (n >= PY_MAX_FRAMES)
		return 1;
	__u64 code = py_u64(s->chunk, s->off.frame_code);
	__u64 instr = py_u64(s->chunk, s->off.frame_instr);
	__u8 entry = s->off.entry_kind == PY_ENTRY_FLAG && py_u8(s->chunk, s->off.frame_entry);
	if (!code || bpf_probe_read_user(s->code_chunk, PY_CODE_READ, (void *)code) ||
	    py_u64(s->code_chunk, s->off.object_type) != s->code_type) {
		count(SW_CNT_PY_INVALID);
		return 1;
	}
	__u64 qualname = py_u64(s->code_chunk, s->off.code_qualname);
	__u64 filename = py_u64(s->code_chunk, s->off.code_filename);
	__u32 first = py_u32(s->code_chunk, s->off.code_firstlineno);
	struct py_code_key key = {
		.tgid = s->tgid,
		.tag = (__u32)(qualname ^ (qualname >> 32) ^ ((filename >> 3) * 0x9E3779B1u) ^ first),
		.code = code,
	};
	py_name_code(s, &key);
	__u64 start = code + s->off.code_bytecode;
	__u32 at = instr > start ? (__u32)(instr - start) & ~PY_FRAME_ENTRY : 0;
	struct py_frame *out = &s->frames[n & (PY_MAX_FRAMES - 1)];
	out->code = code;
	out->tag = key.tag;
	out->instr = at | (entry ? PY_FRAME_ENTRY : 0);
	s->hash = (s->hash ^ code ^ ((__u64)at << 32)) * 0x9E3779B97F4A7C15ULL;
	s->n = n + 1;
	return 0;
}

/* Hash of the frames of the last py_collect() on this CPU (0 when none). */
static __always_inline __u64 py_last_hash(void)
{
	struct py_scratch *s = py_state();
	return s ? s->hash : 0;
}

/* Collects the current thread's Python frames (innermost first) into py_state()->frames and
 * returns how many; 0 when the process is not a registered Python process or the thread runs
 * no Python. */
static __always_inline __u32 py_collect(__u32 tgid, __u32 tid)
{
	struct py_scratch *s = py_state();
	if (!s)
		return 0;
	s->n = 0;
	s->hash = 0;
	struct py_proc *p = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!p)
		return 0;
	__u64 ts = py_find_tstate(p, tid);
	if (!ts)
		return 0;
	__u64 frame = py_read_ptr(ts + p->off.tstate_frame);
	if (frame && p->off.cframe_current_frame != PY_NO_OFFSET)
		frame = py_read_ptr(frame + p->off.cframe_current_frame);
	if (!frame)
		return 0;
	s->off = p->off;
	s->code_type = p->code_type;
	s->tgid = tgid;
	s->frame = frame;
	/* Shims count as steps: twice the frames is room for one per eval call. */
	bpf_loop(PY_MAX_FRAMES * 2, py_step, 0, 0);
	return s->n;
}

#endif
