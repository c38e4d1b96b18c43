/**
 * A gRPC relay between rover and oap-lite: it forwards every call of the services rover uses to
 * the backend unchanged and keeps what the report services carried, so a test or bench can look
 * at what rover sent whether or not oap-lite analyses it.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';

const SERVICES = [
  'EBPFProcessService',
  'EBPFProfilingService',
  'ContinuousProfilingService',
  'MeterReportService',
  'LogReportService',
  'SpanAttachedEventReportService',
] as const;

interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (b: Buffer) => unknown;
}

/** Forwards rover's calls to `upstream` byte for byte; keeps what the report services carried. */
export class SkyWalkingRelay {
  readonly server = new grpc.Server();
  readonly received = new Map<string, unknown[]>();
  readonly #client: grpc.Client;
  port = 0;

  constructor(upstream: string) {
    this.#client = new grpc.Client(upstream, grpc.credentials.createInsecure());
    const pkg = loadSkyWalkingGrpc().skywalking.v3 as unknown as Record<string, { service: Record<string, MethodDef> }>;
    const raw = (b: Buffer): Buffer => b;
    for (const name of SERVICES) {
      for (const def of Object.values(pkg[name]!.service)) {
        if (def.responseStream) continue; // rover makes no server-streaming calls
        const keep = (b: Buffer): void => {
          const list = this.received.get(def.path) ?? [];
          list.push(def.requestDeserialize(b));
          this.received.set(def.path, list);
        };
        if (!def.requestStream) {
          this.server.register(
            def.path,
            (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
              keep(call.request);
              this.#client.makeUnaryRequest(def.path, raw, raw, call.request, call.metadata, cb);
            },
            raw,
            raw,
            'unary',
          );
        } else {
          this.server.register(
            def.path,
            (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
              const up = this.#client.makeClientStreamRequest(def.path, raw, raw, call.metadata, cb);
              call.on('data', (b: Buffer) => {
                keep(b);
                up.write(b);
              });
              call.on('end', () => up.end());
            },
            raw,
            raw,
            'clientStream',
          );
        }
      }
    }
  }

  async start(): Promise<string> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    return `127.0.0.1:${this.port}`;
  }

  of<T>(service: string, method: string): T[] {
    return (this.received.get(`/skywalking.v3.${service}/${method}`) ?? []) as T[];
  }

  close(): void {
    this.server.forceShutdown();
    this.#client.close();
  }
}
