/**
 * Mutated protobuf on every gRPC method oap-lite serves (npm run chaos -w @swlite/oap-lite): for
 * each method, messages generated from its own descriptor (random values for every field type,
 * nested messages, repeated fields, unknown enum numbers) and then, half of the time, byte flips,
 * cuts, splices or plain random bytes, sent over real gRPC, streams of 1-5 messages for the
 * streaming methods. Proves every call gets a status within its deadline (no hang), the server
 * never goes down nor fails a call with UNKNOWN (an exception no handler turned into a status),
 * a well-formed message never gets INTERNAL (it is stored or refused with INVALID_ARGUMENT),
 * and a clean agent call works after the run. Codes seen per method are printed.
 * CHAOS_GRPC_ROUNDS (60 per method) and CHAOS_SEED tune and replay it.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSkyWalkingGrpc } from '@swlite/protocol';
import { AgentClient, hostProcess, startOap, type OapProcess } from '@swlite/testkit';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chaosSeed, seededRandom, type Random } from './random';

const ROUNDS = Number(process.env.CHAOS_GRPC_ROUNDS ?? 60);
const SEED = chaosSeed();
const CALL_DEADLINE_MS = 30_000;
const SERVICES = [
  'EBPFProcessService',
  'EBPFProfilingService',
  'ContinuousProfilingService',
  'MeterReportService',
  'LogReportService',
  'SpanAttachedEventReportService',
] as const;

interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}
interface TypeDefinition {
  type: { field?: FieldDescriptor[]; value?: Array<{ name: string; number: number }> };
}
interface MethodDefinition {
  path: string;
  requestStream: boolean;
  requestType: TypeDefinition & { type: { name: string } };
  requestSerialize(value: unknown): Buffer;
}

const pkg = loadSkyWalkingGrpc().skywalking.v3 as unknown as Record<
  string,
  TypeDefinition & { service?: Record<string, MethodDefinition> }
>;

/** A message of the named type with random values, `depth` levels of nested messages at most. */
const randomMessage = (r: Random, typeName: string, depth: number): Record<string, unknown> => {
  const fields = pkg[typeName]?.type.field ?? [];
  const message: Record<string, unknown> = {};
  for (const f of fields) {
    if (r.chance(0.25)) continue;
    const one = (): unknown => {
      switch (f.type) {
        case 'TYPE_STRING':
          return r.pick([
            '',
            'a',
            'demo-service',
            'x'.repeat(r.pick([10, 1_000, 100_000])),
            '\u0000\uffff',
            'ZGVtbw==.1',
            '127.0.0.1',
          ]);
        case 'TYPE_BOOL':
          return r.chance(0.5);
        case 'TYPE_DOUBLE':
        case 'TYPE_FLOAT':
          return r.pick([0, -1.5, 1e300, Number.NaN, Number.POSITIVE_INFINITY]);
        case 'TYPE_BYTES':
          return Buffer.from(Array.from({ length: r.int(64) }, () => r.int(256)));
        case 'TYPE_ENUM': {
          const values = pkg[f.typeName]?.type.value ?? [];
          return r.chance(0.8) && values.length ? r.pick(values).name : 1_000 + r.int(1000);
        }
        case 'TYPE_MESSAGE':
          return depth > 0 && pkg[f.typeName] ? randomMessage(r, f.typeName, depth - 1) : undefined;
        default:
          // every integer type
          return r.pick([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), Date.now(), Number.MAX_SAFE_INTEGER, 2 ** 53 + 2]);
      }
    };
    const value =
      f.label === 'LABEL_REPEATED' ? Array.from({ length: r.int(4) }, one).filter((v) => v !== undefined) : one();
    if (value !== undefined) message[f.name] = value;
  }
  return message;
};

/** The bytes of a valid message, half of the time mutated. */
const messageBytes = (r: Random, method: MethodDefinition): { bytes: Buffer; mutated: boolean } => {
  const valid = encodeRandom(r, method);
  if (r.chance(0.5)) return { bytes: valid, mutated: false };
  return { bytes: mutate(r, valid), mutated: true };
};

const encodeRandom = (r: Random, method: MethodDefinition): Buffer => {
  let bytes: Buffer;
  try {
    bytes = method.requestSerialize(randomMessage(r, method.requestType.type.name, 3));
  } catch {
    bytes = Buffer.alloc(0);
  }
  return bytes;
};

const mutate = (r: Random, bytes: Buffer): Buffer => {
  const at = r.int(bytes.length + 1);
  switch (r.int(4)) {
    case 0: {
      const out = Buffer.from(bytes);
      for (let k = 0; k < 1 + r.int(4) && out.length > 0; k++) out[r.int(out.length)] = r.int(256);
      return out;
    }
    case 1:
      return bytes.subarray(0, at);
    case 2:
      return Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from(Array.from({ length: 1 + r.int(8) }, () => r.int(256))),
        bytes.subarray(at),
      ]);
    default:
      return Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256)));
  }
};

const identity = (b: Buffer) => b;

describe('mutated protobuf on every gRPC method', () => {
  let oap: OapProcess;

  before(async () => {
    oap = await startOap({ SW_LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await oap?.cleanup();
  });

  it(`${ROUNDS} random and mutated requests per method: a status for each, no UNKNOWN, the server keeps serving`, async (t) => {
    const r = seededRandom(SEED);
    const client = new grpc.Client(oap.grpcAddress, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    const failures: string[] = [];
    const lines: string[] = [];
    for (const service of SERVICES) {
      for (const [name, method] of Object.entries(pkg[service]!.service!)) {
        const codes = new Map<string, number>();
        for (let round = 0; round < ROUNDS; round++) {
          const messages = Array.from({ length: method.requestStream ? 1 + r.int(5) : 1 }, () =>
            messageBytes(r, method),
          );
          const mutated = messages.some((m) => m.mutated);
          const { status, details } = await new Promise<{ status: grpc.status; details: string }>((resolve) => {
            const done = (err: grpc.ServiceError | null) =>
              resolve({ status: err ? err.code : grpc.status.OK, details: err?.details ?? '' });
            const options = { deadline: Date.now() + CALL_DEADLINE_MS };
            if (method.requestStream) {
              const call = client.makeClientStreamRequest(
                method.path,
                identity,
                identity,
                new grpc.Metadata(),
                options,
                done,
              );
              for (const m of messages) call.write(m.bytes);
              call.end();
            } else {
              client.makeUnaryRequest(
                method.path,
                identity,
                identity,
                messages[0]!.bytes,
                new grpc.Metadata(),
                options,
                done,
              );
            }
          });
          const code = `${grpc.status[status]!}${mutated ? '' : ' (well-formed)'}`;
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if (
            status === grpc.status.DEADLINE_EXCEEDED ||
            status === grpc.status.UNKNOWN ||
            status === grpc.status.UNAVAILABLE
          ) {
            failures.push(`${service}.${name} round ${round} (seed ${SEED}): ${code} ${details}`);
          }
          // A well-formed message is either accepted or refused with a reason the agent can log.
          if (!mutated && status === grpc.status.INTERNAL) {
            failures.push(
              `${service}.${name} round ${round} (seed ${SEED}): INTERNAL for a well-formed message: ${details}`,
            );
          }
        }
        lines.push(`${service}.${name}: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
      }
    }
    client.close();
    const summary = `seed ${SEED}, ${ROUNDS} calls per method:\n${lines.join('\n')}`;
    t.diagnostic(summary);
    console.log(summary);
    assert.deepEqual(failures, []);
    const health = await fetch(`http://127.0.0.1:${oap.httpPort}/healthcheck`);
    assert.equal(health.status, 200);
    const agent = new AgentClient(oap.grpcAddress, 'after-fuzz');
    const reported = await agent.reportProcesses([hostProcess('clean', { service: 'after-fuzz' })]);
    agent.close();
    assert.equal(reported.processes.length, 1, 'a clean report after the run is answered');
  });
});
