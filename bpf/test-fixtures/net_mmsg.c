/* Network workload for recvmmsg/sendmmsg and dropped skbs, on 127.0.0.1. Creates its sockets
 * after a line on stdin (so a NETWORK task started before sees their connect/accept), then prints
 * what it measured itself as key=value figures:
 *
 *   udp <rounds> <batch>  two connected UDP sockets: per round one sendmmsg of <batch> datagrams
 *                         (sizes vary), read back with recvmmsg, and <batch> answers the same way.
 *                         Figures: write_calls, write_bytes, read_calls, read_bytes (both sockets).
 *   tcp <exchanges>       a TCP client and the server side of its connection: per exchange one
 *                         sendmmsg of two messages (an HTTP/1.1 POST head, then its body), read
 *                         with recvmmsg until complete, answered the same way (200, head + body).
 *                         Figures: client_/server_ write_calls, write_bytes, read_calls, read_bytes.
 *   drop <datagrams>      a receiver with the smallest receive buffer, connected to a sender that
 *                         sends <datagrams> of 1000 bytes before the receiver reads any: the
 *                         kernel drops what the buffer cannot hold. Figures: sent, received (read
 *                         after), kernel_drops (the receiver's SK_MEMINFO_DROPS).
 * Build: gcc -O1 -g */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 64

static void die(const char *what)
{
	perror(what);
	exit(1);
}

struct side {
	long write_calls, write_bytes, read_calls, read_bytes;
};

/* A socket of `type` bound to 127.0.0.1 on a free port; its address in *addr. */
static int bound(int type, struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, type, 0);
	if (fd < 0)
		die("socket");
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)))
		die("bind");
	socklen_t len = sizeof(*addr);
	if (getsockname(fd, (struct sockaddr *)addr, &len))
		die("getsockname");
	return fd;
}

/* One sendmmsg of n messages (lens[i] bytes of buf each); every message must go out whole. */
static void send_batch(int fd, char *buf, const int *lens, int n, struct side *s)
{
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	memset(msgs, 0, sizeof(msgs));
	long off = 0;
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = buf + off;
		iov[i].iov_len = lens[i];
		off += lens[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	int sent = sendmmsg(fd, msgs, n, 0);
	if (sent != n)
		die("sendmmsg: not every message sent");
	s->write_calls++;
	for (int i = 0; i < n; i++) {
		if ((int)msgs[i].msg_len != lens[i])
			die("sendmmsg: a message sent in part");
		s->write_bytes += msgs[i].msg_len;
	}
}

/* recvmmsg into n buffers of `size` bytes until `want` messages (UDP) or bytes (TCP) arrived. */
static void recv_until(int fd, int n, int size, long want, int stream, struct side *s)
{
	static char bufs[MAX_BATCH][4096];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	long got = 0;
	while (got < want) {
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = size;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int r = recvmmsg(fd, msgs, n, MSG_WAITFORONE, NULL);
		if (r <= 0)
			die("recvmmsg");
		s->read_calls++;
		for (int i = 0; i < r; i++) {
			s->read_bytes += msgs[i].msg_len;
			got += stream ? (long)msgs[i].msg_len : 1;
		}
	}
}

static void udp(int rounds, int batch)
{
	struct sockaddr_in a_addr, b_addr;
	int a = bound(SOCK_DGRAM, &a_addr), b = bound(SOCK_DGRAM, &b_addr);
	if (connect(a, (struct sockaddr *)&b_addr, sizeof(b_addr)) || connect(b, (struct sockaddr *)&a_addr, sizeof(a_addr)))
		die("connect");
	static char buf[MAX_BATCH * 1024];
	memset(buf, 'u', sizeof(buf));
	struct side s = {0};
	for (int r = 0; r < rounds; r++) {
		int lens[MAX_BATCH];
		for (int i = 0; i < batch; i++)
			lens[i] = 64 + (i * 37 + r * 11) % 900;
		send_batch(a, buf, lens, batch, &s);
		recv_until(b, batch, 4096, batch, 0, &s);
		for (int i = 0; i < batch; i++)
			lens[i] = 32 + (i * 53 + r * 7) % 500;
		send_batch(b, buf, lens, batch, &s);
		recv_until(a, batch, 4096, batch, 0, &s);
	}
	printf("write_calls=%ld write_bytes=%ld read_calls=%ld read_bytes=%ld\n", s.write_calls, s.write_bytes,
	       s.read_calls, s.read_bytes);
	close(a);
	close(b);
}

static void tcp(int exchanges)
{
	struct sockaddr_in l_addr;
	int l = bound(SOCK_STREAM, &l_addr);
	if (listen(l, 1))
		die("listen");
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&l_addr, sizeof(l_addr)))
		die("connect");
	int sv = accept(l, NULL, NULL);
	if (sv < 0)
		die("accept");
	struct side cs = {0}, ss = {0};
	static char body[2048];
	memset(body, 'b', sizeof(body));
	for (int i = 0; i < exchanges; i++) {
		char req[4096], resp[4096];
		int req_body = 100 + (i * 131) % 1500, resp_body = 50 + (i * 97) % 1800;
		int h = snprintf(req, sizeof(req), "POST /mmsg/%d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", i,
				 req_body);
		memcpy(req + h, body, req_body);
		int lens[2] = {h, req_body};
		send_batch(c, req, lens, 2, &cs);
		recv_until(sv, 2, 4096, h + req_body, 1, &ss);
		h = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
			     resp_body);
		memcpy(resp + h, body, resp_body);
		lens[0] = h;
		lens[1] = resp_body;
		send_batch(sv, resp, lens, 2, &ss);
		recv_until(c, 2, 4096, h + resp_body, 1, &cs);
	}
	printf("client_write_calls=%ld client_write_bytes=%ld client_read_calls=%ld client_read_bytes=%ld\n",
	       cs.write_calls, cs.write_bytes, cs.read_calls, cs.read_bytes);
	printf("server_write_calls=%ld server_write_bytes=%ld server_read_calls=%ld server_read_bytes=%ld\n",
	       ss.write_calls, ss.write_bytes, ss.read_calls, ss.read_bytes);
	close(c);
	close(sv);
	close(l);
}

static void drop(int datagrams)
{
	struct sockaddr_in r_addr, s_addr;
	int r = bound(SOCK_DGRAM, &r_addr), s = bound(SOCK_DGRAM, &s_addr);
	int small = 1; /* the kernel raises it to its minimum */
	if (setsockopt(r, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)))
		die("SO_RCVBUF");
	if (connect(r, (struct sockaddr *)&s_addr, sizeof(s_addr)) || connect(s, (struct sockaddr *)&r_addr, sizeof(r_addr)))
		die("connect");
	char buf[1000];
	memset(buf, 'd', sizeof(buf));
	long sent = 0, received = 0;
	for (int i = 0; i < datagrams; i++)
		if (send(s, buf, sizeof(buf), 0) == sizeof(buf))
			sent++;
	while (recv(r, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		received++;
	__u32 mem[SK_MEMINFO_VARS] = {0};
	socklen_t len = sizeof(mem);
	if (getsockopt(r, SOL_SOCKET, SO_MEMINFO, mem, &len))
		die("SO_MEMINFO");
	printf("sent=%ld received=%ld kernel_drops=%u\n", sent, received, mem[SK_MEMINFO_DROPS]);
	close(r);
	close(s);
}

int main(int argc, char **argv)
{
	char line[16];
	if (argc < 3 || !fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "usage: net_mmsg udp <rounds> <batch> | tcp <exchanges> | drop <datagrams>, then a line on stdin\n");
		return 2;
	}
	if (!strcmp(argv[1], "udp") && argc > 3 && atoi(argv[3]) > 0 && atoi(argv[3]) <= MAX_BATCH)
		udp(atoi(argv[2]), atoi(argv[3]));
	else if (!strcmp(argv[1], "tcp"))
		tcp(atoi(argv[2]));
	else if (!strcmp(argv[1], "drop"))
		drop(atoi(argv[2]));
	else {
		fprintf(stderr, "unknown mode or batch out of 1..%d: %s\n", MAX_BATCH, argv[1]);
		return 2;
	}
	return 0;
}
