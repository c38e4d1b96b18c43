// SPDX-License-Identifier: GPL-2.0
/* Small object for the libbpf-ts tests; needs no vmlinux.h. */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u64 magic = 0;
const volatile __u8 flag = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} h SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct event {
	__u32 tgid;
	__s32 stack_id;
	__u64 magic;
};

static __always_inline int hit(void *ctx, __u32 slot)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid != target_tgid)
		return 0;
	__u64 *v = bpf_map_lookup_elem(&arr, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	__u64 *p = bpf_map_lookup_elem(&pc, &slot);
	if (p)
		*p += 1;
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tgid = tgid;
	e->stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	e->magic = magic;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	return hit(ctx, 0);
}

SEC("uprobe")
int on_uprobe(void *ctx)
{
	return hit(ctx, 1);
}

SEC("perf_event")
int on_sample(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
