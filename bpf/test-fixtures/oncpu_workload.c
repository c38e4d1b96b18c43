/* On-CPU test workload: hot_a and hot_b burn CPU in a 3:1 ratio of iterations (identical loop
 * bodies); sys_part makes write(2) calls to /dev/null. Waits for a line on stdin, then loops
 * for argv[1] seconds in THREADS threads. Usage: oncpu_workload SECS [N [WRITES [THREADS]]].
 * The segments are long (default N = 120M iterations: ~100 ms for hot_b, ~300 ms for hot_a,
 * ~11 and ~33 sampling periods of 9 ms) and rounds always complete, so periodic sampling counts
 * them with an error of at most one sample per segment boundary instead of the ~sqrt(samples)
 * error of short, randomly phased segments (or the aliasing of segments near one period).
 * Prints its CPU time at exit.
 * Build: gcc -O1 -fno-omit-frame-pointer -g -pthread */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Results go to per-thread stack variables: a shared global would bounce its cache line
 * between the threads and make the loops' speed depend on what the other thread is doing. */
unsigned long sink;

__attribute__((noinline)) void hot_a(unsigned long n)
{
	volatile unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += i ^ (s >> 3);
	__atomic_fetch_add(&sink, s, __ATOMIC_RELAXED);
}

__attribute__((noinline)) void hot_b(unsigned long n)
{
	volatile unsigned long s = 0;
	for (unsigned long i = 0; i < n; i++)
		s += i ^ (s >> 3);
	__atomic_fetch_add(&sink, s, __ATOMIC_RELAXED);
}

/* write(2) issued inline so the user-mode ip is inside sys_part itself (libc has no frame
 * pointers, so a libc wrapper would hide its caller from a frame-pointer unwinder). */
static inline __attribute__((always_inline)) long raw_write(int fd, const void *buf, unsigned long n)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(1L), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
	return ret;
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

static double secs = 3.0;
static unsigned long n = 120000000;
static int writes = 400000;
static int fd;

static long long thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct stats {
	unsigned long rounds;
	long long a_ns, b_ns; /* thread CPU time spent in hot_a / hot_b */
};

static void *worker(void *arg)
{
	struct stats *st = arg;
	double end = now() + secs;
	while (now() < end) {
		long long t0 = thread_cpu_ns();
		hot_a(3 * n);
		long long t1 = thread_cpu_ns();
		hot_b(n);
		long long t2 = thread_cpu_ns();
		sys_part(fd, writes);
		st->a_ns += t1 - t0;
		st->b_ns += t2 - t1;
		st->rounds++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		secs = atof(argv[1]);
	if (argc > 2)
		n = strtoul(argv[2], 0, 10);
	if (argc > 3)
		writes = atoi(argv[3]);
	int threads = argc > 4 ? atoi(argv[4]) : 2;
	if (threads < 1 || threads > 64)
		threads = 1;
	fd = open("/dev/null", O_WRONLY);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	pthread_t tids[64];
	static struct stats st[64];
	for (int i = 1; i < threads; i++)
		pthread_create(&tids[i], 0, worker, &st[i]);
	worker(&st[0]);
	struct stats total = st[0];
	for (int i = 1; i < threads; i++) {
		pthread_join(tids[i], 0);
		total.rounds += st[i].rounds;
		total.a_ns += st[i].a_ns;
		total.b_ns += st[i].b_ns;
	}
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	printf("rounds=%lu cpu_ns=%lld hot_a_ns=%lld hot_b_ns=%lld\n", total.rounds,
	       cpu.tv_sec * 1000000000LL + cpu.tv_nsec, total.a_ns, total.b_ns);
	return 0;
}
