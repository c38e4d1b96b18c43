/** wrk against a loopback URL for a bounded time; the result is parsed from its summary. */
import { spawn } from 'node:child_process';

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
  headers?: Record<string, string>;
}

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  output: string;
}

export const parseWrk = (output: string): WrkResult => {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${output}`);
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  return { requests, requestsPerSec: Number(rps[1]), errors: non2xx + socketErrors, output };
};

export const runWrk = (o: WrkOptions): Promise<WrkResult> => {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(o.url)) throw new Error(`load goes to loopback only, not ${o.url}`);
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--timeout', '5s'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.seconds + 15) * 1000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${out}`));
      try {
        resolve(parseWrk(out));
      } catch (e) {
        reject(e);
      }
    });
  });
};
