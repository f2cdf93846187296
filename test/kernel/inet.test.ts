/**
 * The IP layer against the Linux kernel, in a private namespace: the kernel
 * pings a taplab host over IPv4 and IPv6, kernel UDP senders reach taplab
 * sockets only as their multicast filters allow, taplab's multicast reaches
 * a kernel socket, and the host's DAD and solicited-node membership are
 * seen from the kernel side.
 */
import { describe, expect, it } from 'vitest';
import { RealScheduler } from '../../src/kern/clock.js';
import { Host } from '../../src/host.js';
import { TapDevice } from '../../src/driver/tap.js';
import { tapAddonAvailable } from '../../src/driver/native.js';
import { in6ToString } from '../../src/inet/in6.js';
import {
  IPPROTO_IP,
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_BLOCK_SOURCE,
  IP_DROP_MEMBERSHIP,
  IP_UNBLOCK_SOURCE,
  type Datagram,
} from '../../src/inet/socket.js';
import { canUseNetns, withNetns, type Netns } from '../helpers/netns.js';

const can = canUseNetns();
const skipReason = !can.ok ? can.reason : !tapAddonAvailable() ? 'the native TAP addon is not built (npm run build:native)' : '';
if (skipReason) console.warn(`\n*** kernel inet tests SKIPPED: ${skipReason} ***\n`);

const HOST_MAC = '02:00:5e:10:00:01';
const HOST_V4 = '192.0.2.10';
const KERNEL_V4 = '192.0.2.1';
const KERNEL_V4_B = '192.0.2.2';

async function waitFor(what: string, pred: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(ns: Netns) {
  // Two kernel addresses so that SSM tests have two real sources.
  const sched = new RealScheduler();
  const host = new Host('h1', sched);
  const tap = TapDevice.open({ name: 'tap0', netns: ns.path, up: true });
  await ns.exec('ip', ['addr', 'add', `${KERNEL_V4}/24`, 'dev', 'tap0']);
  await ns.exec('ip', ['addr', 'add', `${KERNEL_V4_B}/24`, 'dev', 'tap0']);
  const em0 = host.addEther(tap, { name: 'em0', mac: HOST_MAC });
  host.inet.v4.addAddress(em0, `${HOST_V4}/24`);
  return {
    host,
    em0,
    done() {
      host.destroy();
      sched.shutdown();
    },
  };
}

/** A kernel-side UDP sender (node dgram in the namespace) from `from` to group:port, `count` datagrams tagged `tag`. */
async function kernelSend(ns: Netns, from: string, group: string, port: number, tag: string, count = 3): Promise<void> {
  const script = `
    const s = require('dgram').createSocket('udp4');
    s.bind(0, '${from}', () => {
      s.setMulticastInterface('${from}');
      let n = ${count};
      const next = () => n-- > 0 ? s.send('${tag}', ${port}, '${group}', () => setTimeout(next, 5)) : s.close();
      next();
    });`;
  await ns.exec(process.execPath, ['-e', script]);
}

function collect(so: { onMessage(fn: (d: Datagram) => void): unknown }): Datagram[] {
  const got: Datagram[] = [];
  so.onMessage((d) => got.push(d));
  return got;
}
const tags = (ds: Datagram[]) => ds.map((d) => new TextDecoder().decode(d.data));

describe.skipIf(!!skipReason)('IP layer against the kernel (private netns)', () => {
  it('the kernel pings the host over IPv4 and IPv6, and the host answered from its link-local address', () =>
    withNetns(async (ns) => {
      const h = await setup(ns);
      try {
        const r4 = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', HOST_V4], { timeoutMs: 15_000 });
        expect(r4.stdout).toMatch(/2 received/);
        // Wait for our DAD (and the kernel's) to finish.
        await waitFor('a usable link-local', () => h.host.inet.v6.linkLocal(h.em0) !== undefined);
        const ll = in6ToString(h.host.inet.v6.linkLocal(h.em0)!);
        expect(ll).toBe('fe80::5eff:fe10:1'); // modified EUI-64: 02 -> 00, ff:fe in the middle
        await sleep(1500);
        const r6 = await ns.exec('ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', `${ll}%tap0`], { timeoutMs: 15_000 });
        expect(r6.stdout).toMatch(/2 received/);
        expect(h.host.inet.icmpstat.icps_inhist[8]).toBe(2);
        expect(h.host.inet.icmp6stat.icp6s_inhist[128]).toBe(2);
        // To reach us the kernel solicited our solicited-node group (ff02::1:ff10:1), which our filter let in.
        const neigh = await ns.exec('ip', ['-6', 'neigh', 'show', 'dev', 'tap0']);
        expect(neigh.stdout).toContain(`${ll} lladdr ${HOST_MAC}`);
        expect(h.host.inet.icmp6stat.icp6s_inhist[135]).toBeGreaterThan(0);
      } finally {
        h.done();
      }
    }));

  it("the host's DAD probe (NS from :: to its solicited-node group) is seen from the kernel side", () =>
    withNetns(async (ns) => {
      // The TAP must exist before capturing: create it first, then the host.
      const sched = new RealScheduler();
      const host = new Host('h1', sched);
      try {
        const tap = TapDevice.open({ name: 'tap0', netns: ns.path, up: true });
        const c = ns.capture('tap0', { count: 8, etherType: 0x86dd, timeoutMs: 4000 });
        await c.ready;
        host.addEther(tap, { name: 'em0', mac: HOST_MAC });
        const frames = await c.frames;
        // Ethernet 14 bytes, then IPv6: hop limit at 21, source 22..38, destination 38..54, ICMPv6 type at 54, NS target 62..78.
        const dad = frames.find((f) => f.slice(22 * 2, 38 * 2) === '0'.repeat(32) && f.slice(54 * 2, 54 * 2 + 2) === '87');
        expect(dad, `no NS from :: among ${frames.length} IPv6 frames`).toBeDefined();
        // Destination: ff02::1:ff10:0001, hop limit 255, target fe80::ff:fe10:1.
        expect(dad!.slice(38 * 2, 54 * 2)).toBe('ff0200000000000000000001ff100001');
        expect(dad!.slice(21 * 2, 22 * 2)).toBe('ff');
        expect(dad!.slice(62 * 2, 78 * 2)).toBe('fe8000000000000000005efffe100001');
      } finally {
        host.destroy();
        sched.shutdown();
      }
    }));

  it('a kernel UDP sender to 239.1.1.1 reaches a taplab socket only while joined, and not from a blocked source', () =>
    withNetns(async (ns) => {
      const h = await setup(ns);
      try {
        const so = h.host.inet.socket().bind(undefined, 5001);
        const got = collect(so);
        await kernelSend(ns, KERNEL_V4, '239.1.1.1', 5001, 'before');
        await sleep(200);
        expect(got).toEqual([]);
        so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: HOST_V4 });
        await kernelSend(ns, KERNEL_V4, '239.1.1.1', 5001, 'joined');
        await waitFor('3 datagrams', () => got.length >= 3);
        expect(tags(got)).toEqual(['joined', 'joined', 'joined']);
        expect(got[0].src).toBe(KERNEL_V4);
        so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: '239.1.1.1', imr_sourceaddr: KERNEL_V4 });
        await kernelSend(ns, KERNEL_V4, '239.1.1.1', 5001, 'blocked');
        await kernelSend(ns, KERNEL_V4_B, '239.1.1.1', 5001, 'other');
        await waitFor('3 from the other source', () => got.length >= 6);
        await sleep(100);
        expect(tags(got).slice(3)).toEqual(['other', 'other', 'other']);
        expect(h.host.inet.udpstat.udps_filtermcast).toBe(3);
        so.setsockopt(IPPROTO_IP, IP_UNBLOCK_SOURCE, { imr_multiaddr: '239.1.1.1', imr_sourceaddr: KERNEL_V4 });
        so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: HOST_V4 });
        await kernelSend(ns, KERNEL_V4, '239.1.1.1', 5001, 'left');
        await sleep(200);
        expect(got.length).toBe(6);
      } finally {
        h.done();
      }
    }));

  it('SSM: IP_ADD_SOURCE_MEMBERSHIP on 232.1.1.1 receives the included source only', () =>
    withNetns(async (ns) => {
      const h = await setup(ns);
      try {
        const so = h.host.inet.socket().bind(undefined, 5002);
        const got = collect(so);
        so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: KERNEL_V4_B, imr_interface: HOST_V4 });
        await kernelSend(ns, KERNEL_V4, '232.1.1.1', 5002, 'not included');
        await kernelSend(ns, KERNEL_V4_B, '232.1.1.1', 5002, 'included');
        await waitFor('3 datagrams', () => got.length >= 3);
        await sleep(100);
        expect(tags(got)).toEqual(['included', 'included', 'included']);
        expect(new Set(got.map((d) => d.src))).toEqual(new Set([KERNEL_V4_B]));
      } finally {
        h.done();
      }
    }));

  it("a taplab sender's multicast is received by a kernel socket", () =>
    withNetns(async (ns) => {
      const h = await setup(ns);
      try {
        const script = `
          const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });
          s.on('message', (m, r) => { console.log(m.toString() + ' from ' + r.address); process.exit(0); });
          s.bind(5003, () => { s.addMembership('239.5.5.5', '${KERNEL_V4}'); console.log('ready'); });
          setTimeout(() => process.exit(3), 8000);`;
        let finished = false;
        const rx = ns.exec(process.execPath, ['-e', script], { timeoutMs: 12_000 }).finally(() => (finished = true));
        const so = h.host.inet.socket();
        // Keep sending until the kernel socket (which takes a moment to start) has heard one.
        for (let i = 0; i < 80 && !finished; i++) {
          so.send('hello kernel', '239.5.5.5', 5003);
          await sleep(100);
        }
        const r = await rx;
        expect(r.stdout).toMatch(new RegExp(`hello kernel from ${HOST_V4.replace(/\./g, '\\.')}`));
      } finally {
        h.done();
      }
    }));
});
