import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { PROFILING_TARGET_TYPES } from '@swlite/protocol';
import type { EBPFProfilingData__Output } from '@swlite/protocol';
import { CONTINUOUS_POLICY_TARGETS, TARGETS, targetOf, targetOfContinuousReport, targetOfUpload } from '.';

const unique = (values: unknown[]): boolean => new Set(values).size === values.length;

describe('target registry', () => {
  it('describes every protocol target once, in the protocol order', () => {
    assert.deepEqual(
      TARGETS.map((t) => t.type),
      [...PROFILING_TARGET_TYPES],
    );
    for (const type of PROFILING_TARGET_TYPES) assert.equal(targetOf(type).type, type);
  });

  it('keeps what identifies a target on the wire and on disk distinct', () => {
    assert.ok(unique(TARGETS.map((t) => t.storageCode)), 'storage codes');
    assert.ok(unique(TARGETS.map((t) => t.continuousReportCase)), 'continuous report cases');
    assert.ok(unique(TARGETS.filter((t) => t.upload).map((t) => t.upload!.case)), 'upload cases');
    // Upstream rover parses the TargetType arg as the enum name.
    for (const t of TARGETS) assert.equal(t.commandArg, t.type);
  });

  it('finds targets by their report and upload cases', () => {
    for (const t of TARGETS) assert.equal(targetOfContinuousReport(t.continuousReportCase), t);
    assert.equal(targetOfContinuousReport('nothing'), undefined);
    assert.equal(targetOfUpload(undefined), undefined);
    for (const t of TARGETS) if (t.upload) assert.equal(targetOfUpload(t.upload.case), t);
  });

  it('keeps the OAP rules: sampling sums counts, network tasks go to one instance and are not fixed-time', () => {
    assert.equal(targetOf('ON_CPU').durationAggregate, 'count');
    assert.equal(targetOf('OFF_CPU').durationAggregate, 'duration');
    assert.equal(targetOf('NETWORK').processSelection, 'task-instance');
    assert.equal(targetOf('NETWORK').fixedTimeRefusal, 'NETWORK profiling is created with createEBPFNetworkProfiling');
    assert.equal(targetOf('ON_CPU').fixedTimeRefusal, null);
    assert.deepEqual(CONTINUOUS_POLICY_TARGETS, ['ON_CPU', 'OFF_CPU', 'NETWORK']);
  });

  it('reads each uploaded case into a count and a duration', () => {
    const stacks = [{ stackType: 'PROCESS_USER_SPACE', stackId: 1, stackSymbols: ['main'] }];
    const on = { profiling: 'onCPU', onCPU: { stacks, dumpCount: 7 } } as unknown as EBPFProfilingData__Output;
    const off = {
      profiling: 'offCPU',
      offCPU: { stacks, switchCount: 3, duration: 900 },
    } as unknown as EBPFProfilingData__Output;
    assert.deepEqual(targetOf('ON_CPU').upload!.read(on), { stacks, count: 7, duration: 0 });
    assert.deepEqual(targetOf('OFF_CPU').upload!.read(off), { stacks, count: 3, duration: 900 });
    assert.equal(targetOf('OFF_CPU').upload!.read(on), null);
  });

  it('builds the network extension of a continuous report from its URI regexes', () => {
    const report = { targetTask: 'network', network: { samplingURIRegexes: ['/a.*'] } } as never;
    assert.deepEqual(JSON.parse(targetOf('NETWORK').continuousExtension(report)), {
      networkSamplings: [
        {
          uriRegex: '/a.*',
          minDuration: 0,
          when4xx: true,
          when5xx: true,
          settings: { requireCompleteRequest: true, requireCompleteResponse: true },
        },
      ],
    });
    assert.equal(targetOf('ON_CPU').continuousExtension(report), '');
  });
});
