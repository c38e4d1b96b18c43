/**
 * Bytes of user stack per snapshot with and without per-process sizing (`npm run bench:stack-bytes
 * -w @swlite/rover`, root, ~1 min): nginx (master + 2 workers) under wrk, the OFF_CPU then the
 * ON_CPU dwarf sampler, each for SECONDS without sizing then SECONDS with (in that order: the first
 * run pays for nginx warming up, in new snapshots). Prints per run
 * the snapshots and bytes through the ring, bytes per snapshot, the switches or samples delivered
 * and lost with the ring full, how the walks ended, and the copy sizes the nginx processes got.
 */
import { Symbolizer } from '@swlite/symbolizer';
import { runWrk, startNginx } from '@swlite/testkit';
import { SnapshotOffCpuSampler, SnapshotOnCpuSampler } from '../src/profiling/unwind/snapshot-samplers';

const SECONDS = Number(process.env.STACK_BYTES_SECONDS ?? 10);

const main = async () => {
  const nginx = await startNginx({ workers: 2 });
  const wrk = runWrk(nginx.port, 4 * (SECONDS + 2) + 4, 32);
  try {
    for (const kind of ['OFF_CPU', 'ON_CPU'] as const)
      for (const sized of [false, true]) {
        const opts = sized ? {} : { stackSizing: false as const };
        const sampler =
          kind === 'OFF_CPU'
            ? new SnapshotOffCpuSampler(new Symbolizer(), opts)
            : new SnapshotOnCpuSampler(new Symbolizer(), 9_000_000, opts);
        sampler.start(nginx.pids());
        let delivered = 0;
        let ringFull = 0;
        for (let i = 0; i < SECONDS; i++) {
          await new Promise((r) => setTimeout(r, 1000));
          const d = sampler.drain();
          delivered += d.stacks.reduce((n, s) => n + s.count, 0);
          ringFull += d.lost.ringBufferFull;
        }
        const { records, bytes } = sampler.consumed;
        const sizes = sampler.sizer ? nginx.pids().map((p) => sampler.sizer!.bytesOf(p)) : [];
        const z = sampler.sizer;
        const ends = z ? `${JSON.stringify(z.ends)}, ${z.resized} resized, ${z.regrown} regrown` : '-';
        const last = sampler.stop();
        delivered += last.stacks.reduce((n, s) => n + s.count, 0);
        ringFull += last.lost.ringBufferFull;
        console.log(
          `${kind} ${sized ? 'sized  ' : 'unsized'}: ${records} snapshots, ${(bytes / 2 ** 20).toFixed(1)} MiB, ` +
            `${Math.round(bytes / Math.max(1, records))} B/snapshot; delivered ${delivered}, ring full ${ringFull}; ` +
            `walks ${ends}; copy sizes ${sizes.join(', ') || '-'}`,
        );
      }
  } finally {
    await nginx.stop();
    await wrk.catch(() => undefined);
  }
};

void main();
