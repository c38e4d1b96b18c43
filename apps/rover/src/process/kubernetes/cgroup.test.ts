import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerIdFromStatus, parseCgroup } from './cgroup.js';

const ID = '5464105120381493fb3350e3554d1897ba619abe196feed632a60ebc969f734c';
const POD = '5d1f3a5c-7e9b-4d1f-a3c5-e7b9d1f3a5c7';
const POD_ = POD.replace(/-/g, '_');

test('cgroup v1, cgroupfs driver (containerd/docker under kubelet)', () => {
  const text = [
    `12:pids:/kubepods/burstable/pod${POD}/${ID}`,
    `11:memory:/kubepods/burstable/pod${POD}/${ID}`,
    `10:cpu,cpuacct:/kubepods/burstable/pod${POD}/${ID}`,
    `4:devices:/kubepods/burstable/pod${POD}/${ID}`,
    `1:name=systemd:/kubepods/burstable/pod${POD}/${ID}`,
    '0::/',
    '',
  ].join('\n');
  assert.deepEqual(parseCgroup(text), { containerIds: [ID], podUid: POD });
});

test('cgroup v2, systemd driver: containerd, cri-o, docker, podman', () => {
  for (const prefix of ['cri-containerd', 'crio', 'docker', 'libpod']) {
    const text = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice/${prefix}-${ID}.scope\n`;
    assert.deepEqual(parseCgroup(text), { containerIds: [ID], podUid: POD }, prefix);
  }
  // besteffort / guaranteed QoS slices
  assert.deepEqual(parseCgroup(`0::/kubepods.slice/kubepods-pod${POD_}.slice/cri-containerd-${ID}.scope\n`), {
    containerIds: [ID],
    podUid: POD,
  });
});

test('cgroup v1, systemd driver and plain docker', () => {
  const text = [
    `9:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/docker-${ID}.scope`,
    `1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/docker-${ID}.scope`,
  ].join('\n');
  assert.deepEqual(parseCgroup(text), { containerIds: [ID], podUid: POD });
  assert.deepEqual(parseCgroup(`13:cpuset:/docker/${ID}\n`), { containerIds: [ID] });
  assert.deepEqual(parseCgroup(`0::/system.slice/docker-${ID}.scope\n`), { containerIds: [ID] });
  assert.deepEqual(parseCgroup(`0::/kubepods/besteffort/pod${POD}/${ID.toUpperCase()}\n`).containerIds, [ID]);
});

test('not containers: host services, the pod slice itself, conmon, garbage', () => {
  assert.deepEqual(parseCgroup('0::/system.slice/ssh.service\n'), { containerIds: [] });
  assert.deepEqual(parseCgroup('0::/user.slice/user-0.slice/session-3.scope\n'), { containerIds: [] });
  assert.deepEqual(parseCgroup(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_}.slice\n`), {
    containerIds: [],
    podUid: POD,
  });
  assert.deepEqual(parseCgroup(`0::/kubepods.slice/kubepods-pod${POD_}.slice/crio-conmon-${ID}.scope\n`).containerIds, []);
  assert.deepEqual(parseCgroup('garbage\n\n1:cpu\n'), { containerIds: [] });
  assert.deepEqual(parseCgroup(''), { containerIds: [] });
});

test('container status IDs lose their runtime scheme', () => {
  assert.equal(containerIdFromStatus(`containerd://${ID}`), ID);
  assert.equal(containerIdFromStatus(`cri-o://${ID}`), ID);
  assert.equal(containerIdFromStatus(`docker://${ID}`), ID);
  assert.equal(containerIdFromStatus(ID), ID);
  assert.equal(containerIdFromStatus(undefined), '');
});
