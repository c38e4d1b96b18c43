import type { TargetDescription } from './description';

/** Sampling of the processes' running stacks (perf events on the CPU clock). */
export const onCpu: TargetDescription = {
  type: 'ON_CPU',
  commandArg: 'ON_CPU',
  storageCode: 0,
  durationAggregate: 'count',
  fixedTimeRefusal: null,
  processSelection: 'service-processes-with-labels',
  continuousPolicy: true,
  continuousReportCase: 'onCPU',
  continuousExtension: () => '',
  upload: {
    case: 'onCPU',
    read: (message) =>
      message.onCPU ? { stacks: message.onCPU.stacks, count: message.onCPU.dumpCount, duration: 0 } : null,
  },
};
