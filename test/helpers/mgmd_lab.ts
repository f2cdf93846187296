// Hosts on one in-memory segment with an MgmdWire, in virtual time, for the golden IGMP/MLD traces.
import { vlab } from './vlab.js';
import { MgmdWire } from './mgmd_trace.js';
import type { Host } from '../../src/host.js';
import type { Ifnet } from '../../src/driver/ifnet.js';

export interface MgmdLab {
  L: ReturnType<typeof vlab>;
  wire: MgmdWire;
  hosts: Host[];
  ifs: Ifnet[];
  h: Host;
  em0: Ifnet;
  now(): number;
}

/**
 * `n` hosts h1..hn, each with em0 (MAC 02:00:00:00:00:0i, 192.0.2.i/24), and
 * the wire (the fake router, 02:00:00:00:00:fe, 192.0.2.254 / fe80::fe). Runs
 * `settle` ms (DAD and the solicited-node MLD reports) and clears the trace,
 * unless `settle` is 0.
 */
export function mgmdLab(seed: number, opts: { n?: number; settle?: number; v4?: boolean; before?: (h: Host) => void } = {}): MgmdLab {
  const L = vlab(seed);
  const seg = L.segment();
  const wire = new MgmdWire(seg);
  const hosts: Host[] = [];
  const ifs: Ifnet[] = [];
  for (let i = 1; i <= (opts.n ?? 1); i++) {
    const h = L.host(`h${i}`);
    opts.before?.(h);
    const ifp = L.attach(h, seg, { name: 'em0', mac: `02:00:00:00:00:0${i}` });
    if (opts.v4 !== false) h.inet.v4.addAddress(ifp, `192.0.2.${i}/24`);
    hosts.push(h);
    ifs.push(ifp);
  }
  const settle = opts.settle ?? 5000;
  if (settle) {
    L.run(settle);
    wire.clear();
  }
  return { L, wire, hosts, ifs, h: hosts[0], em0: ifs[0], now: () => L.sched.now() };
}
