// The pure parts of Python frame reading against CPython itself: the location table decoder
// against the interpreter's own co_lines(), the per-version layout table against the DWARF of
// the interpreters found here (gdb), the splice of Python frames into native stacks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lineAt } from './linetable.js';
import { splicePythonFrames } from './splice.js';
import { PYTHON_LAYOUTS, layoutFor } from './versions.js';
import { PY_NO_OFFSET, type PyOffsets } from './layout.js';
import type { PythonFrame } from './codes.js';

const PYTHON = '/usr/bin/python3';
const ci = process.env.CI === 'true';
const noPython = existsSync(PYTHON) ? false : `${PYTHON} is not installed (tools/setup.sh installs it)`;

describe('location table (co_linetable)', { skip: !ci && noPython }, () => {
  it('gives the line CPython gives for every instruction of real code objects', () => {
    // Every code object of a stdlib module and of this program: its table, first line and
    // co_lines() ranges (byte offsets, line or None).
    const script = `
import json, types, inspect, email.message as m
def walk(co):
    yield co
    for c in co.co_consts:
        if isinstance(c, types.CodeType): yield from walk(c)
out = []
for co in walk(compile(inspect.getsource(m), m.__file__, 'exec')):
    out.append([co.co_linetable.hex(), co.co_firstlineno, [[s, e, l] for s, e, l in co.co_lines()]])
print(json.dumps(out))`;
    const codes = JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 })) as [
      string,
      number,
      [number, number, number | null][],
    ][];
    let checked = 0;
    for (const [hex, first, ranges] of codes) {
      const table = Buffer.from(hex, 'hex');
      for (const [start, end, line] of ranges) {
        for (let off = start; off < end; off += 2) {
          assert.equal(lineAt(table, first, off), line ?? undefined, `offset ${off} of a code object at line ${first}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 1000, `only ${checked} instructions checked`);
  });

  it('says nothing for offsets past a table cut short', () => {
    assert.equal(lineAt(Buffer.alloc(0), 10, 0), undefined);
  });
});

/** struct member offsets from gdb over a binary with DWARF (or its debug file). */
function dwarfOffsets(binary: string, version: string): Partial<PyOffsets> {
  const v3_13 = version === '3.13';
  const exprs: Array<[keyof PyOffsets, string]> = [
    ['runtimeInterpretersHead', '&((_PyRuntimeState*)0)->interpreters.head'],
    ['interpNext', '&((PyInterpreterState*)0)->next'],
    ['interpThreadsHead', '&((PyInterpreterState*)0)->threads.head'],
    ['tstateNext', '&((PyThreadState*)0)->next'],
    ['tstateNativeThreadId', '&((PyThreadState*)0)->native_thread_id'],
    ['tstateFrame', v3_13 ? '&((PyThreadState*)0)->current_frame' : '&((PyThreadState*)0)->cframe'],
    [
      'frameCode',
      v3_13 ? '&((struct _PyInterpreterFrame*)0)->f_executable' : '&((struct _PyInterpreterFrame*)0)->f_code',
    ],
    ['framePrevious', '&((struct _PyInterpreterFrame*)0)->previous'],
    [
      'frameInstr',
      v3_13 ? '&((struct _PyInterpreterFrame*)0)->instr_ptr' : '&((struct _PyInterpreterFrame*)0)->prev_instr',
    ],
    ['frameOwner', '&((struct _PyInterpreterFrame*)0)->owner'],
    ['objectType', '&((PyObject*)0)->ob_type'],
    ['codeFirstlineno', '&((PyCodeObject*)0)->co_firstlineno'],
    ['codeFilename', '&((PyCodeObject*)0)->co_filename'],
    ['codeQualname', '&((PyCodeObject*)0)->co_qualname'],
    ['codeLinetable', '&((PyCodeObject*)0)->co_linetable'],
    ['codeBytecode', '&((PyCodeObject*)0)->co_code_adaptive'],
    ['unicodeLength', '&((PyASCIIObject*)0)->length'],
    ['unicodeState', '&((PyASCIIObject*)0)->state'],
    ['unicodeAsciiData', 'sizeof(PyASCIIObject)'],
    ['unicodeCompactData', 'sizeof(PyCompactUnicodeObject)'],
    ['bytesSize', '&((PyVarObject*)0)->ob_size'],
    ['bytesData', '&((PyBytesObject*)0)->ob_sval'],
  ];
  if (version === '3.11') exprs.push(['frameEntry', '&((struct _PyInterpreterFrame*)0)->is_entry']);
  if (!v3_13) exprs.push(['cframeCurrentFrame', '&((struct _PyCFrame*)0)->current_frame']);
  const args = ['-batch', '-nx', '-iex', 'set auto-load off'];
  for (const [, e] of exprs) args.push('-ex', `print (long)(${e})`);
  const r = spawnSync('gdb', [...args, binary], { encoding: 'utf8' });
  const values = [...r.stdout.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
  assert.equal(
    values.length,
    exprs.length,
    `gdb read ${values.length} of ${exprs.length} offsets from ${binary}: ${r.stderr}`,
  );
  return Object.fromEntries(exprs.map(([k], i) => [k, values[i]]));
}

/** Interpreters with DWARF: Debian's (python3.11-dbg's debug file) and CPython builds under pyenv. */
function interpretersWithDwarf(): Array<{ version: string; binary: string }> {
  const found: Array<{ version: string; binary: string }> = [];
  const debian = '/usr/bin/python3.11';
  if (existsSync(debian)) found.push({ version: '3.11', binary: debian });
  const pyenv = `${process.env.HOME ?? '/root'}/.pyenv/versions`;
  for (const v of ['3.11', '3.12', '3.13']) {
    const ls = spawnSync('sh', ['-c', `ls -d ${pyenv}/${v}.* 2>/dev/null | tail -1`], {
      encoding: 'utf8',
    }).stdout.trim();
    const lib = `${ls}/lib/libpython${v}.so.1.0`;
    if (ls && existsSync(lib)) found.push({ version: v, binary: lib });
  }
  return found;
}

describe('per-version layout table', () => {
  const gdb = spawnSync('gdb', ['--version']).status === 0;
  it(
    'agrees with the DWARF of every interpreter with debug info found here',
    { skip: !ci && !gdb && 'gdb is not installed' },
    () => {
      const found = interpretersWithDwarf();
      assert.ok(found.length > 0, 'no interpreter with debug info (tools/setup.sh --tests installs python3-dbg)');
      for (const { version, binary } of found) {
        const hasDebug = spawnSync('gdb', ['-batch', '-nx', '-ex', 'ptype struct _PyInterpreterFrame', binary], {
          encoding: 'utf8',
        });
        if (!/previous/.test(hasDebug.stdout)) {
          assert.ok(!ci, `${binary} has no debug info (python3-dbg)`);
          continue;
        }
        const table = PYTHON_LAYOUTS[version]!;
        const dwarf = dwarfOffsets(binary, version);
        for (const [k, v] of Object.entries(dwarf))
          assert.equal(table[k as keyof PyOffsets], v, `${version} ${k} (${binary})`);
        if (version === '3.13') assert.equal(table.cframeCurrentFrame, PY_NO_OFFSET);
        console.log(`layout ${version} matches the DWARF of ${binary}`);
      }
    },
  );

  it('refuses a version it does not know, by name', () => {
    const r = layoutFor(0x030e00f0);
    assert.ok('refused' in r && r.version === '3.14' && /not in the frame layout table/.test(r.refused));
    assert.ok('offsets' in layoutFor(0x030b02f0));
  });
});

const frame = (name: string, line: number, entry = false): PythonFrame => ({ name, file: '/app/w.py', line, entry });

describe('splicePythonFrames', () => {
  it('puts each eval-loop call its own Python frames, innermost first', () => {
    // main -> run (one eval call) -> C builtin map() -> square (a second eval call).
    const native = [
      'pow',
      '_PyEval_EvalFrameDefault',
      'map_next',
      'list_extend',
      '_PyEval_EvalFrameDefault',
      'Py_RunMain',
      'main',
    ];
    const python = [frame('square', 3, true), frame('run', 7), frame('<module>', 12, true)];
    assert.deepEqual(splicePythonFrames(native, python), [
      'pow',
      'square (/app/w.py:3)',
      'map_next',
      'list_extend',
      'run (/app/w.py:7)',
      '<module> (/app/w.py:12)',
      'Py_RunMain',
      'main',
    ]);
  });

  it('keeps Python frames the native walk did not reach, at the outer end; no Python frames: unchanged', () => {
    const python = [frame('f', 1, true), frame('g', 2, true)];
    assert.deepEqual(splicePythonFrames(['_PyEval_EvalFrameDefault'], python), ['f (/app/w.py:1)', 'g (/app/w.py:2)']);
    assert.deepEqual(splicePythonFrames(['a', '_PyEval_EvalFrameDefault'], []), ['a', '_PyEval_EvalFrameDefault']);
    assert.deepEqual(splicePythonFrames(['x'], [{ name: 'h', file: 'w.py', entry: true }]), ['x', 'h (w.py)']);
  });
});
