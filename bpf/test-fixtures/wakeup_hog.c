/* CPU hog that preempts others often: THREADS threads each spin for SPIN_US, then sleep for
 * SLEEP_US, for SECS seconds. Every wake-up of a thread that slept preempts whatever runs on its
 * CPU (the scheduler favours the waker that used little CPU), so a spinning process sharing the
 * cores is switched out thousands of times per second, as a busy server's workers are.
 * Waits for a line on stdin. Usage: wakeup_hog SECS [THREADS [SPIN_US [SLEEP_US]]].
 * Build: gcc -O1 -pthread */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double secs = 10;
static long spin_us = 200, sleep_us = 200;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *hog(void *arg)
{
	(void)arg;
	double end = now() + secs;
	struct timespec nap = { 0, sleep_us * 1000 };
	while (now() < end) {
		double stop = now() + spin_us / 1e6;
		while (now() < stop)
			;
		nanosleep(&nap, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		secs = atof(argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : 4;
	if (argc > 3)
		spin_us = atol(argv[3]);
	if (argc > 4)
		sleep_us = atol(argv[4]);
	if (threads < 1 || threads > 64)
		threads = 1;
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	pthread_t tids[64];
	for (int i = 1; i < threads; i++)
		pthread_create(&tids[i], 0, hog, 0);
	hog(0);
	for (int i = 1; i < threads; i++)
		pthread_join(tids[i], 0);
	return 0;
}
