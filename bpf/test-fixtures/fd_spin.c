/* A server-like target for off-CPU under preemption: THREADS threads write 64 bytes at a time
 * through libc's write() to FDS descriptors of /dev/null in turn, for SECS seconds. They never
 * block; they switch out only when preempted (on a busy machine, thousands of times per second),
 * at a few places (the loop, the libc wrapper, the syscall path) whose stack frames hold a
 * different descriptor and buffer each time, as a server's workers hold a different connection.
 * Waits for a line on stdin. Usage: fd_spin SECS [THREADS [FDS]]. Build: gcc -O2 -pthread */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double secs = 10;
static int nfds = 64;
static int fds[1024];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void serve(int fd, char *buf)
{
	if (write(fd, buf, 64) != 64)
		abort();
}

static void *worker(void *arg)
{
	(void)arg;
	char bufs[8][64] = { { 0 } };
	double end = now() + secs;
	for (unsigned long i = 0;; i++) {
		if ((i & 1023) == 0 && now() >= end)
			break;
		serve(fds[i % nfds], bufs[i % 8]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		secs = atof(argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	if (argc > 3)
		nfds = atoi(argv[3]);
	if (threads < 1 || threads > 64)
		threads = 1;
	if (nfds < 1 || nfds > 1024)
		nfds = 64;
	for (int i = 0; i < nfds; i++)
		if ((fds[i] = open("/dev/null", O_WRONLY)) < 0)
			return 3;
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	pthread_t tids[64];
	for (int i = 1; i < threads; i++)
		pthread_create(&tids[i], 0, worker, 0);
	worker(0);
	for (int i = 1; i < threads; i++)
		pthread_join(tids[i], 0);
	return 0;
}
