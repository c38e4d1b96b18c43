/**
 * nginx as the reverse proxy in front of the Node backend, and its access log: per request the
 * time it ended, the status, the bytes of the request as received and of the response as sent,
 * its own time and the upstream's response time and the user agent (which client sent it). It listens
 * for plain HTTP and, when given a certificate, for TLS on a second port.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProxyTls {
  port: number;
  certPath: string;
  keyPath: string;
}

const LOG_FORMAT =
  '$msec $status $request_length $bytes_sent $request_time $upstream_response_time "$http_user_agent" $request_uri';

/** `master_process off`: one process, named by its config file (`swlite-nete2e-proxy.conf`). */
export const reverseProxyConfig = (
  dir: string,
  port: number,
  backendPort: number,
  tls?: ProxyTls,
): string => `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'proxy.pid')};
error_log ${join(dir, 'proxy.error.log')} warn;
events { worker_connections 1024; }
http {
  log_format nete2e '${LOG_FORMAT}';
  access_log ${accessLogPath(dir)} nete2e;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, 'tmp', t)};`).join('\n')}
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
${tls ? `    listen 127.0.0.1:${tls.port} ssl;\n    ssl_certificate ${tls.certPath};\n    ssl_certificate_key ${tls.keyPath};\n` : ''}    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;

export const accessLogPath = (dir: string): string => join(dir, 'proxy.access.log');

export interface AccessLogLine {
  endMs: number;
  status: number;
  requestBytes: number;
  responseBytes: number;
  /** ms, from the first byte read to the last byte sent (nginx's ms clock). */
  requestMs: number;
  /** ms; null when nginx did not reach the upstream. */
  upstreamMs: number | null;
  userAgent: string;
  uri: string;
}

export const readAccessLog = (dir: string): AccessLogLine[] =>
  readFileSync(accessLogPath(dir), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S+) (\d+) (\d+) (\d+) (\S+) (\S+) "([^"]*)" (\S+)$/.exec(line);
      if (!m) throw new Error(`unexpected access log line: ${line}`);
      return {
        endMs: Math.round(Number(m[1]) * 1000),
        status: Number(m[2]),
        requestBytes: Number(m[3]),
        responseBytes: Number(m[4]),
        requestMs: Number(m[5]) * 1000,
        upstreamMs: m[6] === '-' ? null : Number(m[6]) * 1000,
        userAgent: m[7]!,
        uri: m[8]!,
      };
    });

/**
 * wrk's Lua script: no request before the epoch second given as its argument (so wrk can be
 * running, and known to rover, before the task starts), then one request per `intervalMs`. Each
 * thread has its own Lua state: give it one connection per thread.
 */
export const gatedWrkScript = (intervalMs: number): string => `
local gate = 0
local started = false
function init(args) gate = tonumber(args[1]) end
function delay()
  if not started then
    started = true
    local wait = (gate - os.time()) * 1000
    if wait > 0 then return wait end
  end
  return ${intervalMs}
end
`;
