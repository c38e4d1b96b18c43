import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listeningInodes } from './listeners.js';

// /proc/net/tcp as the kernel prints it: a header, then one line per socket (st 0A = LISTEN)
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A2C4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 34567 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0
`;

test('listeningInodes: LISTEN sockets only, inode 0 (orphaned) skipped', () => {
  assert.deepEqual([...listeningInodes(TCP)], [23456]);
  assert.deepEqual([...listeningInodes('header only\n')], []);
});
