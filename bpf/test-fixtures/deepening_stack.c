/* Stack-depth workload: for SHALLOW seconds a thread spins and sleeps in turn a couple of
 * frames below main, then recurses until DEPTH bytes of stack are in use and does the same from
 * there until SECS seconds have passed. Each round moves sp by a multiple of 16 bytes (alloca), so
 * that off-CPU switch-outs are new snapshots, not reused ones. Waits for a line on stdin first;
 * prints deep_at_ns (CLOCK_MONOTONIC) when it starts the deep phase. A thread, not main: main's
 * stack ends a few KiB above sp (environment, auxv), where every copy is cut anyway.
 * Usage: deepening_stack SECS SHALLOW DEPTH. Build: gcc -O2 -fomit-frame-pointer -g */
#include <alloca.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

volatile unsigned long sink;

__attribute__((noinline)) void spin_then_sleep(unsigned i)
{
	volatile char *pad = alloca(16 + (i % 64) * 16);
	pad[0] = 0;
	for (unsigned long k = 0; k < 400000; k++)
		sink += k ^ (sink >> 3);
	usleep(300);
}

__attribute__((noinline)) void rounds(double until)
{
	for (unsigned i = 0; now() < until; i++)
		spin_then_sleep(i);
}

/* Each level holds a 512-byte frame; the call is not a tail call (the buffer is used after it). */
__attribute__((noinline)) void deep(int levels, double until)
{
	volatile char buf[512];
	buf[0] = (char)levels;
	if (levels > 0)
		deep(levels - 1, until);
	else
		rounds(until);
	sink += buf[0] + buf[511];
}

static double secs, shallow;
static int depth;

static void *run(void *arg)
{
	(void)arg;
	double t0 = now();
	rounds(t0 + shallow);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("deep_at_ns=%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fflush(stdout);
	deep(depth / 528, t0 + secs);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	secs = atof(argv[1]);
	shallow = atof(argv[2]);
	depth = atoi(argv[3]);
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return 1;
	pthread_t t;
	if (pthread_create(&t, 0, run, 0) || pthread_join(t, 0))
		return 1;
	return 0;
}
