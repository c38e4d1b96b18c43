// The shared target/trigger lists must be exactly the schema's enums, so a new target type is added
// in one place and the schema, the rover command and storage cannot drift apart.
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { isEnumType } from 'graphql';
import { buildSkyWalkingSchema } from './graphql';
import { PROFILING_TARGET_TYPES, PROFILING_TRIGGER_TYPES, isProfilingTargetType } from './targets';

const schema = buildSkyWalkingSchema();
const enumValues = (name: string): string[] => {
  const type = schema.getType(name);
  assert.ok(type && isEnumType(type), `${name} is an enum of the schema`);
  return type.getValues().map((v) => v.name);
};

it('target types equal the schema enums (eBPF and continuous)', () => {
  assert.deepEqual([...PROFILING_TARGET_TYPES], enumValues('EBPFProfilingTargetType'));
  assert.deepEqual([...PROFILING_TARGET_TYPES], enumValues('ContinuousProfilingTargetType'));
});

it('trigger types equal the schema enum', () => {
  assert.deepEqual([...PROFILING_TRIGGER_TYPES], enumValues('EBPFProfilingTriggerType'));
});

it('guards reject what is not a target type', () => {
  assert.equal(isProfilingTargetType('OFF_CPU'), true);
  assert.equal(isProfilingTargetType('off_cpu'), false);
  assert.equal(isProfilingTargetType(3), false);
});
