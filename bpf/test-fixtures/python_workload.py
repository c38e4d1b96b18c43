"""Python test workload for the frame walk in the kernel (progs/core/python.h).

Usage: python3 python_workload.py cpu SECS [N] | sleep SECS
Waits for a line on stdin, then for SECS seconds:
  cpu:   calls hot_a(3 * N) and hot_b(N) in turn (same loop body, so CPU time 3:1), each through
         run_round(); prints the thread CPU time spent in each (hot_a_ns=, hot_b_ns=, cpu_ns=).
  sleep: nap() sleeps 20 ms at a time; prints the time spent asleep in it (nap_ns=).
Segments are long (N = 1M iterations: ~100 ms for hot_b) so that periodic sampling counts them
with at most one sample of error per segment boundary.
"""

import sys
import time


def hot_a(n):
    s = 0
    for i in range(n):
        s = (s + (i ^ (s >> 3))) & 0xFFFFFF
    return s


def hot_b(n):
    s = 0
    for i in range(n):
        s = (s + (i ^ (s >> 3))) & 0xFFFFFF
    return s


class Worker:
    def __init__(self, n):
        self.n = n
        self.a_ns = 0
        self.b_ns = 0

    def run_round(self):
        t0 = time.thread_time_ns()
        hot_a(3 * self.n)
        t1 = time.thread_time_ns()
        hot_b(self.n)
        t2 = time.thread_time_ns()
        self.a_ns += t1 - t0
        self.b_ns += t2 - t1


def nap(until):
    slept = 0
    while time.monotonic() < until:
        t0 = time.monotonic_ns()
        time.sleep(0.02)
        slept += time.monotonic_ns() - t0
    return slept


def main():
    mode, secs = sys.argv[1], float(sys.argv[2])
    sys.stdin.readline()
    until = time.monotonic() + secs
    if mode == "cpu":
        w = Worker(int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000)
        while time.monotonic() < until:
            w.run_round()
        print(f"hot_a_ns={w.a_ns} hot_b_ns={w.b_ns} cpu_ns={time.process_time_ns()}", flush=True)
    else:
        print(f"nap_ns={nap(until)}", flush=True)


if __name__ == "__main__":
    main()
