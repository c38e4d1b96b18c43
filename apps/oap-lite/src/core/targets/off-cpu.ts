import type { TargetDescription } from './description';

/** Where the processes block: switch counts and blocked time per stack (sched_switch). */
export const offCpu: TargetDescription = {
  type: 'OFF_CPU',
  commandArg: 'OFF_CPU',
  storageCode: 1,
  durationAggregate: 'duration',
  fixedTimeRefusal: null,
  processSelection: 'service-processes-with-labels',
  continuousPolicy: true,
  continuousReportCase: 'offCPU',
  continuousExtension: () => '',
  upload: {
    case: 'offCPU',
    read: (message) =>
      message.offCPU
        ? { stacks: message.offCPU.stacks, count: message.offCPU.switchCount, duration: message.offCPU.duration }
        : null,
  },
};
