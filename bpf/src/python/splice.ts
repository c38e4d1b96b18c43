// Puts a sample's Python frames in its native stack: each call of the eval loop
// (_PyEval_EvalFrameDefault) runs the Python frames from one entry frame inwards, so the k-th
// eval-loop frame from the leaf stands for the k-th group of Python frames from the innermost.
import { pythonFrameName, type PythonFrame } from './codes.js';

/** Native frames that run Python code (one per eval-loop call; `.cold`: its out-of-line part). */
const EVAL_FRAME = /^_PyEval_EvalFrameDefault(\.cold)?$/;

/** Python frames split per eval-loop call, innermost call first. */
function groups(python: readonly PythonFrame[]): PythonFrame[][] {
  const out: PythonFrame[][] = [];
  let cur: PythonFrame[] = [];
  for (const f of python) {
    cur.push(f);
    if (f.entry) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur); // the walk stopped inside a call (depth cap)
  return out;
}

/**
 * The stack `native` (names, leaf first) with each eval-loop frame replaced by its Python frames
 * ("qualname (file:line)", innermost first). Python frames beyond the native stack's eval-loop
 * frames (the native walk stopped short) go at its outer end, in order.
 */
export function splicePythonFrames(native: readonly string[], python: readonly PythonFrame[]): string[] {
  if (python.length === 0) return [...native];
  const calls = groups(python);
  const out: string[] = [];
  let next = 0;
  for (const name of native) {
    if (EVAL_FRAME.test(name) && next < calls.length) for (const f of calls[next++]!) out.push(pythonFrameName(f));
    else out.push(name);
  }
  while (next < calls.length) for (const f of calls[next++]!) out.push(pythonFrameName(f));
  return out;
}
