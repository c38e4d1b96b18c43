// SPDX-License-Identifier: GPL-2.0
/* Needs kernel BTF (one CO-RE relocation) without vmlinux.h: for the missing-BTF error test. */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

int seen_pid;

SEC("tracepoint/syscalls/sys_enter_getppid")
int core_prog(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	seen_pid = BPF_CORE_READ(t, pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
