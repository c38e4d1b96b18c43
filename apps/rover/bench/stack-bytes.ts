/**
 * Bytes of user stack per snapshot with and without per-process sizing (`npm run bench:stack-bytes
 * -w @swlite/rover`, root, ~30 s): nginx (master + 2 workers) under wrk, watched for SECONDS by two
 * dwarf samplers at once, one with sizing and one without (the same switch-outs and samples for
 * both), OFF_CPU then ON_CPU. Prints per sampler the snapshots and bytes through the ring, bytes
 * per snapshot, the switches or samples delivered and lost with the ring full, how the walks
 * ended, and the copy sizes the nginx processes got.
 */
import { Symbolizer } from '@swlite/symbolizer';
import { runWrk, startNginx } from '@swlite/testkit';
import { SnapshotOffCpuSampler, SnapshotOnCpuSampler } from '../src/profiling/unwind/snapshot-samplers';

const SECONDS = Number(process.env.STACK_BYTES_SECONDS ?? 10);

const main = async () => {
  const nginx = await startNginx({ workers: 2 });
  const wrk = runWrk(nginx.port, 2 * SECONDS + 6, 32);
  try {
    for (const kind of ['OFF_CPU', 'ON_CPU'] as const) {
      const make = (sized: boolean) => {
        const opts = sized ? {} : { stackSizing: false as const };
        return kind === 'OFF_CPU'
          ? new SnapshotOffCpuSampler(new Symbolizer(), opts)
          : new SnapshotOnCpuSampler(new Symbolizer(), 9_000_000, opts);
      };
      const runs = [make(true), make(false)].map((sampler) => ({ sampler, delivered: 0, ringFull: 0 }));
      for (const r of runs) r.sampler.start(nginx.pids());
      const take = (r: (typeof runs)[number], d: ReturnType<(typeof runs)[number]['sampler']['drain']>) => {
        r.delivered += d.stacks.reduce((n, s) => n + s.count, 0);
        r.ringFull += d.lost.ringBufferFull;
      };
      for (let i = 0; i < SECONDS; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        for (const r of runs) take(r, r.sampler.drain());
      }
      for (const r of runs) {
        const { records, bytes } = r.sampler.consumed;
        const z = r.sampler.sizer;
        const sizes = z ? nginx.pids().map((p) => z.bytesOf(p)) : [];
        const ends = z ? `${JSON.stringify(z.ends)}, ${z.resized} resized, ${z.regrown} regrown` : '-';
        take(r, r.sampler.stop());
        console.log(
          `${kind} ${z ? 'sized  ' : 'unsized'}: ${records} snapshots, ${(bytes / 2 ** 20).toFixed(1)} MiB, ` +
            `${Math.round(bytes / Math.max(1, records))} B/snapshot; delivered ${r.delivered}, ring full ${r.ringFull}; ` +
            `walks ${ends}; copy sizes ${sizes.join(', ') || '-'}`,
        );
      }
    }
  } finally {
    await nginx.stop();
    await wrk.catch(() => undefined);
  }
};

void main();
