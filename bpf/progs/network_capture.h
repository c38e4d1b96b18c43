/* What network.bpf.c copies of a data op, decided per connection so that the ring carries what
 * the HTTP/1 parser needs and nothing more:
 * - while a connection's protocol is unknown its data is copied and its first bytes looked at: an
 *   HTTP/1 request or response start makes it HTTP/1; NET_PROBE_MAX ops without one make it
 *   another protocol, whose data is no longer copied or sent (its totals still count);
 * - user space may say (net_skip) that the bytes of a direction up to a stream offset are body it
 *   only needs to count: ops that end before that offset send nothing (their bytes show as a gap
 *   in the next record's offset), the op that reaches it sends its size, and only the bytes past
 *   it are copied.
 * A TLS connection's plaintext (network_tls.h) is classified the same way on its own state; its
 * syscalls' ciphertext is not copied, and net_skip does not apply to it.
 * Include after network.h and the maps of network.bpf.c. */
#ifndef SWLITE_NETWORK_CAPTURE_H
#define SWLITE_NETWORK_CAPTURE_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct net_conn_key);
	__type(value, struct net_skip);
} net_skip SEC(".maps");

/* How much of an op of `ret` bytes at stream offset `off` is skipped body. */
struct net_skip_plan {
	__u64 skip;  /* bytes not copied at the start of the op (at most ret) */
	__u8 silent; /* the whole op lies before the skip offset: send no record */
};

static __always_inline struct net_skip_plan skip_plan(const struct net_conn_key *key, __u64 gen, __u8 dir, __u64 off,
						      __u64 ret)
{
	struct net_skip_plan plan = {};
	struct net_skip *k = bpf_map_lookup_elem(&net_skip, key);
	if (!k || k->gen != gen)
		return plan;
	__u64 until = dir == NET_DIR_READ ? k->until_read : k->until_write;
	if (until <= off)
		return plan;
	__u64 n = until - off;
	plan.silent = n > ret;
	plan.skip = n > ret ? ret : n;
	return plan;
}

/* Does a buffer starting with these bytes start an HTTP/1 request or response? */
static __always_inline int http1_start(const char *d, __u32 n)
{
	if (n < 4)
		return 0;
	char a = d[0], b = d[1], c = d[2], e = d[3];
#define IS4(w) (a == w[0] && b == w[1] && c == w[2] && e == w[3])
	return IS4("HTTP") || IS4("GET ") || IS4("POST") || IS4("PUT ") || IS4("HEAD") || IS4("DELE") ||
	       IS4("OPTI") || IS4("PATC") || IS4("TRAC") || IS4("CONN");
#undef IS4
}

/* Learns a stream's protocol (enum net_proto) from an op's first copied bytes while it is unknown;
 * `probes` counts the ops looked at. */
static __always_inline void classify_stream(__u8 *proto, __u8 *probes, const char *d, __u32 n)
{
	if (*proto != NET_PROTO_UNKNOWN)
		return;
	if (http1_start(d, n)) {
		*proto = NET_PROTO_HTTP1;
		return;
	}
	if (++*probes >= NET_PROBE_MAX)
		*proto = NET_PROTO_OTHER;
}

/* The syscall stream of a connection. */
static __always_inline void classify(struct net_conn_stats *s, const char *d, __u32 n)
{
	classify_stream(&s->proto, &s->probes, d, n);
}

#endif
