// A small in-memory lab in virtual time for unit tests.
import { VirtualScheduler } from '../../src/kern/clock.js';
import { Random } from '../../src/kern/random.js';
import { Segment, type SegmentOptions } from '../../src/driver/segment.js';
import { Host } from '../../src/host.js';
import type { EtherIfOptions } from '../../src/driver/ether_drv.js';
import type { Ifnet } from '../../src/driver/ifnet.js';

export function vlab(seed = 1) {
  const sched = new VirtualScheduler();
  const random = new Random(seed);
  return {
    sched,
    random,
    segment(opts: SegmentOptions = {}) {
      return new Segment(sched, random.fork(), opts);
    },
    host(name: string, opts: { inet?: boolean; mgmd?: boolean } = {}) {
      return new Host(name, sched, { seed: random.u32(), ...opts });
    },
    attach(host: Host, seg: Segment, opts: EtherIfOptions = {}): Ifnet {
      return host.addEther(seg.port(`${host.name}.${opts.name ?? 'em'}`), opts);
    },
    run(ms = 0) {
      sched.advance(ms);
    },
  };
}

export function mac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((x) => parseInt(x, 16)));
}

/** An Ethernet frame with the given destination, source, type and payload length. */
export function frame(dst: string | Uint8Array, src: string | Uint8Array, type: number, payloadLen = 46): Uint8Array {
  const d = typeof dst === 'string' ? mac(dst) : dst;
  const s = typeof src === 'string' ? mac(src) : src;
  const f = new Uint8Array(14 + payloadLen);
  f.set(d, 0);
  f.set(s, 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  for (let i = 0; i < payloadLen; i++) f[14 + i] = i & 0xff;
  return f;
}
