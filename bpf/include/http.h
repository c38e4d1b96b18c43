/* Records of the HTTP observer (http_observe.bpf.c) in its `http_events` ring buffer. Described
 * for user space in src/layout.ts; src/layout.test.ts checks them against the object's BTF.
 * Include after vmlinux.h. */
#ifndef SWLITE_HTTP_H
#define SWLITE_HTTP_H

/* Bytes of a request's head copied (a request line with its URI). */
#define HTTP_CAPTURE 255
/* Bytes of a response's head copied (a status line needs far fewer). */
#define HTTP_STATUS_CAPTURE 16

enum http_dir { HTTP_DIR_READ = 0, HTTP_DIR_WRITE = 1 };

/* Indexes of the per-CPU `counters` array of http_observe.bpf.o. */
enum http_counter {
	HTTP_CNT_EVENTS = 0,   /* records written to the ring buffer */
	HTTP_CNT_RING_FULL,    /* records dropped: ring buffer full */
	HTTP_CNT_CALLS,        /* data syscalls of target processes seen */
	HTTP_CNT_MAX,
};

struct http_record_hdr {
	__u64 ts_ns;   /* CLOCK_MONOTONIC: reads at syscall exit, writes at syscall entry */
	__u32 tgid;
	__u32 tid;
	__u32 fd;
	__u32 size;    /* bytes the syscall moved (reads: its return value; writes: first buffer length) */
	__u8 dir;      /* enum http_dir */
	__u8 captured; /* bytes valid in data */
	__u8 pad[6];
}; /* 32 bytes */

/* A request (or anything else that looks like HTTP but is not a status line). */
struct http_event {
	struct http_record_hdr hdr;
	char data[HTTP_CAPTURE + 1];
}; /* 288 bytes */

/* A response: the status line only. */
struct http_status_event {
	struct http_record_hdr hdr;
	char data[HTTP_STATUS_CAPTURE];
}; /* 48 bytes */

#endif
