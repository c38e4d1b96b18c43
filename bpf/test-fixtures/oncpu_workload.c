/* On-CPU test workload: hot_a and hot_b burn CPU in a 3:1 ratio; sys_part makes write(2)
 * calls to /dev/null. Waits for a line on stdin before starting, then runs for argv[1] seconds.
 * Build: gcc -O1 -fno-omit-frame-pointer -g */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink_a, sink_b;

/* write(2) issued inline so the user-mode ip is inside sys_part itself (libc has no frame
 * pointers, so a libc wrapper would hide its caller from a frame-pointer unwinder). */
static inline __attribute__((always_inline)) long raw_write(int fd, const void *buf, unsigned long n)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(1L), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
	return ret;
}

__attribute__((noinline)) void hot_a(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink_a += i ^ (sink_a >> 3);
}

__attribute__((noinline)) void hot_b(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink_b += i ^ (sink_b >> 3);
}

__attribute__((noinline)) void sys_part(int fd, int n)
{
	static char buf[65536];
	for (int i = 0; i < n; i++)
		raw_write(fd, buf, sizeof(buf));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	unsigned long n = argc > 2 ? strtoul(argv[2], 0, 10) : 200000;
	int writes = argc > 3 ? atoi(argv[3]) : 2000;
	int fd = open("/dev/null", O_WRONLY);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	double end = now() + secs;
	unsigned long rounds = 0;
	while (now() < end) {
		hot_a(3 * n);
		hot_b(n);
		sys_part(fd, writes);
		rounds++;
	}
	printf("rounds=%lu\n", rounds);
	return 0;
}
