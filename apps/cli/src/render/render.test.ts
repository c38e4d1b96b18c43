/** The renderers on a known tree: exact folded text, SVG frames, pprof read back and by `go tool pprof`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeProfile, profileStacks } from '../testing/pprof-decode';
import { nginxLikeTrees, SMALL_FOLDED, SMALL_TREES } from '../testing/fixtures';
import { hasGo, need } from '../testing/tools';
import { buildFlameGraph, formatValue, hottestFrames, treeToFolded, treeToHtml, treeToPprof, treeToSvg, frameColor } from './index';

const small = () => buildFlameGraph(SMALL_TREES);

describe('buildFlameGraph', () => {
  it('merges the trees under one root with inclusive totals and self values', () => {
    const root = small();
    assert.equal(root.total, 65);
    assert.deepEqual(
      root.children.map((c) => [c.name, c.total]),
      [
        ['main', 45],
        ['start_thread', 20],
      ],
    );
    const worker = root.children[1]!.children[0]!;
    assert.deepEqual([worker.name, worker.total, worker.self], ['worker_loop', 20, 8]);
    const kernel = root.children[0]!.children[0]!.children.find((c) => c.name === 'ngx_process_events')!.children[0]!;
    assert.deepEqual([kernel.name, kernel.kind], ['entry_SYSCALL_64', 'kernel']);
  });

  it('accepts Long values as strings, merges duplicate roots and keeps orphans', () => {
    const root = buildFlameGraph([
      {
        elements: [
          {
            id: '1',
            parentId: '0',
            symbol: 'a',
            stackType: 'USER_SPACE',
            dumpCount: '7',
          },
        ],
      },
      {
        elements: [
          {
            id: '1',
            parentId: '0',
            symbol: 'a',
            stackType: 'USER_SPACE',
            dumpCount: 3,
          },
          {
            id: '2',
            parentId: '1',
            symbol: 'b',
            stackType: 'USER_SPACE',
            dumpCount: 3,
          },
          {
            id: '3',
            parentId: '99',
            symbol: 'lost',
            stackType: 'KERNEL_SPACE',
            dumpCount: 1,
          },
        ],
      },
    ]);
    assert.equal(treeToFolded(root), 'a 7\na;b 3\nlost_[k] 1\n');
    assert.equal(root.total, 11);
  });

  it('is empty for no trees', () => {
    const root = buildFlameGraph([]);
    assert.equal(root.total, 0);
    assert.equal(treeToFolded(root), '');
  });

  it('ranks the hottest frames by self value', () => {
    assert.deepEqual(
      hottestFrames(small(), 2).map((h) => [h.name, h.self, h.total]),
      [
        ['do_syscall_64', 35, 35],
        ['compress', 12, 12],
      ],
    );
  });

  it('formats sample counts and nanoseconds', () => {
    assert.equal(formatValue(1, 'samples'), '1 sample');
    assert.equal(formatValue(12345, 'samples'), '12,345 samples');
    assert.equal(formatValue(3_000_000, 'nanoseconds'), '3.00 ms');
    assert.equal(formatValue(42_000_000_000, 'nanoseconds'), '42.0 s');
  });
});

describe('treeToFolded', () => {
  it('writes Brendan Gregg folded stacks, kernel frames marked _[k]', () => {
    assert.equal(treeToFolded(small()), SMALL_FOLDED);
  });

  it('can leave kernel frames unmarked and keeps separators out of names', () => {
    const root = buildFlameGraph([
      {
        elements: [
          {
            id: '1',
            parentId: '0',
            symbol: 'std::map<a;b>::find\n',
            stackType: 'KERNEL_SPACE',
            dumpCount: 2,
          },
        ],
      },
    ]);
    assert.equal(treeToFolded(root, { annotateKernel: false }), 'std::map<a:b>::find 2\n');
  });
});

describe('treeToSvg', () => {
  it('draws every frame with its tooltip, kernel and user coloured apart', () => {
    const svg = treeToSvg(small(), {
      title: 'demo <on-CPU>',
      subtitle: 'task 1',
    });
    assert.match(svg, /^<\?xml/);
    assert.match(svg, /<svg [^>]*width="1200"/);
    assert.match(svg, /demo &lt;on-CPU&gt;/);
    for (const name of [
      'main',
      'ngx_worker_process_cycle',
      'ngx_process_events',
      'ngx_http_log_handler',
      'entry_SYSCALL_64',
      'do_syscall_64',
      'start_thread',
      'worker_loop',
      'compress',
    ]) {
      assert.match(svg, new RegExp(`<title>${name} \\((user|kernel), `), name);
    }
    assert.match(svg, /<title>do_syscall_64 \(kernel, 35 samples, 53\.85%\)<\/title>/);
    assert.match(svg, /<title>all \(65 samples, 100%\)<\/title>/);
    assert.equal((svg.match(/<g class="frame"/g) ?? []).length, 10);
    assert.equal((svg.match(/data-kind="kernel"/g) ?? []).length, 2);
    assert.ok(svg.includes(`fill="${frameColor('do_syscall_64', 'kernel')}"`));
    assert.ok(svg.includes(`fill="${frameColor('main', 'user')}"`));
    assert.notEqual(frameColor('x', 'kernel'), frameColor('x', 'user'));
    // The root spans the drawing width; main is 45/65 of it.
    const width = (name: string) => Number(new RegExp(`<title>${name} [^<]*</title><rect [^>]*width="([\\d.]+)"`).exec(svg)![1]);
    assert.equal(width('all'), 1180);
    assert.ok(Math.abs(width('main') - (1180 * 45) / 65) < 0.01);
    assert.doesNotMatch(svg, /<script|href=/);
  });

  it('leaves out frames too narrow to see', () => {
    const root = buildFlameGraph([
      {
        elements: [
          {
            id: '1',
            parentId: '0',
            symbol: 'big',
            stackType: 'USER_SPACE',
            dumpCount: 1_000_000,
          },
          {
            id: '2',
            parentId: '1',
            symbol: 'tiny',
            stackType: 'USER_SPACE',
            dumpCount: 1,
          },
        ],
      },
    ]);
    assert.doesNotMatch(treeToSvg(root), /tiny/);
  });
});

describe('treeToHtml', () => {
  it('is one self-contained page with the data inline', () => {
    const html = treeToHtml(
      buildFlameGraph([
        ...SMALL_TREES,
        {
          elements: [
            {
              id: '1',
              parentId: '0',
              symbol: '</script><b>',
              stackType: 'USER_SPACE',
              dumpCount: 1,
            },
          ],
        },
      ]),
      {
        title: 'demo',
      },
    );
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//);
    assert.doesNotMatch(html, /@import|url\(/);
    assert.equal((html.match(/<\/script>/g) ?? []).length, 2, 'a symbol cannot close the data script');
    const data = JSON.parse(/<script id="flame-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
    assert.ok(data.names.includes('do_syscall_64'));
    assert.ok(data.names.includes('</script><b>'));
    assert.equal(data.tree[2], 66);
  });
});

describe('treeToPprof', () => {
  it('encodes samples, locations and functions that read back to the same stacks', () => {
    const start = Date.UTC(2026, 10, 27, 12, 0, 0);
    const profile = decodeProfile(
      treeToPprof(small(), {
        startTimeMs: start,
        durationMs: 60_000,
        binaryName: 'nginx',
        comments: ['task x'],
      }),
    );
    assert.deepEqual(profile.sampleType, [{ type: 'samples', unit: 'count' }]);
    assert.equal(profile.strings[0], '');
    assert.deepEqual(Object.fromEntries(profileStacks(profile)), {
      'main;ngx_worker_process_cycle;ngx_http_log_handler': 10,
      'main;ngx_worker_process_cycle;ngx_process_events;entry_SYSCALL_64;do_syscall_64': 35,
      'start_thread;worker_loop': 8,
      'start_thread;worker_loop;compress': 12,
    });
    assert.equal(profile.functions.size, 9);
    const kernelFn = [...profile.functions.values()].find((f) => f.name === 'do_syscall_64')!;
    assert.equal(kernelFn.filename, '[kernel.kallsyms]');
    assert.deepEqual(
      profile.mappings.map((m) => [m.filename, m.hasFunctions]),
      [
        ['nginx', true],
        ['[kernel.kallsyms]', true],
      ],
    );
    assert.ok(Math.abs(profile.timeNanos - start * 1e6) < 1e3);
    assert.equal(profile.durationNanos, 60e9);
    assert.deepEqual(profile.comments, ['task x']);
  });

  it('names the off-CPU value type for DURATION', () => {
    const profile = decodeProfile(treeToPprof(small(), { unit: 'nanoseconds' }));
    assert.deepEqual(profile.sampleType, [{ type: 'off-cpu', unit: 'nanoseconds' }]);
  });

  it('is read by go tool pprof with the right flat and cumulative counts', (t) => {
    if (!need(t, hasGo(), 'go')) return;
    const dir = mkdtempSync(join(tmpdir(), 'swlite-pprof-'));
    try {
      const file = join(dir, 'profile.pb.gz');
      writeFileSync(file, treeToPprof(small(), { binaryName: 'demo' }));
      // go tool pprof is built on first use: keep Go's cache (a stable one where HOME is unset).
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PPROF_TMPDIR: dir,
        GOTOOLCHAIN: 'local',
      };
      if (!env.GOCACHE && !env.HOME) env.GOCACHE = join(tmpdir(), 'swlite-go-cache');
      const run = spawnSync('go', ['tool', 'pprof', '-top', '-nodecount=100', file], { encoding: 'utf8', env, timeout: 120_000 });
      assert.equal(run.status, 0, run.stderr);
      const rows = new Map<string, { flat: number; cum: number }>();
      for (const line of run.stdout.split('\n')) {
        const m = /^\s*(\d+)\s+[\d.]+%\s+[\d.]+%\s+(\d+)\s+[\d.]+%\s+(\S+)\s*$/.exec(line);
        if (m) rows.set(m[3]!, { flat: Number(m[1]), cum: Number(m[2]) });
      }
      assert.match(run.stdout, /Type: samples/);
      assert.match(run.stdout, /of 65 total/);
      assert.deepEqual(Object.fromEntries(rows), {
        do_syscall_64: { flat: 35, cum: 35 },
        compress: { flat: 12, cum: 12 },
        ngx_http_log_handler: { flat: 10, cum: 10 },
        worker_loop: { flat: 8, cum: 20 },
        entry_SYSCALL_64: { flat: 0, cum: 35 },
        main: { flat: 0, cum: 45 },
        ngx_process_events: { flat: 0, cum: 35 },
        ngx_worker_process_cycle: { flat: 0, cum: 45 },
        start_thread: { flat: 0, cum: 20 },
      });
      // A bigger profile: pprof's total equals the flame graph's.
      const big = buildFlameGraph(nginxLikeTrees());
      writeFileSync(file, treeToPprof(big));
      const bigRun = spawnSync('go', ['tool', 'pprof', '-top', file], {
        encoding: 'utf8',
        env,
        timeout: 120_000,
      });
      assert.equal(bigRun.status, 0, bigRun.stderr);
      assert.match(bigRun.stdout, new RegExp(`of ${big.total} total`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
