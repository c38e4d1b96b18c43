/* HTTP/1 meters summed in the kernel for network.bpf.c, so that a busy HTTP/1 connection costs a
 * few map updates per exchange instead of data records that user space parses:
 * - while user space asks for it (net_config.kernel_meters ALL: the task has no sampling rule, so
 *   no exchange needs its headers or body), a connection whose first bytes start an HTTP/1
 *   message gets an entry in `net_http` and sends no data records from then on. Each op's first
 *   bytes tell a request start (a method) or a response start (a status line); an exchange runs
 *   from its request's first byte to its response's last one and is then counted: exchanges,
 *   status code, request/response bytes, whole milliseconds, and the bucket counts of rover's
 *   meters (bounds from user space, `net_buckets`), plus the syscall time histograms of its reads
 *   and writes. The response is complete at head + Content-Length (at its head's end for
 *   101/204/304 and HEAD), else when the next request starts or the connection closes.
 * - UNTRACED (the task has sampling rules): as ALL, but user space samples only requests that
 *   carry a trace context, so a request start whose head has a trace header line (sw8, b3,
 *   x-b3-traceid, traceparent; names case-insensitive, in the first NET_HTTP_TRACE_SCAN bytes of
 *   its first op) hands that exchange to user space: its ops send data records (state TRACED, the
 *   parser counts it, the kernel does not) until a request starts after its response began; that
 *   request is looked at the same way. The parser sees the metered bytes in between as a gap
 *   between messages.
 * - OFF (user space stopped asking): a metered connection switches to data records for good at
 *   its next request start, so the parser starts on a message boundary and no exchange is counted
 *   twice or missed.
 * - entries stay after close until user space has read their last totals and deletes them.
 * Pipelined requests (a request start before the previous response started) count as one
 * exchange; connections that pipeline need the data path to be counted apart (behind a traced
 * request they go with it). TLS plaintext does not come here (network_tls.h sends it as records).
 * Included by network.bpf.c after its maps and record helpers. */
#ifndef SWLITE_NETWORK_HTTP_H
#define SWLITE_NETWORK_HTTP_H

/* Bucket bounds as user space's meters define them, padded with ~0 to 64 entries. */
struct net_buckets {
	__u64 duration_ms[64];
	__u64 size[64];
	__u64 socket_ns[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_config);
} net_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_buckets);
} net_buckets SEC(".maps");

/* Allocated as connections come: most targets have far fewer than max_entries. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct net_http_key);
	__type(value, struct net_http_stats);
} net_http SEC(".maps");

/* Never written: the zeroed value a new net_http entry starts from (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_http_stats);
} net_http_zero SEC(".maps");

/* A message head searched for its end, Content-Length and trace headers; twice the largest scan
 * so that masked reads past a match stay inside. */
struct http_head_scratch {
	char d[2 * NET_HTTP_TRACE_SCAN];
	__u64 head_end;
	__u64 clen;
	__u64 has_clen;
	__u64 traced;
	__u32 n; /* bytes read into d */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_head_scratch);
} net_http_head SEC(".maps");

/* enum net_kernel_meters */
static __always_inline __u32 kernel_meters(void)
{
	__u32 zero = 0;
	struct net_config *c = bpf_map_lookup_elem(&net_config, &zero);
	return c ? c->kernel_meters : NET_KM_OFF;
}

enum net_bucket_table { NET_BT_DURATION_MS = 0, NET_BT_SIZE = 1, NET_BT_SOCKET_NS = 2 };

/* The last bucket of a net_buckets table whose lower bound is not above v, the first for
 * anything below the second bound (rover's bucketIndex); bounds are sorted and padded with ~0.
 * A global function: its result is one unknown scalar to the verifier, not 64 paths. */
__noinline __u32 net_bucket_of(__u32 table, __u64 v)
{
	__u32 zero = 0;
	struct net_buckets *b = bpf_map_lookup_elem(&net_buckets, &zero);
	if (!b)
		return 0;
	const __u64 *bounds = table == NET_BT_DURATION_MS ? b->duration_ms : table == NET_BT_SIZE ? b->size : b->socket_ns;
	__u32 lo = 0, hi = 64;
	for (int k = 0; k < 6; k++) {
		__u32 mid = (lo + hi) / 2;
		if (bounds[mid & 63] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The padding (~0) keeps a bucket index below the table's count: the check is the verifier's. */
#define HIST_ADD(arr, n, i)                                                    \
	do {                                                                   \
		__u32 _i = (i);                                                \
		asm volatile("" : "+r"(_i));                                   \
		if (_i < (n))                                                  \
			__sync_fetch_and_add(&(arr)[_i], 1);                   \
	} while (0)

/* 0: no request start; 1: a method; 2: HEAD. */
static __always_inline int http1_method(const char *d, __u32 n)
{
	if (n < 4 || !http1_start(d, n) || (d[0] == 'H' && d[1] == 'T'))
		return 0;
	return d[0] == 'H' && d[1] == 'E' ? 2 : 1;
}

/* The status of "HTTP/1.x DDD", or 0. */
static __always_inline __u16 http1_status(const char *d, __u32 n)
{
	if (n < 12 || d[0] != 'H' || d[1] != 'T' || d[2] != 'T' || d[3] != 'P' || d[4] != '/' || d[8] != ' ')
		return 0;
	char a = d[9], b = d[10], c = d[11];
	if (a < '1' || a > '5' || b < '0' || b > '9' || c < '0' || c > '9')
		return 0;
	return (a - '0') * 100 + (b - '0') * 10 + (c - '0');
}

static __always_inline struct http_head_scratch *head_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&net_http_head, &zero);
}

/* The Content-Length value at `at` in the head scratch (up to 12 digits). */
__noinline __u64 net_http_digits(__u32 at)
{
	struct http_head_scratch *sc = head_scratch();
	if (!sc)
		return 0;
	__u64 v = 0;
	for (int k = 0; k < 12; k++) {
		char d = sc->d[(at + k) & (2 * NET_HTTP_TRACE_SCAN - 1)];
		if (d < '0' || d > '9')
			break;
		v = v * 10 + (d - '0');
	}
	return v;
}

/* The lines that start in the 8 head bytes from `from` (of `n` read): notes the head's end, a
 * Content-Length and a trace header in the scratch; 1 once the end is found. */
__noinline int net_http_lines(__u32 from, __u32 n)
{
	struct http_head_scratch *sc = head_scratch();
	if (!sc)
		return 1;
	for (__u32 j = 0; j < 8; j++) {
		__u32 i = (from + j) & (NET_HTTP_TRACE_SCAN - 1);
		if (i + 2 >= n)
			return 1;
		if (sc->d[i] != '\n')
			continue;
		__u32 at = i + 1;
		if (sc->d[at] == '\r') {
			sc->head_end = i + 3;
			return 1;
		}
		/* Header names case-insensitively: letters get bit 0x20; '-', ':', ' ' and digits have it. */
		__u64 w1 = *(__u64 *)&sc->d[at] | 0x2020202020202020ULL;
		__u64 w2 = *(__u64 *)&sc->d[at + 8] | 0x2020202020202020ULL;
		if (w1 == 0x2d746e65746e6f63ULL /* "content-" */ && w2 == 0x203a6874676e656cULL /* "length: " */) {
			sc->clen = net_http_digits(at + 16);
			sc->has_clen = 1;
		}
		/* the headers user space's sampler reads a trace context from: upstream's sw8, b3, and
		 * x-b3-traceid, which x-b3-spanid goes with (user space checks both), and W3C traceparent */
		if ((at + 4 <= n && (w1 & 0xffffffffULL) == 0x3a387773ULL /* "sw8:" */) ||
		    (at + 3 <= n && (w1 & 0xffffffULL) == 0x3a3362ULL /* "b3:" */) ||
		    (at + 13 <= n && w1 == 0x6172742d33622d78ULL /* "x-b3-tra" */ &&
		     (w2 & 0xffffffffffULL) == 0x3a64696563ULL /* "ceid:" */) ||
		    (at + 12 <= n && w1 == 0x7261706563617274ULL /* "tracepar" */ &&
		     (w2 & 0xffffffffULL) == 0x3a746e65ULL /* "ent:" */))
			sc->traced = 1;
	}
	return 0;
}

/* bpf_loop callback of net_http_scan: the 8 head bytes of word i + 1 (the request or status line
 * fills word 0); 1 (stop) at the bytes' or the head's end. */
static long http_scan_word(__u32 i, void *data)
{
	__u32 w = (i + 1) * 8;
	struct http_head_scratch *sc = head_scratch();
	if (!sc || w >= sc->n)
		return 1;
	__u32 n = sc->n;
	__u64 x = *(__u64 *)&sc->d[w & (NET_HTTP_TRACE_SCAN - 1)] ^ 0x0a0a0a0a0a0a0a0aULL;
	if (!((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL))
		return 0;
	/* a callback's result must be 0 or 1 to the verifier: a global function's is any scalar */
	return net_http_lines(w, n) ? 1 : 0;
}

/* Reads the first `limit` (at most NET_HTTP_TRACE_SCAN) of the `avail` head bytes at `base` into the
 * head scratch and notes the head's end (0 when past them), Content-Length and a trace header
 * there; returns the bytes read (0: none). A global function: verified once per program. The head
 * is searched 8 bytes at a time for a '\n'; only words holding one are looked at byte by byte, up
 * to the head's end. */
__noinline __u32 net_http_scan(__u64 base, __u64 avail, __u32 limit)
{
	struct http_head_scratch *sc = head_scratch();
	if (!sc)
		return 0;
	__u32 n = avail > limit ? limit : (__u32)avail;
	if (n > NET_HTTP_TRACE_SCAN)
		n = NET_HTTP_TRACE_SCAN;
	/* the compiler would drop the mask below as a no-op; the verifier needs it */
	asm volatile("" : "+r"(n));
	sc->head_end = 0;
	sc->clen = 0;
	sc->has_clen = 0;
	sc->traced = 0;
	if (bpf_probe_read_user(sc->d, n & (2 * NET_HTTP_TRACE_SCAN - 1), (void *)base))
		return 0;
	/* bpf_loop: verified once, not once per iteration as a loop of 127 would be */
	sc->n = n;
	bpf_loop(NET_HTTP_TRACE_SCAN / 8 - 1, http_scan_word, NULL, 0);
	return n;
}

/* The response's bytes on the wire as its head tells them (first op's bytes at `base`, `avail`
 * of them readable), or 0 when the head does not (no Content-Length, chunked, a head longer than
 * NET_HTTP_HEAD_SCAN). `no_body`: 101/204/304 or the answer to a HEAD. */
static __always_inline __u64 http_response_expect(__u64 no_body, __u64 base, __u64 avail)
{
	__u32 n = net_http_scan(base, avail, NET_HTTP_HEAD_SCAN);
	struct http_head_scratch *sc = head_scratch();
	if (!n || !sc)
		return 0;
	__u64 head_end = sc->head_end;
	if (!head_end || head_end > n)
		return 0;
	if (no_body)
		return head_end;
	return sc->has_clen ? head_end + sc->clen : 0;
}

/* Does the request head at `base` carry a trace header in its first NET_HTTP_TRACE_SCAN bytes? */
static __always_inline int http_request_traced(__u64 base, __u64 avail)
{
	struct http_head_scratch *sc = head_scratch();
	return net_http_scan(base, avail, NET_HTTP_TRACE_SCAN) && sc && sc->traced;
}

/* Counts the exchange in progress if its response started. A global function (h: a net_http
 * value): verified once, not at each of its call sites. */
__noinline int net_http_finish(struct net_http_stats *h)
{
	if (!h || h->state != NET_HTTP_RESPONSE)
		return 0;
	h->state = NET_HTTP_IDLE;
	__u64 ms = (h->resp_end_ns > h->req_start_ns ? h->resp_end_ns - h->req_start_ns : 0) / 1000000;
	__sync_fetch_and_add(&h->req_bytes_sum, h->req_bytes);
	__sync_fetch_and_add(&h->resp_bytes_sum, h->resp_bytes);
	__sync_fetch_and_add(&h->duration_ms_sum, ms);
	HIST_ADD(h->duration_hist, NET_HTTP_DURATION_BUCKETS, net_bucket_of(NET_BT_DURATION_MS, ms));
	HIST_ADD(h->req_size_hist, NET_HTTP_SIZE_BUCKETS, net_bucket_of(NET_BT_SIZE, h->req_bytes));
	HIST_ADD(h->resp_size_hist, NET_HTTP_SIZE_BUCKETS, net_bucket_of(NET_BT_SIZE, h->resp_bytes));
	int slot = -1;
	for (int i = 0; i < NET_HTTP_STATUS_SLOTS; i++) {
		if (h->status_codes[i] == h->status || h->status_codes[i] == 0) {
			slot = i;
			break;
		}
	}
	if (slot < 0) {
		count(NET_CNT_STATUS_FULL);
	} else {
		h->status_codes[slot & (NET_HTTP_STATUS_SLOTS - 1)] = h->status;
		__sync_fetch_and_add(&h->status_counts[slot & (NET_HTTP_STATUS_SLOTS - 1)], 1);
	}
	/* last: user space takes an exchange whose count it sees as complete */
	__sync_fetch_and_add(&h->exchanges, 1);
	return 0;
}

/* The bytes an op moved that its head is read from: the buffer, or the first iovec. */
static __always_inline int op_head(const struct net_pending *io, __u64 first, __u64 *base, __u64 *avail)
{
	if (!io->iov) {
		*base = io->buf;
		*avail = first;
		return 0;
	}
	struct iovec iov = {};
	if (io->count < 1 || bpf_probe_read_user(&iov, sizeof(iov), (void *)io->buf))
		return -1;
	*base = (__u64)iov.iov_base;
	*avail = iov.iov_len < first ? iov.iov_len : first;
	return 0;
}

/* A data op of a tracked connection not sending records as TLS. 1: metered here (or, while the
 * protocol is unknown, classified), send no record; 0: the data path decides. A global function:
 * verified once per program, not for every state data_exit reaches it in. */
__noinline int net_http_meter(struct net_pending *io, __u64 now, __u64 ret, __u64 first)
{
	if (!io)
		return 0;
	struct net_conn_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = io->fd};
	struct net_conn_stats *s = bpf_map_lookup_elem(&net_conns, &key);
	if (!s || s->proto == NET_PROTO_OTHER)
		return 0;
	struct net_http_key hk = {.tgid = key.tgid, .fd = key.fd, .gen = s->gen};
	struct net_http_stats *h = bpf_map_lookup_elem(&net_http, &hk);
	if (h && h->state == NET_HTTP_CAPTURE)
		return 0;
	__u32 km = kernel_meters();
	/* a connection whose data went to user space stays there: its parser is mid-stream */
	if (!h && (km == NET_KM_OFF || s->proto != NET_PROTO_UNKNOWN))
		return 0;
	__u64 base = 0, avail = 0;
	char head[16] = {};
	__u32 hn = 0;
	/* sendfile's bytes come from a file: only counted */
	if (io->capture && !op_head(io, first, &base, &avail) && avail > 0) {
		hn = avail >= sizeof(head) ? sizeof(head) : (__u32)avail & (sizeof(head) - 1);
		if (bpf_probe_read_user(head, hn, (void *)base))
			hn = 0;
	}
	if (!h) {
		if (!io->capture)
			return 0;
		classify(s, head, hn);
		if (s->proto != NET_PROTO_HTTP1)
			return 1; /* another protocol, or not known yet: user space needs none of its bytes */
		__u32 zero = 0;
		struct net_http_stats *z = bpf_map_lookup_elem(&net_http_zero, &zero);
		if (!z || bpf_map_update_elem(&net_http, &hk, z, BPF_NOEXIST)) {
			count(NET_CNT_HTTP_FULL);
			return 0;
		}
		h = bpf_map_lookup_elem(&net_http, &hk);
		if (!h)
			return 0;
	}
	int method = http1_method(head, hn);
	if (method && km == NET_KM_OFF) {
		/* sampling rules arrived: from this request on the parser sees the data */
		net_http_finish(h);
		h->state = NET_HTTP_CAPTURE;
		return 0;
	}
	__u8 dir = io->op == NOP_READ ? NET_DIR_READ : NET_DIR_WRITE;
	__u8 req_dir = h->side == NET_ROLE_CLIENT ? NET_DIR_WRITE : NET_DIR_READ;
	/* A request starts: a method in the other direction, or after the response began. A traced
	 * exchange's requests until then (its body, or requests pipelined behind it) go with it. */
	int starts = method && (dir != req_dir || (h->state == NET_HTTP_TRACED ? h->resp_bytes > 0
										 : h->state != NET_HTTP_REQUEST));
	if (h->state == NET_HTTP_TRACED && !starts) {
		if (dir != req_dir)
			h->resp_bytes += ret;
		return 0;
	}
	if (starts) {
		net_http_finish(h);
		h->side = dir == NET_DIR_READ ? NET_ROLE_SERVER : NET_ROLE_CLIENT;
		h->resp_bytes = 0;
		/* user space samples only a request with a trace context: it needs that exchange's bytes,
		 * and counts it itself; the next request start comes back here */
		if (km == NET_KM_UNTRACED && io->capture && http_request_traced(base, avail)) {
			h->state = NET_HTTP_TRACED;
			count(NET_CNT_TRACED);
			return 0;
		}
	}
	count(NET_CNT_METERED);
	__u32 i = net_bucket_of(NET_BT_SOCKET_NS, now - io->ts_ns);
	if (dir == NET_DIR_READ)
		HIST_ADD(h->read_exe_hist, NET_SOCKET_BUCKETS, i);
	else
		HIST_ADD(h->write_exe_hist, NET_SOCKET_BUCKETS, i);
	if (starts) {
		h->state = NET_HTTP_REQUEST;
		h->req_start_ns = io->ts_ns;
		h->req_bytes = ret;
		h->resp_expect = 0;
		h->head_req = method == 2;
		return 1;
	}
	if (h->state == NET_HTTP_IDLE)
		return 1;
	if (dir == req_dir) {
		if (h->state == NET_HTTP_REQUEST)
			h->req_bytes += ret;
		return 1;
	}
	if (h->state == NET_HTTP_REQUEST) {
		__u16 status = http1_status(head, hn);
		/* a 1xx but 101 is interim: the final response follows */
		if (!status || (status < 200 && status != 101))
			return 1;
		h->state = NET_HTTP_RESPONSE;
		h->status = status;
		h->resp_bytes = 0;
		__u64 no_body = status < 200 || status == 204 || status == 304 || h->head_req;
		h->resp_expect = http_response_expect(no_body, base, avail);
	}
	h->resp_bytes += ret;
	h->resp_end_ns = now;
	if (h->resp_expect && h->resp_bytes >= h->resp_expect)
		net_http_finish(h);
	return 1;
}

/* close: the exchange whose response was framed by the close (or not framed at all) ends. */
static __always_inline void http_close(const struct net_conn_key *key, __u64 gen)
{
	struct net_http_key hk = {.tgid = key->tgid, .fd = key->fd, .gen = gen};
	struct net_http_stats *h = bpf_map_lookup_elem(&net_http, &hk);
	if (h)
		net_http_finish(h);
}

#endif
