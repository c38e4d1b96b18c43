// SPDX-License-Identifier: GPL-2.0
/* HTTP/1.x observation for continuous profiling, on syscall tracepoints only (no kprobes).
 *
 * For the processes in `target_tgids`, every read/recvfrom/readv/recvmsg and
 * write/sendto/writev/sendmsg on a socket whose first bytes look like an HTTP/1.x request line
 * ("GET ", "POST", ...) or status line ("HTTP/1.") is copied (first HTTP_CAPTURE bytes) into the
 * `http_events` ring buffer with the process, the fd and a timestamp. Everything else (bodies,
 * files, pipes, other processes) is dropped in the kernel. User space pairs a request with the
 * next response on the same (process, fd) and parses the URI and the status code.
 *
 * Reads are stamped at syscall exit (the request has arrived), writes at syscall entry (the
 * response is being sent), so a server-side exchange spans the time the process took to answer. */
#include "vmlinux.h"
#include "http.h"
#define CORE_COUNTER_ENUM http_counter
#define CORE_COUNTERS HTTP_CNT_MAX
#define CORE_MAX_TARGETS 4096
#include "core/core.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000

BTF_KEEP(struct http_event, http_event);
BTF_KEEP(struct http_status_event, http_status_event);
BTF_KEEP(enum http_dir, http_dir);

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
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_io);
} http_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} http_events SEC(".maps");

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

static __always_inline void fill_hdr(struct http_record_hdr *h, __u64 ts, __u64 id, const struct pending_io *io,
					     __u32 size, __u32 captured)
{
	h->ts_ns = ts;
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->fd = io->fd;
	h->size = size;
	h->dir = io->dir;
	h->captured = (__u8)captured;
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
	count(HTTP_CNT_CALLS);
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
	__u64 ts = io.dir == HTTP_DIR_READ ? bpf_ktime_get_ns() : io.ts_ns;
	__u32 size = (__u32)(ret > 0xffffffffL ? 0xffffffffL : ret);
	if (head[0] == 'H' && head[1] == 'T') {
		struct http_status_event *r = bpf_ringbuf_reserve(&http_events, sizeof(*r), 0);
		if (!r) {
			count(HTTP_CNT_RING_FULL);
			return;
		}
		__u32 m = avail > HTTP_STATUS_CAPTURE ? HTTP_STATUS_CAPTURE : (__u32)avail;
		fill_hdr(&r->hdr, ts, id, &io, size, m);
		if (bpf_probe_read_user(r->data, m, (void *)io.buf) || m < 12) {
			bpf_ringbuf_discard(r, 0);
			return;
		}
		bpf_ringbuf_submit(r, 0);
		count(HTTP_CNT_EVENTS);
		return;
	}
	struct http_event *e = bpf_ringbuf_reserve(&http_events, sizeof(*e), 0);
	if (!e) {
		count(HTTP_CNT_RING_FULL);
		return;
	}
	__u32 n = avail > HTTP_CAPTURE ? HTTP_CAPTURE : (__u32)avail;
	fill_hdr(&e->hdr, ts, id, &io, size, n);
	if (bpf_probe_read_user(e->data, n & 0xff, (void *)io.buf)) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	bpf_ringbuf_submit(e, 0);
	count(HTTP_CNT_EVENTS);
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
