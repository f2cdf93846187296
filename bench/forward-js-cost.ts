/**
 * Per-frame JavaScript cost of the forwarding path, without the kernel:
 * batches of 256 frames from a stub device go through ether_input, the
 * 0x88b5 handler, ether_output, if_snd and if_start into a stub device that
 * accepts everything. Prints nanoseconds per frame (median of rounds), for
 * working on the JS side of bench/forward-taplab.ts without TAP noise.
 * Usage: node bench/out/js/bench/forward-js-cost.js [SIZE]
 */
import { VirtualScheduler } from '../src/kern/clock.js';
import { Host } from '../src/host.js';
import { StubDevice } from './stub-device.js';
import { ETHERTYPE_EXP1, ether_output } from '../src/l2/ether.js';
import { parseMac, sockaddrDl } from '../src/driver/sockaddr.js';

const size = Number(process.argv[2] ?? 64);
const host = new Host('fwd', new VirtualScheduler());
const devIn = new StubDevice('in');
const devOut = new StubDevice('out');
const ifIn = host.addEther(devIn, { name: 'em0', mac: '02:00:00:00:aa:01' });
const ifOut = host.addEther(devOut, { name: 'em1', mac: '02:00:00:00:aa:02' });
const dst = sockaddrDl(parseMac('02:00:00:00:bb:01')!);
host.registerEthertype(ETHERTYPE_EXP1, (ifp, buf, off, len) => {
  if (ifp === ifIn) ether_output(ifOut, buf, off, len, dst, ETHERTYPE_EXP1);
});

const slot = 2048;
const n = 256;
const arena = new Uint8Array(slot * n);
const lens = new Uint32Array(n).fill(size);
for (let k = 0; k < n; k++) {
  arena.set(parseMac('02:00:00:00:aa:01')!, k * slot);
  arena.set([0x02, 0, 0, 0, 0x99, 1, 0x88, 0xb5], k * slot + 6);
}
const run = (batches: number) => {
  for (let b = 0; b < batches; b++) devIn.handlers.input(arena, slot, lens, n);
};
run(2000);
const t: number[] = [];
for (let r = 0; r < 9; r++) {
  const s = process.hrtime.bigint();
  run(2000);
  t.push(Number(process.hrtime.bigint() - s) / (2000 * n));
}
t.sort((a, b) => a - b);
if (devOut.sent !== ifOut.if_data.ifi_opackets) throw new Error('counter mismatch');
console.log(`${size} B: ${t[t.length >> 1].toFixed(1)} ns/frame (min ${t[0].toFixed(1)})`);
