// SPDX-License-Identifier: GPL-2.0
/* Network observation for NETWORK profiling tasks, on tracepoints only (no kprobes).
 *
 * For the processes in `target_tgids`:
 * - connect/accept/accept4 returning a TCP or UDP socket over IPv4/IPv6 open a connection keyed
 *   by (tgid, fd) in `net_conns` with a generation (its open time), the role (client/server) and
 *   the kernel `struct sock` address; its addresses come from that sock (the fd table leads to it,
 *   so neither sock_alloc nor tcp_connect kprobes are needed). A read or write on an inet socket
 *   opened before the task started opens it with an unknown role.
 * - every read/readv/recvfrom/recvmsg/recvmmsg and write/writev/sendto/sendmsg/sendmmsg/sendfile
 *   on a tracked connection adds bytes, count and syscall duration to its totals and copies up to
 *   NET_CAPTURE bytes it moved (across the first NET_IOV_MAX iovecs; of a *mmsg, the first
 *   message; of a sendfile, none) to the `net_events` ring, in a record only as long as the bytes
 *   copied. Which ops send a record, and which of their bytes, is network_capture.h's choice
 *   (HTTP/1 connections and not-yet-known ones, minus body bytes user space said it can skip; a
 *   sendfile's, of HTTP/1 connections only). While the task has no
 *   sampling rule, HTTP/1 connections are metered in the kernel instead and send no data records;
 *   with rules, only the exchanges whose request carries a trace header send records
 *   (network_http.h).
 * - close emits the final totals and forgets the connection.
 * - tcp:tcp_probe adds the smoothed RTT, tcp:tcp_retransmit_skb counts retransmits and
 *   skb:kfree_skb drops, all found through `net_socks` (sock address -> connection).
 * - uprobes on OpenSSL add the plaintext of TLS connections (network_tls.h); the syscalls of a
 *   TLS connection send records without bytes (ciphertext), only timed.
 * Lost records (ring full) and untracked connections (map full) are counted in `counters`. */
#include "vmlinux.h"
#include "network.h"
#define CORE_COUNTER_ENUM net_counter
#define CORE_COUNTERS NET_CNT_MAX
#define CORE_MAX_TARGETS 4096
#include "core/core.h"
#include <bpf/bpf_endian.h>

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define EINPROGRESS 115

BTF_KEEP(struct net_conn_event, net_conn_event);
BTF_KEEP(struct net_data_event, net_data_event);
BTF_KEEP(enum net_record_kind, net_record_kind);
BTF_KEEP(enum net_role, net_role);
BTF_KEEP(enum net_dir, net_dir);
BTF_KEEP(enum net_proto, net_proto);
BTF_KEEP(enum net_http_state, net_http_state);
BTF_KEEP(enum net_kernel_meters, net_kernel_meters);

enum net_op { NOP_READ = 0, NOP_WRITE, NOP_CONNECT, NOP_ACCEPT, NOP_CLOSE };
#define NET_MMSG 2

/* What a syscall entry leaves for its exit, per thread. */
struct net_pending {
	__u64 ts_ns;
	__u64 buf;    /* user buffer, or iovec array when iov */
	__u64 count;  /* buffer length, or iovec count */
	__u32 fd;
	__u8 op;      /* enum net_op */
	__u8 iov;     /* 0: buf is the buffer, 1: an iovec array, NET_MMSG: an mmsghdr array */
	__u8 capture; /* 0: count only (sendfile) */
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct net_pending);
} net_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct net_conn_key);
	__type(value, struct net_conn_stats);
} net_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct net_conn_key);
} net_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} net_events SEC(".maps");

#include "network_capture.h"
#include "network_http.h"

/* A data record is built here: the slack lets a bounded copy start anywhere in data. */
struct data_scratch {
	struct net_data_event ev;
	char slack[NET_CAPTURE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch);
} net_scratch SEC(".maps");

/* The inet sock behind fd of the current task, or NULL (not a socket, not IPv4/IPv6). */
static __always_inline struct sock *fd_inet_sock(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	if (!fds || fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6 ? sk : NULL;
}

static __always_inline void save(__u32 fd, __u64 buf, __u64 count, __u8 op, __u8 iov, __u8 capture)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!is_target(id >> 32))
		return;
	struct net_pending p = {};
	p.ts_ns = bpf_ktime_get_ns();
	p.buf = buf;
	p.count = count;
	p.fd = fd;
	p.op = op;
	p.iov = iov;
	p.capture = capture;
	__u32 tid = (__u32)id;
	bpf_map_update_elem(&net_pending, &tid, &p, BPF_ANY);
}

static __always_inline void save_msg(__u32 fd, __u64 msg_addr, __u8 op)
{
	if (!is_target(bpf_get_current_pid_tgid() >> 32))
		return;
	struct user_msghdr msg = {};
	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)msg_addr))
		return;
	save(fd, (__u64)msg.msg_iov, msg.msg_iovlen, op, 1, 1);
}

static __always_inline void fill_addresses(struct net_conn_event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = family;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)e->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)e->raddr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline void fill_hdr(struct net_record_hdr *h, __u64 now, __u64 gen, __u32 tgid, __u32 fd, __u8 kind)
{
	h->ts_ns = now;
	h->gen = gen;
	h->tgid = tgid;
	h->fd = fd;
	h->kind = kind;
}

/* Tracks (tgid, fd) as a new connection on sk and says so on the ring; NULL when the map is full. */
static __always_inline struct net_conn_stats *open_conn(struct net_conn_key *key, struct sock *sk, __u8 role,
							 __u64 now, __u64 exe_ns)
{
	struct net_conn_stats s = {};
	s.gen = now;
	s.sk = (__u64)sk;
	s.role = role;
	if (bpf_map_update_elem(&net_conns, key, &s, BPF_ANY)) {
		count(NET_CNT_CONN_FULL);
		return NULL;
	}
	__u64 ska = (__u64)sk;
	bpf_map_update_elem(&net_socks, &ska, key, BPF_ANY);
	struct net_conn_event *e = bpf_ringbuf_reserve(&net_events, sizeof(*e), 0);
	if (!e) {
		count(NET_CNT_RING_FULL);
	} else {
		__builtin_memset(e, 0, sizeof(*e));
		fill_hdr(&e->hdr, now, now, key->tgid, key->fd, NET_REC_OPEN);
		e->exe_ns = exe_ns;
		e->role = role;
		fill_addresses(e, sk);
		bpf_ringbuf_submit(e, 0);
		count(NET_CNT_EVENTS);
	}
	return bpf_map_lookup_elem(&net_conns, key);
}

static __always_inline void close_conn(struct net_conn_key *key, __u64 now, __u64 exe_ns)
{
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, key);
	if (!s)
		return;
	__u64 ska = s->sk;
	struct net_conn_event *e = bpf_ringbuf_reserve(&net_events, sizeof(*e), 0);
	if (!e) {
		count(NET_CNT_RING_FULL);
	} else {
		__builtin_memset(e, 0, sizeof(*e));
		fill_hdr(&e->hdr, now, s->gen, key->tgid, key->fd, NET_REC_CLOSE);
		e->exe_ns = exe_ns;
		e->stats = *s;
		e->role = s->role;
		bpf_ringbuf_submit(e, 0);
		count(NET_CNT_EVENTS);
	}
	http_close(key, s->gen);
	bpf_map_delete_elem(&net_socks, &ska);
	bpf_map_delete_elem(&net_skip, key);
	bpf_map_delete_elem(&net_conns, key);
}

#include "network_tls.h"

/* Copies up to `left` bytes the syscall moved, from `skip` on, into ev->data; returns the bytes
 * copied. Past an iovec boundary a skip is not followed: nothing is copied then. */
static __always_inline __u32 capture(struct data_scratch *sc, const struct net_pending *io, __u64 skip, __u64 left)
{
	if (left > NET_CAPTURE)
		left = NET_CAPTURE;
	if (!io->iov) {
		__u32 n = left;
		if (bpf_probe_read_user(sc->ev.data, n & (2 * NET_CAPTURE - 1), (void *)(io->buf + skip)))
			return 0;
		return n;
	}
	if (skip)
		return 0;
	__u32 off = 0;
	const struct iovec *iovs = (const struct iovec *)io->buf;
	for (int i = 0; i < NET_IOV_MAX; i++) {
		if (i >= io->count || off >= left)
			break;
		struct iovec iov = {};
		if (bpf_probe_read_user(&iov, sizeof(iov), &iovs[i]))
			break;
		__u64 n = iov.iov_len;
		if (n > left - off)
			n = left - off;
		__u32 o = off & (NET_CAPTURE - 1);
		__u32 m = n & (2 * NET_CAPTURE - 1);
		if (m > NET_CAPTURE)
			break;
		if (bpf_probe_read_user(sc->ev.data + o, m, iov.iov_base))
			break;
		off += m;
	}
	return off;
}

/* `ret` is the bytes the op moved; `first` how many of them the capture may look at (less for a
 * *mmsg: its first message). */
static __always_inline int data_exit(struct net_pending *io, __u64 id, __u64 now, __u64 ret, __u64 first)
{
	struct net_conn_key key = {.tgid = id >> 32, .fd = io->fd};
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, &key);
	if (!s) {
		struct sock *sk = fd_inet_sock(io->fd);
		if (!sk)
			return 0;
		s = open_conn(&key, sk, NET_ROLE_UNKNOWN, now, 0);
		if (!s)
			return 0;
	}
	__u64 exe = now - io->ts_ns;
	__u8 dir = io->op == NOP_READ ? NET_DIR_READ : NET_DIR_WRITE;
	/* Ops of one connection and direction from two threads at once may see the same offset: the
	 * parser then only loses sync on that connection, the totals stay exact. */
	__u64 off = dir == NET_DIR_READ ? s->read_bytes : s->write_bytes;
	if (dir == NET_DIR_READ) {
		__sync_fetch_and_add(&s->read_bytes, ret);
		__sync_fetch_and_add(&s->read_count, 1);
		__sync_fetch_and_add(&s->read_exe_ns, exe);
	} else {
		__sync_fetch_and_add(&s->write_bytes, ret);
		__sync_fetch_and_add(&s->write_count, 1);
		__sync_fetch_and_add(&s->write_exe_ns, exe);
	}
	/* Before the protocol check: it binds the SSL object of a call in progress to this connection,
	 * whose ciphertext the capture policy counts as another protocol. Its records stay timed; its
	 * plaintext is classified and skipped on its own (network_tls.h). */
	int tls = io->capture ? net_tls_syscall(&key, s->gen) : 0;
	if (!tls && net_http_meter(io, now, ret, first))
		return 0;
	if (!tls && s->proto == NET_PROTO_OTHER)
		return 0;
	/* sendfile's bytes come from a file: an HTTP/1 connection's op sends a record of their size
	 * only, for the parser to count as body (a response whose body ends with it is complete then,
	 * not at the connection's next record, which may come much later or never) */
	if (!io->capture && (tls || s->proto != NET_PROTO_HTTP1))
		return 0;
	struct net_skip_plan plan = {};
	if (!tls)
		plan = skip_plan(&key, s->gen, dir, off, ret);
	if (plan.silent) {
		count(NET_CNT_SKIPPED);
		return 0;
	}
	__u32 zero = 0;
	struct data_scratch *sc = bpf_map_lookup_elem(&net_scratch, &zero);
	if (!sc)
		return 0;
	fill_hdr(&sc->ev.hdr, now, s->gen, key.tgid, key.fd, NET_REC_DATA);
	sc->ev.start_ns = io->ts_ns;
	sc->ev.offset = off;
	sc->ev.size = ret > 0xffffffffL ? 0xffffffff : (__u32)ret;
	sc->ev.skip = (__u32)plan.skip;
	sc->ev.dir = dir;
	__u32 n = io->capture && !tls && plan.skip < first ? capture(sc, io, plan.skip, first - plan.skip) : 0;
	sc->ev.captured = n;
	if (!tls && !plan.skip)
		classify(s, sc->ev.data, n);
	__u64 size = __builtin_offsetof(struct net_data_event, data) + (n & (2 * NET_CAPTURE - 1));
	if (size > sizeof(sc->ev))
		size = sizeof(sc->ev);
	if (bpf_ringbuf_output(&net_events, &sc->ev, size, 0)) {
		count(NET_CNT_RING_FULL);
		return 0;
	}
	count(NET_CNT_EVENTS);
	return 0;
}

/* A *mmsg's sum, in a map value: the verifier tracks no range for it (a sum on the stack would
 * have a range per bpf_loop iteration, each a state of its own to verify the rest with). */
struct mmsg_sum {
	__u64 vec; /* struct mmsghdr * in user memory */
	__u64 bytes;
	__u64 first;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mmsg_sum);
} net_mmsg_sum SEC(".maps");

struct mmsg_loop {
	struct mmsg_sum *sum;
};

/* bpf_loop callback: adds message i's length (the kernel wrote each msg_len). */
static long mmsg_len(__u32 i, void *data)
{
	struct mmsg_sum *m = ((struct mmsg_loop *)data)->sum;
	unsigned int len = 0;
	if (bpf_probe_read_user(&len, sizeof(len), &((const struct mmsghdr *)m->vec)[i].msg_len))
		return 1;
	if (i == 0)
		m->first = len;
	m->bytes += len;
	return 0;
}

/* The bytes of the `msgs` messages a *mmsg moved (the kernel caps a call at UIO_MAXIOV of them;
 * bpf_loop keeps the verifier's work the same for any count); turns io into the first message's
 * iovecs, whose length goes to *first. */
static __always_inline __u64 mmsg_bytes(struct net_pending *io, long msgs, __u64 *first)
{
	__u32 zero = 0;
	struct mmsg_loop loop = {.sum = bpf_map_lookup_elem(&net_mmsg_sum, &zero)};
	if (!loop.sum)
		return 0;
	loop.sum->vec = io->buf;
	loop.sum->bytes = 0;
	loop.sum->first = 0;
	bpf_loop(msgs > NET_MMSG_MAX ? NET_MMSG_MAX : msgs, mmsg_len, &loop, 0);
	*first = loop.sum->first;
	struct user_msghdr msg = {};
	if (bpf_probe_read_user(&msg, sizeof(msg), &((const struct mmsghdr *)io->buf)[0].msg_hdr))
		io->capture = 0;
	io->buf = (__u64)msg.msg_iov;
	io->count = msg.msg_iovlen;
	io->iov = 1;
	return loop.sum->bytes;
}

static __always_inline void finish(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct net_pending *p = bpf_map_lookup_elem(&net_pending, &tid);
	if (!p)
		return;
	struct net_pending io = *p;
	bpf_map_delete_elem(&net_pending, &tid);
	__u64 now = bpf_ktime_get_ns();
	struct net_conn_key key = {.tgid = id >> 32, .fd = io.fd};
	switch (io.op) {
	case NOP_CONNECT: {
		if (ret != 0 && ret != -EINPROGRESS)
			return;
		count(NET_CNT_CALLS);
		struct sock *sk = fd_inet_sock(io.fd);
		if (sk)
			open_conn(&key, sk, NET_ROLE_CLIENT, now, now - io.ts_ns);
		return;
	}
	case NOP_ACCEPT: {
		if (ret < 0)
			return;
		count(NET_CNT_CALLS);
		key.fd = (__u32)ret;
		struct sock *sk = fd_inet_sock(key.fd);
		if (sk)
			open_conn(&key, sk, NET_ROLE_SERVER, now, now - io.ts_ns);
		return;
	}
	case NOP_CLOSE:
		if (ret == 0)
			close_conn(&key, now, now - io.ts_ns);
		return;
	default:
		count(NET_CNT_CALLS);
		if (ret <= 0)
			return;
		/* one call site: data_exit is inlined, and verified once per path that reaches it */
		__u64 bytes = ret, first = ret;
		if (io.iov == NET_MMSG) {
			first = 0;
			bytes = mmsg_bytes(&io, ret, &first);
			if (!bytes)
				return;
		}
		data_exit(&io, id, now, bytes, first);
	}
}

#define ENTER(name, call)                                                      \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int net_enter_##name(struct trace_event_raw_sys_enter *ctx)            \
	{                                                                      \
		call;                                                          \
		return 0;                                                      \
	}

ENTER(connect, save(ctx->args[0], 0, 0, NOP_CONNECT, 0, 0))
ENTER(accept, save(ctx->args[0], 0, 0, NOP_ACCEPT, 0, 0))
ENTER(accept4, save(ctx->args[0], 0, 0, NOP_ACCEPT, 0, 0))
ENTER(close, save(ctx->args[0], 0, 0, NOP_CLOSE, 0, 0))
ENTER(read, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_READ, 0, 1))
ENTER(recvfrom, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_READ, 0, 1))
ENTER(readv, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_READ, 1, 1))
ENTER(recvmsg, save_msg(ctx->args[0], ctx->args[1], NOP_READ))
ENTER(write, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_WRITE, 0, 1))
ENTER(sendto, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_WRITE, 0, 1))
ENTER(writev, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_WRITE, 1, 1))
ENTER(sendmsg, save_msg(ctx->args[0], ctx->args[1], NOP_WRITE))
ENTER(sendfile64, save(ctx->args[0], 0, 0, NOP_WRITE, 0, 0))
ENTER(recvmmsg, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_READ, NET_MMSG, 1))
ENTER(sendmmsg, save(ctx->args[0], ctx->args[1], ctx->args[2], NOP_WRITE, NET_MMSG, 1))

#define EXIT(name)                                                             \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int net_exit_##name(struct trace_event_raw_sys_exit *ctx)              \
	{                                                                      \
		finish(ctx->ret);                                              \
		return 0;                                                      \
	}

EXIT(connect)
EXIT(accept)
EXIT(accept4)
EXIT(close)
EXIT(read)
EXIT(recvfrom)
EXIT(readv)
EXIT(recvmsg)
EXIT(write)
EXIT(sendto)
EXIT(writev)
EXIT(sendmsg)
EXIT(sendfile64)
EXIT(recvmmsg)
EXIT(sendmmsg)

SEC("tracepoint/tcp/tcp_probe")
int net_tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	__u64 ska = (__u64)ctx->skaddr;
	struct net_conn_key *key = bpf_map_lookup_elem(&net_socks, &ska);
	if (!key)
		return 0;
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, key);
	if (!s || s->sk != ska)
		return 0;
	__sync_fetch_and_add(&s->rtt_sum_us, ctx->srtt);
	__sync_fetch_and_add(&s->rtt_count, 1);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int net_tcp_retransmit(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	__u64 ska = (__u64)ctx->skaddr;
	struct net_conn_key *key = bpf_map_lookup_elem(&net_socks, &ska);
	if (!key)
		return 0;
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, key);
	if (s && s->sk == ska)
		__sync_fetch_and_add(&s->retransmits, 1);
	return 0;
}

/* A dropped skb: received ones name their sock in rx_sk (6.10+), sent ones own it in skb->sk. */
SEC("tracepoint/skb/kfree_skb")
int net_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	__u64 ska = 0;
	if (bpf_core_field_exists(ctx->rx_sk))
		ska = (__u64)BPF_CORE_READ(ctx, rx_sk);
	if (!ska)
		ska = (__u64)BPF_CORE_READ((struct sk_buff *)ctx->skbaddr, sk);
	if (!ska)
		return 0;
	struct net_conn_key *key = bpf_map_lookup_elem(&net_socks, &ska);
	if (!key)
		return 0;
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, key);
	if (s && s->sk == ska) {
		__sync_fetch_and_add(&s->drops, 1);
		count(NET_CNT_DROPS);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
