/**
 * Serves a built booster-ui (its `dist` folder) and forwards `/graphql`, the one backend path the
 * UI calls, to oap-lite: the same origin layout as the UI's own server, so the UI runs unchanged.
 * Any other path that is not a file answers index.html (the UI routes in the browser).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

/** Paths the UI sends to its backend (booster-ui src/graphql: every call is a POST to /graphql). */
const BACKEND_PATHS = ['/graphql'];

/** The built UI under a booster-ui folder (its `dist/`) or the `dist` folder itself. */
export const uiDist = (dir: string): string => {
  for (const candidate of [join(dir, 'dist'), dir]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  throw new Error(`BOOSTER_UI_DIR=${dir} has no built UI (no index.html in it or in its dist/)`);
};

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

export const startUiServer = async (distDir: string, oapHttpUrl: string): Promise<UiServer> => {
  if (!existsSync(join(distDir, 'index.html'))) {
    throw new Error(`${distDir} has no index.html: build booster-ui first (npx vite build in its folder)`);
  }
  const backend = new URL(oapHttpUrl);
  const root = normalize(distDir + sep);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://ui').pathname);
    if (BACKEND_PATHS.some((p) => path === p || path.startsWith(`${p}/`))) {
      const upstream = httpRequest(
        {
          host: backend.hostname,
          port: backend.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: backend.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`oap-lite unreachable: ${err.message}`);
      });
      req.pipe(upstream);
      return;
    }
    const file = normalize(join(root, path));
    const servable = file.startsWith(root) && existsSync(file) && statSync(file).isFile();
    const target = servable ? file : join(root, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream' });
    createReadStream(target).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
