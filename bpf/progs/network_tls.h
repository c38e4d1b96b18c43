/* TLS plaintext for network.bpf.c: uprobes on OpenSSL's SSL_read/SSL_write (and their _ex forms)
 * copy what the application reads or writes in clear to the `net_events` ring as
 * NET_REC_TLS_DATA records on the connection the SSL object drives; SSL_do_handshake is probed
 * only to bind its SSL object early. Uprobes are per file (a libssl.so or a binary with OpenSSL
 * linked in), so every program checks the target table first.
 *
 * SSL object -> connection: reading the fd from the SSL's BIO needs struct offsets per OpenSSL
 * build, so instead a read/write syscall made by the thread while inside an SSL call binds that
 * SSL object to the syscall's (tgid, fd) and connection generation (libssl's socket BIO:
 * nginx, curl). Node's TLS runs on memory BIOs, its socket syscalls happen outside the SSL calls:
 * an SSL object without a binding takes the connection of the thread's latest socket read/write
 * (libuv reads the ciphertext, then decrypts it with SSL_read in the same callback). A binding
 * whose connection generation changed (fd closed and reused) is stale and is made again.
 *
 * A connection with TLS traffic is remembered in `tls_conns`: its syscall data records carry no
 * bytes (ciphertext parses as nothing), but still time the syscall. Its plaintext is a stream of
 * its own there: per direction the bytes SSL calls moved (the records' offsets, so user space
 * sees calls not sent as a gap) and a protocol learnt as network_capture.h does for syscalls,
 * so a TLS connection that carries no HTTP/1 stops sending plaintext after NET_PROBE_MAX calls.
 * net_skip is not applied to plaintext (its offsets count syscall bytes).
 * Included by network.bpf.c after its maps and record helpers. */
#ifndef SWLITE_NETWORK_TLS_H
#define SWLITE_NETWORK_TLS_H

enum tls_op { TLS_OP_READ = 0, TLS_OP_WRITE, TLS_OP_HANDSHAKE };

/* Nested SSL calls followed per thread: Node's callbacks run inside SSL_read (the handshake's
 * end reaches JavaScript, which may SSL_write at once). Deeper calls are not followed. */
#define TLS_MAX_DEPTH 4

/* An SSL call in progress. */
struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 ex_len;   /* the _ex variants' size_t *readbytes / *written; 0 for SSL_read/SSL_write */
	__u64 start_ns;
	__u8 op;        /* enum tls_op */
	__u8 pad[7];
};

/* The SSL calls a thread is inside, innermost last. */
struct tls_stack {
	struct tls_call calls[TLS_MAX_DEPTH];
	__u32 depth;    /* may exceed TLS_MAX_DEPTH: those calls are only counted */
	__u32 pad;
};

struct tls_ssl_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

/* A connection as of one moment: a fd and the generation it had then. */
struct tls_conn_ref {
	__u32 fd;
	__u32 pad;
	__u64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct tls_stack);
} tls_calls SEC(".maps");

/* SSL_free is not probed: least recently used bindings make room. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_ssl_key);
	__type(value, struct tls_conn_ref);
} tls_binds SEC(".maps");

/* A connection known to carry TLS: its generation and its plaintext stream. */
struct tls_conn {
	__u64 gen;
	__u64 read_bytes;  /* plaintext SSL_read so far */
	__u64 write_bytes; /* plaintext SSL_write so far */
	__u8 proto;        /* enum net_proto of the plaintext */
	__u8 probes;       /* plaintext calls looked at while proto is unknown */
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct net_conn_key);
	__type(value, struct tls_conn);
} tls_conns SEC(".maps");

/* Marks a connection as TLS; a fresh plaintext state unless it already is (same generation). */
static __always_inline struct tls_conn *tls_mark(const struct net_conn_key *key, __u64 gen)
{
	struct tls_conn *t = bpf_map_lookup_elem(&tls_conns, key);
	if (t && t->gen == gen)
		return t;
	struct tls_conn fresh = {.gen = gen};
	bpf_map_update_elem(&tls_conns, key, &fresh, BPF_ANY);
	return bpf_map_lookup_elem(&tls_conns, key);
}

/* The latest socket read/write of each thread (for SSL objects on memory BIOs). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct tls_conn_ref);
} tls_last SEC(".maps");

/* Called by data_exit for every read/write on a tracked connection: binds the SSL object of an
 * SSL call in progress on this thread to it, and says whether the connection carries TLS. */
static __always_inline int net_tls_syscall(const struct net_conn_key *key, __u64 gen)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tls_conn_ref ref = {.fd = key->fd, .gen = gen};
	struct tls_stack *st = bpf_map_lookup_elem(&tls_calls, &tid);
	if (st && st->depth > 0) {
		__u32 top = st->depth > TLS_MAX_DEPTH ? TLS_MAX_DEPTH - 1 : st->depth - 1;
		struct tls_ssl_key sk = {.tgid = key->tgid, .ssl = st->calls[top & (TLS_MAX_DEPTH - 1)].ssl};
		bpf_map_update_elem(&tls_binds, &sk, &ref, BPF_ANY);
		tls_mark(key, gen);
		return 1;
	}
	bpf_map_update_elem(&tls_last, &tid, &ref, BPF_ANY);
	struct tls_conn *t = bpf_map_lookup_elem(&tls_conns, key);
	return t && t->gen == gen;
}

static __always_inline int tls_enter(struct pt_regs *ctx, __u8 op, int ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!is_target(id >> 32))
		return 0;
	__u32 tid = (__u32)id;
	struct tls_stack *st = bpf_map_lookup_elem(&tls_calls, &tid);
	if (!st) {
		struct tls_stack empty = {};
		bpf_map_update_elem(&tls_calls, &tid, &empty, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&tls_calls, &tid);
		if (!st)
			return 0;
	}
	__u32 d = st->depth++;
	if (d >= TLS_MAX_DEPTH)
		return 0;
	struct tls_call *c = &st->calls[d & (TLS_MAX_DEPTH - 1)];
	c->ssl = PT_REGS_PARM1(ctx);
	c->buf = PT_REGS_PARM2(ctx);
	c->ex_len = ex ? PT_REGS_PARM4(ctx) : 0;
	c->start_ns = bpf_ktime_get_ns();
	c->op = op;
	return 0;
}

/* The connection an SSL object drives: its binding while the generation holds, else the
 * thread's latest socket read/write, which then becomes its binding. */
static __always_inline struct net_conn_stats *tls_conn_of(struct net_conn_key *key, __u64 ssl, __u32 tid)
{
	struct tls_ssl_key sk = {.tgid = key->tgid, .ssl = ssl};
	struct tls_conn_ref *b = bpf_map_lookup_elem(&tls_binds, &sk);
	if (b) {
		key->fd = b->fd;
		struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, key);
		if (s && s->gen == b->gen)
			return s;
	}
	struct tls_conn_ref *last = bpf_map_lookup_elem(&tls_last, &tid);
	if (!last)
		return NULL;
	struct tls_conn_ref ref = *last;
	key->fd = ref.fd;
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, key);
	if (!s || s->gen != ref.gen)
		return NULL;
	bpf_map_update_elem(&tls_binds, &sk, &ref, BPF_ANY);
	return s;
}

/* What a TLS data record says, gathered before the ring space is reserved. */
_Static_assert(NET_CAPTURE == 1024, "tls_emit_1024 is the NET_CAPTURE class");
struct tls_record {
	__u64 gen;
	__u64 start_ns;
	__u64 buf;
	__u64 offset;
	__u32 tgid;
	__u32 fd;
	__u32 size;
	__u8 dir;
};

static __always_inline void tls_fill(struct net_data_event *e, const struct tls_record *r)
{
	__builtin_memset(e, 0, __builtin_offsetof(struct net_data_event, data));
	fill_hdr(&e->hdr, bpf_ktime_get_ns(), r->gen, r->tgid, r->fd, NET_REC_TLS_DATA);
	e->start_ns = r->start_ns;
	e->offset = r->offset;
	e->size = r->size;
	e->dir = r->dir;
}

/* tls_emit_<N>: a record with room for N bytes of plaintext (reserve sizes must be constants).
 * Separate functions, so clang cannot merge the classes' copies and lose the bound of each. */
#define TLS_EMIT_CLASS(N)                                                                          \
	static __noinline int tls_emit_##N(const struct tls_record *r, __u64 n)                      \
	{                                                                                           \
		struct net_data_event *e =                                                          \
			bpf_ringbuf_reserve(&net_events, __builtin_offsetof(struct net_data_event, data) + (N), 0); \
		if (!e) {                                                                           \
			count(NET_CNT_RING_FULL);                                                   \
			return 0;                                                                   \
		}                                                                                   \
		tls_fill(e, r);                                                                     \
		/* clang knows the callers' bound; the verifier needs this one */                   \
		asm volatile("" : "+r"(n));                                                         \
		if (n > (N))                                                                        \
			n = (N);                                                                    \
		if (bpf_probe_read_user(e->data, n, (void *)r->buf))                                 \
			n = 0;                                                                      \
		e->captured = n;                                                                    \
		bpf_ringbuf_submit(e, 0);                                                           \
		count(NET_CNT_EVENTS);                                                              \
		return 0;                                                                           \
	}

TLS_EMIT_CLASS(128)
TLS_EMIT_CLASS(512)
TLS_EMIT_CLASS(1024)

static __always_inline int tls_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct tls_stack *st = bpf_map_lookup_elem(&tls_calls, &tid);
	if (!st || st->depth == 0)
		return 0;
	__u32 d = --st->depth;
	if (d >= TLS_MAX_DEPTH)
		return 0;
	struct tls_call c = st->calls[d & (TLS_MAX_DEPTH - 1)];
	if (d == 0)
		bpf_map_delete_elem(&tls_calls, &tid);
	if (c.op == TLS_OP_HANDSHAKE)
		return 0;
	/* SSL_read/SSL_write and the _ex forms return int: the upper half of rax is not theirs. */
	long ret = (int)PT_REGS_RC(ctx);
	__u64 size = 0;
	if (c.ex_len) {
		if (ret != 1 || bpf_probe_read_user(&size, sizeof(size), (void *)c.ex_len))
			return 0;
	} else if (ret > 0) {
		size = ret;
	}
	if (size == 0)
		return 0;
	struct net_conn_key key = {.tgid = id >> 32};
	struct net_conn_stats *s = tls_conn_of(&key, c.ssl, tid);
	if (!s)
		return 0;
	struct tls_conn *t = tls_mark(&key, s->gen);
	if (!t)
		return 0;
	__u8 dir = c.op == TLS_OP_READ ? NET_DIR_READ : NET_DIR_WRITE;
	/* Counted before the protocol check: user space sees calls not sent as a gap. Calls of one
	 * direction from two threads at once get their own offsets, their records may come in
	 * either order: the parser then only loses sync on that connection. */
	__u64 off = dir == NET_DIR_READ ? __sync_fetch_and_add(&t->read_bytes, size)
					: __sync_fetch_and_add(&t->write_bytes, size);
	if (t->proto == NET_PROTO_OTHER)
		return 0;
	if (t->proto == NET_PROTO_UNKNOWN) {
		/* Fewer bytes start no HTTP/1 message (http1_start): a constant read suits the verifier. */
		char head[4] = {};
		__u32 hn = size >= sizeof(head) && !bpf_probe_read_user(head, sizeof(head), (void *)c.buf) ? sizeof(head) : 0;
		classify_stream(&t->proto, &t->probes, head, hn);
	}
	struct tls_record r = {
		.gen = s->gen,
		.tgid = key.tgid,
		.fd = key.fd,
		.start_ns = c.start_ns,
		.buf = c.buf,
		.offset = off,
		.size = size > 0xffffffffULL ? 0xffffffff : (__u32)size,
		.dir = dir,
	};
	__u32 n = size > NET_CAPTURE ? NET_CAPTURE : (__u32)size;
	/* The ring takes constant sizes: the smallest class that holds the plaintext. */
	if (n <= 128)
		return tls_emit_128(&r, n);
	if (n <= 512)
		return tls_emit_512(&r, n);
	return tls_emit_1024(&r, n);
}

#define TLS_PROBES(name, op, ex)                                               \
	SEC("uprobe")                                                          \
	int net_tls_enter_##name(struct pt_regs *ctx)                          \
	{                                                                      \
		return tls_enter(ctx, op, ex);                                 \
	}                                                                      \
	SEC("uretprobe")                                                       \
	int net_tls_exit_##name(struct pt_regs *ctx)                           \
	{                                                                      \
		return tls_exit(ctx);                                          \
	}

TLS_PROBES(SSL_read, TLS_OP_READ, 0)
TLS_PROBES(SSL_write, TLS_OP_WRITE, 0)
TLS_PROBES(SSL_read_ex, TLS_OP_READ, 1)
TLS_PROBES(SSL_write_ex, TLS_OP_WRITE, 1)
TLS_PROBES(SSL_do_handshake, TLS_OP_HANDSHAKE, 0)

#endif
