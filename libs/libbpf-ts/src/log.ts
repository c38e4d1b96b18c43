// Routing of libbpf's own log output. libbpf calls our print callback synchronously; the addon
// buffers the lines and every wrapped call hands them to the current logger afterwards.
import { native } from './native.js';
import { toBpfError } from './errors.js';

export type LibbpfLogLevel = 'warn' | 'info' | 'debug';
export type LibbpfLogger = (level: LibbpfLogLevel, text: string) => void;

const LEVELS: LibbpfLogLevel[] = ['warn', 'info', 'debug'];

/** Default: warnings to stderr. */
export const stderrLogger: LibbpfLogger = (level, text) => {
  process.stderr.write(`libbpf ${level}: ${text.endsWith('\n') ? text : text + '\n'}`);
};

let logger: LibbpfLogger | null = stderrLogger;
let captureLevel: LibbpfLogLevel = 'warn';

/** Sets the logger that receives libbpf output (null silences it). */
export function setLibbpfLogger(fn: LibbpfLogger | null): void {
  logger = fn;
}

/** The most verbose level captured from libbpf ('warn' by default). */
export function setLibbpfLogLevel(level: LibbpfLogLevel): void {
  captureLevel = level;
  native().setLogLevel(LEVELS.indexOf(level));
}

export function getLibbpfLogLevel(): LibbpfLogLevel {
  return captureLevel;
}

const NONE: Array<{ level: LibbpfLogLevel; text: string }> = [];

function drain(): Array<{ level: LibbpfLogLevel; text: string }> {
  const raw = native().takeLog();
  // Hot path (a ring buffer poll): almost always nothing was logged.
  if (raw.length === 0) return NONE;
  return raw.map((e) => ({ level: LEVELS[e.level] ?? 'debug', text: e.text }));
}

/**
 * Runs one native call: the captured libbpf log goes to `log` (per-object) or the global logger;
 * a native failure becomes a BpfError carrying that log (the verifier log for loads).
 */
export function call<T>(op: string, fn: () => T, objLogger?: LibbpfLogger | null): T {
  let result: T;
  try {
    result = fn();
  } catch (e) {
    const entries = drain();
    emit(entries, objLogger);
    throw toBpfError(e, entries.map((x) => x.text).join(''), op);
  }
  emit(drain(), objLogger);
  return result;
}

function emit(entries: Array<{ level: LibbpfLogLevel; text: string }>, objLogger?: LibbpfLogger | null): void {
  if (entries.length === 0) return;
  const target = objLogger === undefined ? logger : objLogger;
  if (!target) return;
  for (const e of entries) target(e.level, e.text);
}
