/* Records and maps of the network observer (network.bpf.c), described for user space in
 * src/network-layout.ts; src/layout.test.ts checks them against the object's BTF.
 * Include after vmlinux.h. */
#ifndef SWLITE_NETWORK_H
#define SWLITE_NETWORK_H

/* Bytes of each read/write copied for the protocol parsers (HTTP/1 heads with trace headers). */
#define NET_CAPTURE 1024
/* iovecs of a readv/writev/recvmsg/sendmsg looked at for the capture. */
#define NET_IOV_MAX 4

/* Indexes of the per-CPU `counters` array of network.bpf.o. */
enum net_counter {
	NET_CNT_EVENTS = 0, /* records written to the ring buffer */
	NET_CNT_RING_FULL,  /* records dropped: ring buffer full */
	NET_CNT_CALLS,      /* socket syscalls of target processes seen */
	NET_CNT_CONN_FULL,  /* connections not tracked: net_conns full */
	NET_CNT_MAX,
};

/* NET_REC_TLS_DATA: a net_data_event of what an SSL_read/SSL_write moved in clear (network_tls.h). */
enum net_record_kind { NET_REC_OPEN = 1, NET_REC_CLOSE = 2, NET_REC_DATA = 3, NET_REC_TLS_DATA = 4 };
enum net_role { NET_ROLE_UNKNOWN = 0, NET_ROLE_CLIENT = 1, NET_ROLE_SERVER = 2 };
enum net_dir { NET_DIR_WRITE = 0, NET_DIR_READ = 1 };

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
	__u8 role;          /* enum net_role */
	__u8 pad[7];
}; /* 96 bytes */

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

/* The first NET_CAPTURE bytes a read or write moved. */
struct net_data_event {
	struct net_record_hdr hdr;
	__u64 start_ns;   /* syscall entry */
	__u32 size;       /* bytes the syscall moved */
	__u32 captured;   /* bytes valid in data */
	__u8 dir;         /* enum net_dir */
	__u8 pad[7];
	char data[NET_CAPTURE];
};

#endif
