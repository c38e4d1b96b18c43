/* Off-CPU test workload. After a line on stdin: sleep_fn() sleeps `sleeps` x `sleep_ms` with
 * nanosleep(2); then pipe_fn() reads `reads` bytes from a pipe that a forked child feeds every
 * `gap_ms`. Prints the wall time spent in each function (ns). Syscalls are issued inline so
 * the user-mode ip is inside the named function (libc has no frame pointers).
 * Build: gcc -O1 -fno-omit-frame-pointer -g */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline __attribute__((always_inline)) long sys3(long n, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) void sleep_fn(int n, long ms)
{
	for (int i = 0; i < n; i++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		sys3(35 /* nanosleep */, (long)&ts, 0, 0);
	}
}

__attribute__((noinline)) int pipe_fn(int fd, int n)
{
	char c;
	int got = 0;
	for (int i = 0; i < n; i++)
		got += sys3(0 /* read */, fd, (long)&c, 1) == 1;
	return got;
}

int main(int argc, char **argv)
{
	int sleeps = argc > 1 ? atoi(argv[1]) : 20;
	long sleep_ms = argc > 2 ? atol(argv[2]) : 50;
	int reads = argc > 3 ? atoi(argv[3]) : 10;
	long gap_ms = argc > 4 ? atol(argv[4]) : 100;
	char line[16];
	int p[2];
	if (pipe(p))
		return 1;
	if (!fgets(line, sizeof(line), stdin))
		return 2;

	long long t0 = now_ns();
	sleep_fn(sleeps, sleep_ms);
	long long t1 = now_ns();

	pid_t child = fork();
	if (child == 0) {
		close(p[0]);
		for (int i = 0; i < reads; i++) {
			usleep(gap_ms * 1000);
			if (write(p[1], "x", 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	long long t2 = now_ns();
	int got = pipe_fn(p[0], reads);
	long long t3 = now_ns();
	waitpid(child, 0, 0);
	printf("sleep_fn_ns=%lld pipe_fn_ns=%lld reads=%d\n", t1 - t0, t3 - t2, got);
	return 0;
}
