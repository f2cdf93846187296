/**
 * Per-frame cost of the receive path's filter decision with 1 and with
 * 10,000 joined groups. Frames go through ether_input (filter, counters,
 * demultiplexing) on an interface whose device is a stub; every frame is for
 * a joined group, spread over all of them, so both configurations accept and
 * deliver the same frames and differ only in the filter's state. The result
 * is the ratio of the two costs, measured in one run.
 */
import { VirtualScheduler } from '../src/kern/clock.js';
import { Host } from '../src/host.js';
import { StubDevice } from './stub-device.js';
import { if_addmulti } from '../src/driver/ifnet.js';
import { etherMapIpMulticast } from '../src/l2/ether.js';

function group(i: number): Uint8Array {
  return Uint8Array.of(239, 10 + ((i >> 16) & 0x7f), (i >> 8) & 0xff, i & 0xff);
}

function makeHost(groups: number) {
  const host = new Host('bench', new VirtualScheduler());
  const dev = new StubDevice();
  const ifp = host.addEther(dev, { name: 'em0', mac: '02:00:00:00:00:01' });
  for (let i = 0; i < groups; i++) if_addmulti(ifp, { family: 2, addr: group(i) });
  let delivered = 0;
  // The host's own IPv4 input would parse (and reject) these headerless
  // frames; the benchmark measures the link layer, so a counter takes its place.
  host.unregisterEthertype(0x0800);
  host.registerEthertype(0x0800, () => delivered++);
  // One batch of 256 frames, each to a joined group spread over all joined groups.
  const slot = 128;
  const n = 256;
  const buf = new Uint8Array(slot * n);
  const lens = new Uint32Array(n).fill(60);
  for (let k = 0; k < n; k++) {
    const mac = etherMapIpMulticast(group(Math.floor((k * groups) / n)));
    buf.set(mac, k * slot);
    buf.set([0x02, 0, 0, 0, 0, 2, 0x08, 0x00], k * slot + 6);
  }
  return { run: (batches: number) => { for (let b = 0; b < batches; b++) dev.handlers.input(buf, slot, lens, n); }, ifp, delivered: () => delivered };
}

/** Nanoseconds per frame for each configuration, interleaved rounds, median of rounds. */
export function filterCost(rounds = 9, batchesPerRound = 2000): { one: number; many: number; ratio: number } {
  const one = makeHost(1);
  const many = makeHost(10_000);
  one.run(500);
  many.run(500);
  const t1: number[] = [];
  const t2: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [h, out] of r % 2 ? ([[one, t1], [many, t2]] as const) : ([[many, t2], [one, t1]] as const)) {
      const s = process.hrtime.bigint();
      h.run(batchesPerRound);
      out.push(Number(process.hrtime.bigint() - s) / (batchesPerRound * 256));
    }
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
  const a = med(t1);
  const b = med(t2);
  return { one: a, many: b, ratio: b / a };
}
