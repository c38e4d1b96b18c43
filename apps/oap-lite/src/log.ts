/**
 * oap-lite's logger: pino, with every line bounded and credentials in URLs masked. Messages can
 * carry what a client sent (a name, a query) or a storage address with user-info
 * (`https://user:secret@es:9200`); neither may make a line unbounded or leak a secret.
 */
import { pino, type Logger } from 'pino';
import { maskUrlCredentials } from './query/config-dump';

/** Longest string a log line keeps of one field or message. */
export const MAX_LOG_STRING = 4096;

const clean = (value: string): string => {
  const bounded =
    value.length > MAX_LOG_STRING ? `${value.slice(0, MAX_LOG_STRING)}… (${value.length} characters)` : value;
  return maskUrlCredentials(bounded);
};

const cleanArg = (arg: unknown): unknown => {
  if (typeof arg === 'string') return clean(arg);
  if (arg && typeof arg === 'object' && !(arg instanceof Error) && !Array.isArray(arg)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(arg)) out[k] = typeof v === 'string' ? clean(v) : v;
    return out;
  }
  return arg;
};

export const createLog = (level: string): Logger =>
  pino({
    level,
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map(cleanArg) as Parameters<typeof method>);
      },
    },
  });
