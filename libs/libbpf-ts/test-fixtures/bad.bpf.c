// SPDX-License-Identifier: GPL-2.0
/* Rejected by the verifier on purpose: dereferences a hash map value without a NULL check
 * (a HASH map: recent kernels know a constant in-bounds ARRAY lookup cannot fail). */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} a SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int bad(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&a, &k);
	*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
