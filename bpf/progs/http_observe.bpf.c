// SPDX-License-Identifier: GPL-2.0
/* HTTP/1.x observation for continuous profiling, on syscall tracepoints only (no kprobes).
 *
 * For the processes in `http_targets`, every read/recvfrom/readv/recvmsg and
 * write/sendto/writev/sendmsg on a socket whose first bytes look like an HTTP/1.x request line
 * ("GET ", "POST", ...) or status line ("HTTP/1.") is copied (first HTTP_CAPTURE bytes) into the
 * `http_events` ring buffer with the process, the fd and a timestamp. Everything else (bodies,
 * files, pipes, other processes) is dropped in the kernel. User space pairs a request with the
 * next response on the same (process, fd) and parses the URI and the status code.
 *
 * Reads are stamped at syscall exit (the request has arrived), writes at syscall entry (the
 * response is being sent), so a server-side exchange spans the time the process took to answer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define HTTP_CAPTURE 255
#define S_IFMT 00170000
#define S_IFSOCK 0140000

enum http_dir { HTTP_DIR_READ = 0, HTTP_DIR_WRITE = 1 };

enum http_counter {
	HTTP_CNT_EVENTS = 0,   /* records written to the ring buffer */
	HTTP_CNT_RING_FULL,    /* records dropped: ring buffer full */
	HTTP_CNT_CALLS,        /* data syscalls of target processes seen */
	HTTP_CNT_MAX,
};

struct http_event {
	__u64 ts_ns;   /* CLOCK_MONOTONIC */
	__u32 tgid;
	__u32 tid;
	__u32 fd;
	__u32 size;    /* bytes the syscall moved (reads: its return value; writes: first buffer length) */
	__u8 dir;      /* enum http_dir */
	__u8 captured; /* bytes valid in data */
	__u8 pad[6];
	char data[HTTP_CAPTURE + 1];
};

/* A status line needs far fewer bytes: responses use this shorter record (same header). */
#define HTTP_STATUS_CAPTURE 16
struct http_status_event {
	__u64 ts_ns;
	__u32 tgid;
	__u32 tid;
	__u32 fd;
	__u32 size;
	__u8 dir;
	__u8 captured;
	__u8 pad[6];
	char data[HTTP_STATUS_CAPTURE];
};

/* What a syscall entry leaves for its exit, per thread. */
struct pending_io {
	__u64 ts_ns;
	__u64 buf;     /* user address of the first buffer */
	__u64 len;     /* its length */
	__u32 fd;
	__u8 dir;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} http_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_io);
} http_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} http_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTP_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} http_counters SEC(".maps");

static __always_inline void http_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&http_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline int is_target(__u32 tgid)
{
	return bpf_map_lookup_elem(&http_targets, &tgid) != NULL;
}

/* True when fd of the current task is a socket (f_inode->i_mode is S_IFSOCK). */
static __always_inline int fd_is_socket(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	if (!fds || fd >= max)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

/* HTTP/1.x request line methods or a status line. */
static __always_inline int looks_http(const char *d)
{
	switch (d[0]) {
	case 'G':
		return d[1] == 'E' && d[2] == 'T' && d[3] == ' ';
	case 'P':
		return (d[1] == 'O' && d[2] == 'S' && d[3] == 'T' && d[4] == ' ') ||
		       (d[1] == 'U' && d[2] == 'T' && d[3] == ' ') ||
		       (d[1] == 'A' && d[2] == 'T' && d[3] == 'C' && d[4] == 'H' && d[5] == ' ');
	case 'D':
		return d[1] == 'E' && d[2] == 'L' && d[3] == 'E' && d[4] == 'T' && d[5] == 'E' && d[6] == ' ';
	case 'O':
		return d[1] == 'P' && d[2] == 'T' && d[3] == 'I' && d[4] == 'O' && d[5] == 'N' && d[6] == 'S';
	case 'C':
		return d[1] == 'O' && d[2] == 'N' && d[3] == 'N' && d[4] == 'E' && d[5] == 'C' && d[6] == 'T';
	case 'T':
		return d[1] == 'R' && d[2] == 'A' && d[3] == 'C' && d[4] == 'E' && d[5] == ' ';
	case 'H':
		return (d[1] == 'E' && d[2] == 'A' && d[3] == 'D' && d[4] == ' ') ||
		       (d[1] == 'T' && d[2] == 'T' && d[3] == 'P' && d[4] == '/' && d[5] == '1' && d[6] == '.');
	}
	return 0;
}

static __always_inline void save(__u32 fd, __u64 buf, __u64 len, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!is_target(id >> 32))
		return;
	struct pending_io p = {};
	p.ts_ns = bpf_ktime_get_ns();
	p.buf = buf;
	p.len = len;
	p.fd = fd;
	p.dir = dir;
	__u32 tid = (__u32)id;
	bpf_map_update_elem(&http_pending, &tid, &p, BPF_ANY);
}

/* First iovec of an iovec array in user memory. */
static __always_inline void save_iov(__u32 fd, __u64 iov_addr, __u64 iovcnt, __u8 dir)
{
	struct iovec iov = {};
	if (!iovcnt || bpf_probe_read_user(&iov, sizeof(iov), (void *)iov_addr))
		return;
	save(fd, (__u64)iov.iov_base, iov.iov_len, dir);
}

static __always_inline void save_msg(__u32 fd, __u64 msg_addr, __u8 dir)
{
	struct user_msghdr msg = {};
	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)msg_addr))
		return;
	save_iov(fd, (__u64)msg.msg_iov, msg.msg_iovlen, dir);
}

static __always_inline void finish(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending_io *p = bpf_map_lookup_elem(&http_pending, &tid);
	if (!p)
		return;
	struct pending_io io = *p;
	bpf_map_delete_elem(&http_pending, &tid);
	http_count(HTTP_CNT_CALLS);
	if (ret <= 0)
		return;
	/* Reads: the bytes that arrived; writes: the first buffer, as far as it was sent. */
	__u64 avail = io.dir == HTTP_DIR_READ ? (__u64)ret : io.len;
	if (io.dir == HTTP_DIR_READ && io.len < avail)
		avail = io.len;
	if (avail < 8)
		return;
	char head[8] = {};
	if (bpf_probe_read_user(head, sizeof(head), (void *)io.buf))
		return;
	if (!looks_http(head))
		return;
	if (!fd_is_socket(io.fd))
		return;
	if (head[0] == 'H' && head[1] == 'T') {
		struct http_status_event *r = bpf_ringbuf_reserve(&http_events, sizeof(*r), 0);
		if (!r) {
			http_count(HTTP_CNT_RING_FULL);
			return;
		}
		__u32 m = avail > HTTP_STATUS_CAPTURE ? HTTP_STATUS_CAPTURE : (__u32)avail;
		r->ts_ns = io.dir == HTTP_DIR_READ ? bpf_ktime_get_ns() : io.ts_ns;
		r->tgid = id >> 32;
		r->tid = tid;
		r->fd = io.fd;
		r->size = (__u32)(ret > 0xffffffffL ? 0xffffffffL : ret);
		r->dir = io.dir;
		r->captured = (__u8)m;
		if (bpf_probe_read_user(r->data, m, (void *)io.buf) || m < 12) {
			bpf_ringbuf_discard(r, 0);
			return;
		}
		bpf_ringbuf_submit(r, 0);
		http_count(HTTP_CNT_EVENTS);
		return;
	}
	struct http_event *e = bpf_ringbuf_reserve(&http_events, sizeof(*e), 0);
	if (!e) {
		http_count(HTTP_CNT_RING_FULL);
		return;
	}
	__u32 n = avail > HTTP_CAPTURE ? HTTP_CAPTURE : (__u32)avail;
	e->ts_ns = io.dir == HTTP_DIR_READ ? bpf_ktime_get_ns() : io.ts_ns;
	e->tgid = id >> 32;
	e->tid = tid;
	e->fd = io.fd;
	e->size = (__u32)(ret > 0xffffffffL ? 0xffffffffL : ret);
	e->dir = io.dir;
	e->captured = (__u8)n;
	if (bpf_probe_read_user(e->data, n & 0xff, (void *)io.buf)) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	bpf_ringbuf_submit(e, 0);
	http_count(HTTP_CNT_EVENTS);
}

SEC("tracepoint/syscalls/sys_enter_read")
int http_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	save(ctx->args[0], ctx->args[1], ctx->args[2], HTTP_DIR_READ);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int http_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	save(ctx->args[0], ctx->args[1], ctx->args[2], HTTP_DIR_READ);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_readv")
int http_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	if (is_target(bpf_get_current_pid_tgid() >> 32))
		save_iov(ctx->args[0], ctx->args[1], ctx->args[2], HTTP_DIR_READ);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int http_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (is_target(bpf_get_current_pid_tgid() >> 32))
		save_msg(ctx->args[0], ctx->args[1], HTTP_DIR_READ);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int http_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	save(ctx->args[0], ctx->args[1], ctx->args[2], HTTP_DIR_WRITE);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int http_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	save(ctx->args[0], ctx->args[1], ctx->args[2], HTTP_DIR_WRITE);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int http_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	if (is_target(bpf_get_current_pid_tgid() >> 32))
		save_iov(ctx->args[0], ctx->args[1], ctx->args[2], HTTP_DIR_WRITE);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int http_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (is_target(bpf_get_current_pid_tgid() >> 32))
		save_msg(ctx->args[0], ctx->args[1], HTTP_DIR_WRITE);
	return 0;
}

#define EXIT_PROG(name)                                                        \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int http_exit_##name(struct trace_event_raw_sys_exit *ctx)             \
	{                                                                      \
		finish(ctx->ret);                                              \
		return 0;                                                      \
	}

EXIT_PROG(read)
EXIT_PROG(recvfrom)
EXIT_PROG(readv)
EXIT_PROG(recvmsg)
EXIT_PROG(write)
EXIT_PROG(sendto)
EXIT_PROG(writev)
EXIT_PROG(sendmsg)

char LICENSE[] SEC("license") = "GPL";
