// A NETWORK task end to end: oap-lite (from its build) creates it with createEBPFNetworkProfiling
// for the instance of a Node HTTP server, then of a Node HTTPS server; rover (from source) finds
// the task, runs the target and reports. Between them sits testkit's gRPC relay, which forwards
// every call to oap-lite and keeps the meters, logs and span attached events rover sent, so the
// test asserts on what rover sent whether or not oap-lite analyses rover_net_p_* meters; oap-lite's
// process topology then shows the calls with component http, or https.
import type { MeterData, MeterDataCollection } from '@swlite/protocol';
import { bpfTestSkip } from '@swlite/libbpf-ts/testing';
import {
  graphqlOk,
  makeTestCertificates,
  minuteDuration,
  processNames,
  SkyWalkingRelay,
  startOap,
  startRover,
  waitFor,
  type OapProcess,
  type RoverProcess,
  type TestCertificates,
} from '@swlite/testkit';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';

// argv: the marker rover's finder matches, then for HTTPS the key and certificate files.
const SERVER = `
const [key, cert] = process.argv.slice(2);
const handler = (req, res) => { res.statusCode = req.url.startsWith('/fail') ? 500 : 200; res.end('answer ' + req.url); };
const fs = require('fs');
const s = key ? require('https').createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, handler) : require('http').createServer(handler);
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;
const TOPOLOGY = `query ($id: ID!, $duration: Duration!) {
  getProcessTopology(serviceInstanceId: $id, duration: $duration) { nodes { id name } calls { source target targetComponents } } }`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const SERVICE = 'swlite-net-svc';
const INSTANCE = 'swlite-net-inst';

const nameOf = (m: MeterData): string => (m.singleValue ?? m.histogram)?.name ?? '';
const label = (m: MeterData, name: string): string | undefined =>
  (m.singleValue ?? m.histogram)?.labels?.find((l) => l.name === name)?.value;

for (const scheme of ['http', 'https'] as const)
  describe(`a NETWORK task through oap-lite (${scheme})`, { skip: bpfTestSkip() }, () => {
    let certs: TestCertificates | undefined;
    /** GET over one kept-alive connection; resolves the body. */
    let get: (path: string) => Promise<string>;
    let oap: OapProcess;
    let relay: SkyWalkingRelay;
    let rover: RoverProcess;
    let server: ChildProcess;
    let port = 0;

    before(async () => {
      oap = await startOap();
      relay = new SkyWalkingRelay(oap.grpcAddress);
      const relayAddr = await relay.start();
      if (scheme === 'https') certs = makeTestCertificates();
      const tlsArgs = certs ? [certs.serverKey, certs.serverPem] : [];
      server = spawn(process.execPath, ['-e', SERVER, 'swlite-net-target', ...tlsArgs], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      port = await new Promise<number>((resolve, reject) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          const m = /PORT (\d+)/.exec((out += d.toString()));
          if (m) resolve(Number(m[1]));
        });
        server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
      });
      const agent = certs
        ? new HttpsAgent({
            keepAlive: true,
            maxSockets: 1,
            ca: readFileSync(certs.caPem),
            checkServerIdentity: () => undefined,
          })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 });
      const request = certs ? httpsRequest : httpRequest;
      get = (path) =>
        new Promise((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(body));
          });
          req.on('error', reject);
          req.end();
        });
      rover = await startRover({
        backend: relayAddr,
        matchCmd: 'swlite-net-target',
        fromSource: true,
        env: {
          ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_SERVICE_NAME: SERVICE,
          ROVER_PROCESS_DISCOVERY_REGEX_SCANNER_INSTANCE_NAME: INSTANCE,
        },
      });
    });
    after(async () => {
      await rover?.stop();
      server?.kill();
      if (server && server.exitCode === null && server.signalCode === null) await once(server, 'exit');
      relay?.close();
      await oap?.cleanup();
      certs?.remove();
    });

    it("rover reports the server's rover_net_p_* meters for the requests sent to it", async () => {
      await waitFor(
        'the server reported',
        async () => (await processNames(oap.graphqlUrl, SERVICE)).length > 0,
        30_000,
        rover,
      );
      const created = await graphqlOk(
        oap.graphqlUrl,
        `mutation ($r: EBPFProfilingNetworkTaskRequest!) { createEBPFNetworkProfiling(request: $r) { status errorReason id } }`,
        {
          r: {
            instanceId: `${b64(SERVICE)}.1_${b64(INSTANCE)}`,
            samplings: [
              {
                when5xx: true,
                when4xx: true,
                settings: { requireCompleteRequest: true, requireCompleteResponse: true },
              },
            ],
          },
        },
      );
      assert.equal(created.createEBPFNetworkProfiling.status, true, created.createEBPFNetworkProfiling.errorReason);
      await waitFor('the task started', () => rover.output().includes('profiling task started'), 30_000, rover);
      await new Promise((r) => setTimeout(r, 500));
      let sent = 0;
      const deadline = Date.now() + 3_000;
      while (Date.now() < deadline) {
        const path = sent % 10 === 9 ? '/fail' : '/ok';
        await get(`${path}/${sent}`);
        sent++;
      }
      const requests = (): number =>
        relay
          .of<MeterDataCollection>('MeterReportService', 'collectBatch')
          .flatMap((c) => c.meterData ?? [])
          .filter((m) => nameOf(m) === 'rover_net_p_http1_request_counter' && label(m, 'side') === 'server')
          .reduce((s, m) => s + Number(m.singleValue?.value ?? 0), 0);
      await waitFor(`${sent} server requests metered`, () => requests() >= sent, 15_000, rover);
      const meters = relay
        .of<MeterDataCollection>('MeterReportService', 'collectBatch')
        .flatMap((c) => c.meterData ?? []);
      const status = (code: string) =>
        meters
          .filter((m) => nameOf(m) === 'rover_net_p_http1_response_status_counter' && label(m, 'code') === code)
          .reduce((s, m) => s + Number(m.singleValue?.value ?? 0), 0);
      console.log(
        `NETWORK task (${scheme}): ${sent} requests sent, ${requests()} metered (${status('200')} x 200, ${status('500')} x 500), ${meters.length} meters`,
      );
      assert.equal(requests(), sent);
      assert.equal(status('500'), Math.floor(sent / 10));
      assert.equal(status('200'), sent - Math.floor(sent / 10));
      // A collection names its service and instance on its first meter, as upstream rover sends it.
      for (const c of relay.of<MeterDataCollection>('MeterReportService', 'collectBatch')) {
        assert.deepEqual([c.meterData?.[0]?.service, c.meterData?.[0]?.serviceInstance], [SERVICE, INSTANCE]);
      }
      assert.ok(meters.some((m) => nameOf(m) === 'rover_net_p_server_read_bytes_counter'));
      for (const m of meters) assert.equal(label(m, 'is_ssl'), String(scheme === 'https'), nameOf(m));

      // The calls into the server carry the component oap-lite derives from protocol and is_ssl.
      const t = Date.now();
      const components = async (): Promise<string[]> => {
        const { getProcessTopology: topo } = (await graphqlOk(oap.graphqlUrl, TOPOLOGY, {
          id: `${b64(SERVICE)}.1_${b64(INSTANCE)}`,
          duration: minuteDuration(t - 120_000, Date.now() + 60_000),
        })) as { getProcessTopology: { calls: Array<{ targetComponents: string[] }> } };
        return [...new Set(topo.calls.flatMap((c) => c.targetComponents))];
      };
      await waitFor(
        `a call with component ${scheme}`,
        async () => (await components()).includes(scheme),
        20_000,
        rover,
      );
      assert.deepEqual(await components(), [scheme]);
    });
  });
