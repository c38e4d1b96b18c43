// HTTPS through the NETWORK target in the real kernel. First the task's process is a TLS server
// (Debian's nginx on libssl.so.3, then a Node https server on the OpenSSL linked into node) and
// curl (not a target) sends it keep-alive requests over one connection, with an sw8 header, some
// answered 404 or 500; then the task's process is the client (curl; a Node https client; Python,
// whose ssl module loads libssl after the task started, and uses SSL_read_ex/SSL_write_ex). The
// report must count every exchange with its status, label the meters is_ssl=true (the OAP makes
// that component https), and the sampled records must carry the plaintext request and response.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import { freePort, makeTestCertificates, opensslAvailable, type TestCertificates } from '@swlite/testkit';
import { NetworkRun } from './index';
import { meterLabel, meterName, NetworkRecorder } from '../../../testing/network-recorder';

const NGINX = '/usr/sbin/nginx';
const CURL = '/usr/bin/curl';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const SW8 = `1-${b64('tls-trace-1')}-${b64('tls-segment-1')}-0-${['svc', 'inst', '/e', 'peer:1'].map(b64).join('-')}`;
const SAMPLING = JSON.stringify({
  NetworkSamplings: [
    { When4xx: true, When5xx: true, Settings: { RequireCompleteRequest: true, RequireCompleteResponse: true } },
  ],
});

/** What one curl run asked for: the paths in order and the status each must get. */
const PATHS = Array.from({ length: 12 }, (_, i) => (i === 3 ? `/fail/${i}` : i === 7 ? `/missing/${i}` : `/ok/${i}`));
const statusOf = (path: string): number => (path.startsWith('/fail') ? 500 : path.startsWith('/missing') ? 404 : 200);

const nginxConfig = (dir: string, port: number, certs: TestCertificates): string => `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, 'tmp', t)};`).join('\n')}
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.serverPem};
    ssl_certificate_key ${certs.serverKey};
    default_type text/plain;
    location /fail/ { return 500 "tls answer $uri\\n"; }
    location /missing/ { return 404 "tls answer $uri\\n"; }
    location / { return 200 "tls answer $uri\\n"; }
  }
}
`;

const NODE_SERVER = `
const https = require('https');
const fs = require('fs');
const [key, cert] = process.argv.slice(1);
const s = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
  res.statusCode = req.url.startsWith('/fail') ? 500 : req.url.startsWith('/missing') ? 404 : 200;
  res.setHeader('Content-Type', 'text/plain');
  res.end('tls answer ' + req.url + '\\n');
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

const listening = async (port: number, child: ChildProcess): Promise<void> => {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
};

const CURL_ARGS = ['-sk', '--http1.1', '-H', `sw8: ${SW8}`, '-w', '\\nCODE %{http_code} %{num_connects}\\n'];
const urls = (port: number): string[] => PATHS.map((p) => `https://127.0.0.1:${port}${p}`);

/** The statuses and connection count curl printed (one CODE line per transfer). */
const curlResult = (stdout: string): { codes: number[]; connects: number } => {
  const lines = [...stdout.matchAll(/^CODE (\d+) (\d+)$/gm)];
  return { codes: lines.map((m) => Number(m[1])), connects: lines.reduce((s, m) => s + Number(m[2]), 0) };
};

const assertAllAnswered = (got: { codes: number[]; connects: number }): void => {
  assert.deepEqual(got.codes, PATHS.map(statusOf));
  assert.equal(got.connects, 1, 'one kept-alive connection');
};

/** curl (not a target) fetches every path over one kept-alive connection. */
const curlAll = async (port: number): Promise<void> => {
  const { stdout } = await promisify(execFile)(CURL, [...CURL_ARGS, ...urls(port)]);
  assertAllAnswered(curlResult(stdout));
};

/** Runs a task on `pid` while `drive` makes the traffic; returns what it reported, and the run to stop. */
const profile = async (
  pid: number,
  drive: (run: NetworkRun) => Promise<void>,
): Promise<{ recorder: NetworkRecorder; run: NetworkRun }> => {
  const recorder = new NetworkRecorder();
  const proc = { pid, id: 'tls-proc', service: 'svc', instance: 'inst', name: 'tls-process', layer: 'GENERAL' };
  const run = new NetworkRun(
    [pid],
    { reporter: recorder, process: (p) => (p === pid ? proc : undefined) },
    pino({ level: 'silent' }),
    {
      reportIntervalMs: 60_000,
      meterPrefix: 'rover_net_p',
    },
  );
  try {
    run.updateExtensionConfig(SAMPLING);
    await drive(run);
    await new Promise((r) => setTimeout(r, 200));
    await run.report();
  } catch (e) {
    run.stop();
    throw e;
  }
  return { recorder, run };
};

const tagOf = (tags: Array<{ key?: string; value?: string }> | undefined, key: string): string =>
  tags?.find((t) => t.key === key)?.value ?? '';

/** The report holds every exchange of `side`, labelled TLS, and plaintext samples of the 404 and 500. */
const assertHttpsReported = (recorder: NetworkRecorder, side: 'client' | 'server'): void => {
  const labels = { side, [`${side}_process_id`]: 'tls-proc' };
  const requests = recorder.sum('rover_net_p_http1_request_counter', labels);
  const codes = (code: number) =>
    recorder.sum('rover_net_p_http1_response_status_counter', { ...labels, code: String(code) });
  console.log(
    `HTTPS ${side}: ${PATHS.length} requests sent, ${requests} metered (${codes(200)} x 200, ${codes(404)} x 404, ${codes(500)} x 500)`,
  );
  assert.equal(requests, PATHS.length);
  assert.equal(codes(200), PATHS.length - 2);
  assert.equal(codes(404), 1);
  assert.equal(codes(500), 1);
  const meters = recorder.all();
  assert.ok(meters.length > 0);
  for (const m of meters) {
    assert.equal(meterLabel(m, 'is_ssl'), 'true', `${meterName(m)} is_ssl`);
    assert.equal(meterLabel(m, 'protocol'), 'http', `${meterName(m)} protocol`);
  }
  // Layer 4 is the syscalls': the ciphertext, more bytes than the plaintext answers.
  const [out, into] = side === 'server' ? ['write', 'read'] : ['read', 'write'];
  assert.ok(recorder.sum(`rover_net_p_${side}_${out}_bytes_counter`) > PATHS.length * 'tls answer /ok/0\n'.length);
  assert.ok(recorder.sum(`rover_net_p_${side}_${into}_counts_counter`) >= PATHS.length);

  const bodies = recorder.logList.map((l) => JSON.parse(l.body!.json!.json!) as Record<string, unknown>);
  assert.deepEqual(bodies.map((b) => [b.uri, b.reason, b.status, b.component, b.ssl, b.detect_point]).sort(), [
    ['/fail/3', 'status_5xx', 500, 'http', true, side],
    ['/missing/7', 'status_4xx', 404, 'http', true, side],
  ]);
  for (const l of recorder.logList) assert.equal(l.traceContext?.traceId, 'tls-trace-1');
  for (const path of ['/fail/3', '/missing/7']) {
    const of = (event: string) =>
      recorder.eventList
        .filter((e) => e.event === event)
        .map((e) => tagOf(e.tags, 'data_content'))
        .filter((c) => c.includes(path));
    const [request] = of('HTTP Request Sampling');
    const [response] = of('HTTP Response Sampling');
    assert.match(
      request ?? '',
      new RegExp(`^GET ${path} HTTP/1\\.1\\r\\n[\\s\\S]*sw8: ${SW8.replace(/[+/]/g, '\\$&')}\\r\\n`, 'i'),
    );
    assert.match(
      response ?? '',
      new RegExp(`^HTTP/1\\.1 ${statusOf(path)} [\\s\\S]*\\r\\n\\r\\ntls answer ${path}\\n$`),
    );
  }
};

/** Debian's nginx serving PATHS over TLS from a temp directory; stop() also removes it. */
const startNginx = async (
  certs: TestCertificates,
): Promise<{ child: ChildProcess; port: number; stop: () => Promise<void> }> => {
  const dir = mkdtempSync(join(tmpdir(), 'swlite-nginx-tls-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(join(dir, 'tmp', t), { recursive: true });
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, certs));
  const child = spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    child.kill();
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await listening(port, child);
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, port, stop };
};

/** Waits until the process has mapped a file whose path matches `re` (its dynamic loader ran). */
const mapped = async (pid: number, re: RegExp): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!re.test(readFileSync(`/proc/${pid}/maps`, 'utf8'))) {
    if (Date.now() > deadline) throw new Error(`process ${pid} never mapped ${re}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

// A Node https client with a keep-alive agent: on "go <port>" it fetches PATHS in turn and prints
// a CODE line per request as curl's -w does (status, 1 when the request opened a connection).
const NODE_CLIENT = `
const https = require('https');
const [sw8, paths] = [process.argv[1], JSON.parse(process.argv[2])];
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port, path) => new Promise((resolve, reject) => {
  const req = https.get({ host: '127.0.0.1', port, path, agent, rejectUnauthorized: false, headers: { sw8 } }, (res) => {
    res.resume();
    res.on('end', () => resolve('CODE ' + res.statusCode + ' ' + (req.reusedSocket ? 0 : 1)));
  });
  req.on('error', reject);
});
process.stdin.once('data', async (d) => {
  const port = Number(String(d).split(' ')[1]);
  for (const p of paths) console.log(await get(port, p));
  agent.destroy();
});
`;

// Debian's Python, whose ssl module (SSL_read_ex/SSL_write_ex) loads libssl.so.3 only when
// imported: on its first line it imports it and says READY, on the second (a port) it fetches
// PATHS over one http.client connection and prints CODE lines.
const PYTHON = '/usr/bin/python3';
const PY_CLIENT = `
import sys, json
sys.stdin.readline()
import ssl, http.client
print("READY", flush=True)
port = int(sys.stdin.readline())
sw8, paths = sys.argv[1], json.loads(sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context())
sock = None
for p in paths:
    c.request("GET", p, headers={"sw8": sw8})
    r = c.getresponse()
    r.read()
    print("CODE %d %d" % (r.status, 0 if c.sock is sock else 1), flush=True)
    sock = c.sock
c.close()
`;

/** Output of a child that exits 0, or an error with its code. */
const outputOf = (child: ChildProcess): Promise<string> => {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${child.spawnfile} exited ${code}: ${out}`)),
    ),
  );
};

describe('NETWORK target over TLS', { skip: bpfTestSkip() }, () => {
  let certs: TestCertificates;
  before(() => {
    for (const f of [NGINX, CURL]) assert.ok(existsSync(f), `${f} (Debian's nginx-light and curl) is needed`);
    assert.ok(opensslAvailable(), 'the openssl command is needed');
    certs = makeTestCertificates();
  });
  after(() => certs?.remove());

  it("nginx's HTTPS exchanges, through libssl.so.3", async () => {
    const nginx = await startNginx(certs);
    let run: NetworkRun | undefined;
    try {
      const out = await profile(nginx.child.pid!, () => curlAll(nginx.port));
      run = out.run;
      assertHttpsReported(out.recorder, 'server');
      assert.equal(run.drain().lost, 0);
    } finally {
      run?.stop();
      await nginx.stop();
    }
  });

  it("a Node https server's exchanges, through the OpenSSL linked into node", async () => {
    const server = spawn(process.execPath, ['-e', NODE_SERVER, certs.serverKey, certs.serverPem], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let run: NetworkRun | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          const m = /PORT (\d+)/.exec((out += d.toString()));
          if (m) resolve(Number(m[1]));
        });
        server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
      });
      const out = await profile(server.pid!, () => curlAll(port));
      run = out.run;
      assertHttpsReported(out.recorder, 'server');
      assert.equal(run.drain().lost, 0);
    } finally {
      run?.stop();
      server.kill();
      if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    }
  });

  it("curl's HTTPS exchanges, as the client, through libssl.so.3", async () => {
    const nginx = await startNginx(certs);
    // curl reads its URLs from stdin (-K -): the task starts on its pid before it connects.
    const curl = spawn(CURL, [...CURL_ARGS, '-K', '-'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const done = outputOf(curl);
    let run: NetworkRun | undefined;
    try {
      await mapped(curl.pid!, /libssl\.so/);
      const out = await profile(curl.pid!, async () => {
        curl.stdin!.end(
          urls(nginx.port)
            .map((u) => `url = "${u}"\n`)
            .join(''),
        );
        assertAllAnswered(curlResult(await done));
      });
      run = out.run;
      assertHttpsReported(out.recorder, 'client');
    } finally {
      run?.stop();
      curl.kill();
      await nginx.stop();
    }
  });

  it("a Node https client's exchanges, through the OpenSSL linked into node", async () => {
    const nginx = await startNginx(certs);
    const client = spawn(process.execPath, ['-e', NODE_CLIENT, SW8, JSON.stringify(PATHS)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const done = outputOf(client);
    let run: NetworkRun | undefined;
    try {
      await mapped(client.pid!, /\/node\b/);
      const out = await profile(client.pid!, async () => {
        client.stdin!.end(`go ${nginx.port}\n`);
        assertAllAnswered(curlResult(await done));
      });
      run = out.run;
      assertHttpsReported(out.recorder, 'client');
    } finally {
      run?.stop();
      client.kill();
      await nginx.stop();
    }
  });

  it("a Python client's exchanges, through the libssl.so.3 its ssl module loads after the task started", async () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} (Debian's python3) is needed`);
    const nginx = await startNginx(certs);
    const client = spawn(PYTHON, ['-c', PY_CLIENT, SW8, JSON.stringify(PATHS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let ready: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    client.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) ready();
    });
    const done = outputOf(client);
    let run: NetworkRun | undefined;
    try {
      await mapped(client.pid!, /python3/);
      const out = await profile(client.pid!, async (r) => {
        assert.doesNotMatch(readFileSync(`/proc/${client.pid}/maps`, 'utf8'), /libssl/, 'libssl not loaded yet');
        client.stdin!.write('import\n');
        await isReady;
        await r.report(); // a report looks for OpenSSL again: the new libssl is probed
        client.stdin!.end(`${nginx.port}\n`);
        assertAllAnswered(curlResult(await done));
      });
      run = out.run;
      assertHttpsReported(out.recorder, 'client');
    } finally {
      run?.stop();
      client.kill();
      await nginx.stop();
    }
  });
});
