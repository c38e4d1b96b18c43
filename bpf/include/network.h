/* Records and maps of the network observer (network.bpf.c), described for user space in
 * src/network-layout.ts; src/layout.test.ts checks them against the object's BTF.
 * Include after vmlinux.h. */
#ifndef SWLITE_NETWORK_H
#define SWLITE_NETWORK_H

/* Bytes of each read/write copied for the protocol parsers (HTTP/1 heads with trace headers). */
#define NET_CAPTURE 1024
/* iovecs of a readv/writev/recvmsg/sendmsg looked at for the capture. */
#define NET_IOV_MAX 4
/* Messages of a recvmmsg/sendmmsg whose lengths are summed (the first one's bytes are captured):
 * the kernel's own cap on a call (UIO_MAXIOV), so every message counts. */
#define NET_MMSG_MAX 1024
/* Data ops of a connection whose first bytes start no HTTP/1 message before it counts as another
 * protocol: from then on only its totals are kept, no data is copied. */
#define NET_PROBE_MAX 4

/* Indexes of the per-CPU `counters` array of network.bpf.o. */
enum net_counter {
	NET_CNT_EVENTS = 0, /* records written to the ring buffer */
	NET_CNT_RING_FULL,  /* records dropped: ring buffer full */
	NET_CNT_CALLS,      /* socket syscalls of target processes seen */
	NET_CNT_CONN_FULL,  /* connections not tracked: net_conns full */
	NET_CNT_DROPS,      /* skb:kfree_skb on a tracked connection's sock */
	NET_CNT_SKIPPED,    /* data ops not copied: body bytes user space said it can skip */
	NET_CNT_METERED,    /* data ops of HTTP/1 connections metered in the kernel (no record) */
	NET_CNT_HTTP_FULL,  /* connections sent as records: net_http full */
	NET_CNT_STATUS_FULL, /* exchanges whose status code found no slot (their code is lost) */
	NET_CNT_TRACED,     /* requests of metered connections whose trace header sent them as records */
	NET_CNT_MAX,
};

/* NET_REC_TLS_DATA: a net_data_event of what an SSL_read/SSL_write moved in clear (network_tls.h). */
enum net_record_kind { NET_REC_OPEN = 1, NET_REC_CLOSE = 2, NET_REC_DATA = 3, NET_REC_TLS_DATA = 4 };
enum net_role { NET_ROLE_UNKNOWN = 0, NET_ROLE_CLIENT = 1, NET_ROLE_SERVER = 2 };
enum net_dir { NET_DIR_WRITE = 0, NET_DIR_READ = 1 };
/* What a connection's data is, as far as capture goes. */
enum net_proto { NET_PROTO_UNKNOWN = 0, NET_PROTO_HTTP1 = 1, NET_PROTO_OTHER = 2 };

/* A connection is one (process, fd) from connect/accept (or its first data) to close. */
struct net_conn_key {
	__u32 tgid;
	__u32 fd;
};

/* Per-connection totals since it was opened; user space reads deltas between flushes. */
struct net_conn_stats {
	__u64 gen;          /* bpf_ktime_get_ns() at open: a reused fd is a new connection */
	__u64 sk;           /* kernel struct sock address, for the tcp tracepoints */
	__u64 write_bytes;
	__u64 write_count;
	__u64 write_exe_ns;
	__u64 read_bytes;
	__u64 read_count;
	__u64 read_exe_ns;
	__u64 rtt_sum_us;   /* tcp_probe srtt samples (us) */
	__u64 rtt_count;
	__u64 retransmits;
	__u64 drops;        /* skb:kfree_skb of its sock */
	__u8 role;          /* enum net_role */
	__u8 proto;         /* enum net_proto */
	__u8 probes;        /* data ops seen while proto is unknown */
	__u8 pad[5];
}; /* 104 bytes */

/* Written by user space only (net_skip, keyed by net_conn_key): per direction, the stream offset
 * up to which the bytes are body the HTTP/1 parser can count without seeing them. A data op that
 * ends before it sends no record; the one that reaches it sends its size without the skipped
 * bytes. gen must match the connection's (a reused fd is another connection). */
struct net_skip {
	__u64 gen;
	__u64 until_write;
	__u64 until_read;
};

struct net_record_hdr {
	__u64 ts_ns;  /* CLOCK_MONOTONIC at syscall exit */
	__u64 gen;
	__u32 tgid;
	__u32 fd;
	__u8 kind;    /* enum net_record_kind */
	__u8 pad[7];
}; /* 32 bytes */

/* Open (connect/accept return, or the first data on an untracked socket) or close. */
struct net_conn_event {
	struct net_record_hdr hdr;
	__u64 exe_ns;                /* the syscall's duration (0 when opened by data) */
	struct net_conn_stats stats; /* close: the final totals */
	__u8 laddr[16];              /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	__u16 family;                /* AF_INET / AF_INET6; 0 when unknown */
	__u16 lport;
	__u16 rport;
	__u8 role;                   /* enum net_role */
	__u8 pad[1];
}; /* 176 bytes */

/* Up to NET_CAPTURE bytes of what a read or write moved; the record is only as long as them. */
struct net_data_event {
	struct net_record_hdr hdr;
	__u64 start_ns;   /* syscall entry */
	__u64 offset;     /* the direction's bytes before this op (a gap means ops not sent) */
	__u32 size;       /* bytes the syscall moved */
	__u32 skip;       /* of them, bytes before the captured ones (skipped body) */
	__u32 captured;   /* bytes valid in data */
	__u8 dir;         /* enum net_dir */
	__u8 pad[3];
	char data[NET_CAPTURE];
};

/* HTTP/1 meters summed in the kernel (network_http.h): bucket counts of rover's meters. */
#define NET_HTTP_DURATION_BUCKETS 45 /* HTTP_DURATION_BUCKETS_MS */
#define NET_HTTP_SIZE_BUCKETS 25     /* HTTP_SIZE_BUCKETS */
#define NET_SOCKET_BUCKETS 34        /* SOCKET_BUCKETS_NS */
#define NET_HTTP_STATUS_SLOTS 8
/* Bytes of a response's first op searched for the end of its head and Content-Length. */
#define NET_HTTP_HEAD_SCAN 256
/* Bytes of a request's first op searched for a trace header (sw8, b3, x-b3-traceid, traceparent):
 * those a data record of that op carries to user space's parser (NET_CAPTURE), so no header the
 * data path saw in that op is missed; the scan ends at the head's end. A trace header past them
 * (a head over 1 KiB before it, or one written in several ops) is not seen: that exchange is
 * metered, not sampled. */
#define NET_HTTP_TRACE_SCAN NET_CAPTURE

/* What the kernel does with HTTP/1 connections (net_config.kernel_meters). */
enum net_kernel_meters {
	NET_KM_OFF = 0,      /* every HTTP/1 connection sends data records (a metered one from its next request) */
	NET_KM_ALL = 1,      /* HTTP/1 connections are metered in the kernel and send no data */
	NET_KM_UNTRACED = 2, /* as ALL, but an exchange whose request carries a trace header goes as records */
};

/* net_config[0]: what user space wants of HTTP/1 connections. */
struct net_config {
	__u32 kernel_meters; /* enum net_kernel_meters */
	__u8 pad[4];
};

/* net_http's key: a connection of one generation (a reused fd is a new entry). */
struct net_http_key {
	__u32 tgid;
	__u32 fd;
	__u64 gen;
};

/* CAPTURE: the connection sends data records from now on; TRACED: the exchange in progress does,
 * up to the next request start. */
enum net_http_state {
	NET_HTTP_IDLE = 0,
	NET_HTTP_REQUEST = 1,
	NET_HTTP_RESPONSE = 2,
	NET_HTTP_CAPTURE = 3,
	NET_HTTP_TRACED = 4,
};

/* One HTTP/1 connection metered in the kernel: the exchange in progress and totals since it was
 * opened (user space reads their increase; counters wrap as __u32 where they are bucket counts).
 * An exchange lasts from its request's first byte (syscall entry) to its response's last byte
 * (syscall exit): the response is complete when its Content-Length is reached (or at the end of
 * its head for 1xx/204/304/HEAD), else when the next request starts or the connection closes. */
struct net_http_stats {
	__u64 req_start_ns;
	__u64 resp_end_ns;
	__u64 req_bytes;
	__u64 resp_bytes;   /* TRACED: the response's bytes so far (a request start after them ends it) */
	__u64 resp_expect;  /* the response's bytes on the wire when known from its head, else 0 */
	__u64 exchanges;
	__u64 req_bytes_sum;
	__u64 resp_bytes_sum;
	__u64 duration_ms_sum;
	__u16 status;       /* of the response in progress */
	__u8 state;         /* enum net_http_state; CAPTURE: handed to user space as data records */
	__u8 side;          /* enum net_role of this process in its exchanges; 0 until a request */
	__u8 head_req;      /* the request in progress is a HEAD */
	__u8 pad[3];
	__u16 status_codes[NET_HTTP_STATUS_SLOTS];
	__u32 status_counts[NET_HTTP_STATUS_SLOTS];
	__u32 duration_hist[NET_HTTP_DURATION_BUCKETS];
	__u32 req_size_hist[NET_HTTP_SIZE_BUCKETS];
	__u32 resp_size_hist[NET_HTTP_SIZE_BUCKETS];
	__u32 read_exe_hist[NET_SOCKET_BUCKETS];
	__u32 write_exe_hist[NET_SOCKET_BUCKETS];
};

#endif
