/**
 * A taplab host's Ethernet interface on a real TAP, against the Linux
 * kernel, in a private network namespace: the full ifnet path (ether_input,
 * ether_output, if_snd, if_start, the driver's filter programming through
 * SIOCADDMULTI) with the kernel as the other end of the cable.
 */
import { describe, expect, it } from 'vitest';
import { RealScheduler } from '../../src/kern/clock.js';
import { Host } from '../../src/host.js';
import { TapDevice } from '../../src/driver/tap.js';
import { tapAddonAvailable } from '../../src/driver/native.js';
import { SIOCADDMULTI, SIOCDELMULTI, SIOCGIFFLAGS, LINK_STATE_DOWN, LINK_STATE_UP, IFF_UP } from '../../src/driver/if_var.js';
import { sockaddrDl, parseMac } from '../../src/driver/sockaddr.js';
import { ETHERTYPE_EXP1, ether_output, etherMapIpMulticast } from '../../src/l2/ether.js';
import { if_addmulti } from '../../src/driver/ifnet.js';
import { ERRNO } from '../../src/kern/errno.js';
import { canUseNetns, withNetns, type Netns } from '../helpers/netns.js';

const can = canUseNetns();
const skipReason = !can.ok ? can.reason : !tapAddonAvailable() ? 'the native TAP addon is not built (npm run build:native)' : '';
if (skipReason) console.warn(`\n*** kernel ifnet tests SKIPPED: ${skipReason} ***\n`);

const HOST_MAC = '02:00:5e:10:00:01';
const KERNEL_MAC = '02:00:5e:10:00:99';

function hexFrame(dst: string | Uint8Array, tag: number, len = 60): string {
  const f = new Uint8Array(len);
  f.set(typeof dst === 'string' ? parseMac(dst)! : dst, 0);
  f.set(parseMac(KERNEL_MAC)!, 6);
  f[12] = ETHERTYPE_EXP1 >> 8;
  f[13] = ETHERTYPE_EXP1 & 0xff;
  f[14] = tag;
  return Buffer.from(f).toString('hex');
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

/** A host with em0 on tap0 inside `ns`; the kernel side is up, IPv6 off so the kernel stays quiet. */
async function hostOnTap(ns: Netns) {
  await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const sched = new RealScheduler();
  const host = new Host('h1', sched, { inet: false });
  const tap = TapDevice.open({ name: 'tap0', netns: ns.path, up: true });
  const em0 = host.addEther(tap, { name: 'em0', mac: HOST_MAC });
  const got: number[] = [];
  host.registerEthertype(ETHERTYPE_EXP1, (_ifp, buf, off) => got.push(buf[off]));
  const done = () => {
    host.destroy();
    sched.shutdown();
  };
  return { host, tap, em0, got, done };
}

describe.skipIf(!!skipReason)('ifnet on a real TAP (private netns)', () => {
  it('frames the host sends reach the kernel, and kernel frames reach the host', () =>
    withNetns(async (ns) => {
      const h = await hostOnTap(ns);
      try {
        const cap = ns.capture('tap0', { count: 3, etherType: ETHERTYPE_EXP1 });
        await cap.ready;
        for (let i = 1; i <= 3; i++) {
          const p = new Uint8Array(46);
          p[0] = i;
          expect(ether_output(h.em0, p, 0, 46, sockaddrDl(parseMac(KERNEL_MAC)!), ETHERTYPE_EXP1)).toBe(0);
        }
        const frames = await cap.frames;
        expect(frames.map((f) => parseInt(f.slice(28, 30), 16))).toEqual([1, 2, 3]);
        expect(frames[0].slice(0, 24)).toBe('02005e10009902005e100001');

        await ns.sendRawFrames('tap0', [hexFrame(HOST_MAC, 7), hexFrame('ff:ff:ff:ff:ff:ff', 8)]);
        await waitFor('two frames at the host', () => h.got.length >= 2);
        expect(h.got).toEqual([7, 8]);
      } finally {
        h.done();
      }
    }));

  it('kernel multicast to a group the host has not joined never reaches userspace; after SIOCADDMULTI it does', () =>
    withNetns(async (ns) => {
      const h = await hostOnTap(ns);
      try {
        const group = etherMapIpMulticast(Uint8Array.of(239, 1, 2, 3));
        const before = await ns.linkStats('tap0');
        await ns.sendRawFrames('tap0', [hexFrame(group, 1)], 5);
        await settle();
        expect(h.got).toEqual([]);
        expect(h.em0.if_data.ifi_ipackets).toBe(0);
        expect(h.em0.if_rxfiltered).toBe(0); // the kernel's filter stopped them, not ours
        const mid = await ns.linkStats('tap0');
        expect(mid.txDropped - before.txDropped).toBe(5);

        h.host.ioctl(SIOCADDMULTI, { ifr_name: 'em0', ifr_addr: sockaddrDl(group) });
        await ns.sendRawFrames('tap0', [hexFrame(group, 2)], 5);
        await waitFor('5 group frames', () => h.got.length >= 5);
        expect(h.got).toEqual([2, 2, 2, 2, 2]);
        expect(h.em0.if_data.ifi_imcasts).toBe(5);

        h.host.ioctl(SIOCDELMULTI, { ifr_name: 'em0', ifr_addr: sockaddrDl(group) });
        await ns.sendRawFrames('tap0', [hexFrame(group, 3)], 2);
        await settle();
        expect(h.got.length).toBe(5);
      } finally {
        h.done();
      }
    }));

  it('beyond the exact slots, groups go to the kernel hash: a joined hashed group arrives', () =>
    withNetns(async (ns) => {
      const h = await hostOnTap(ns);
      try {
        const groups = Array.from({ length: 12 }, (_, i) => Uint8Array.of(239, 9, 0, i + 1));
        for (const g of groups) if_addmulti(h.em0, { family: 2, addr: g });
        const last = etherMapIpMulticast(groups[11]); // slot 14 of 14: hashed, not exact
        await ns.sendRawFrames('tap0', [hexFrame(last, 9)], 3);
        await waitFor('3 hashed-group frames', () => h.got.length >= 3);
        expect(h.got).toEqual([9, 9, 9]);
      } finally {
        h.done();
      }
    }));

  it("`ip -s link` counters of the TAP agree with the host's if_data", () =>
    withNetns(async (ns) => {
      const h = await hostOnTap(ns);
      try {
        await settle();
        const k0 = await ns.linkStats('tap0');
        const d0 = { ...h.em0.if_data };
        const group = etherMapIpMulticast(Uint8Array.of(239, 7, 7, 7));
        if_addmulti(h.em0, { family: 2, addr: Uint8Array.of(239, 7, 7, 7) });
        await ns.sendRawFrames('tap0', [hexFrame(HOST_MAC, 1, 60), hexFrame(group, 2, 200), hexFrame('02:00:00:00:00:77', 3)], 4);
        for (let i = 0; i < 6; i++) ether_output(h.em0, new Uint8Array(100 + i), 0, 100 + i, sockaddrDl(parseMac(KERNEL_MAC)!), ETHERTYPE_EXP1);
        await waitFor('8 frames at the host', () => h.got.length >= 8);
        await settle();
        const k1 = await ns.linkStats('tap0');
        const d = h.em0.if_data;
        // The kernel's transmit side is our receive side, and the other way round.
        expect(k1.txPackets - k0.txPackets).toBe(d.ifi_ipackets - d0.ifi_ipackets);
        expect(k1.txBytes - k0.txBytes).toBe(d.ifi_ibytes - d0.ifi_ibytes);
        expect(k1.rxPackets - k0.rxPackets).toBe(d.ifi_opackets - d0.ifi_opackets);
        expect(k1.rxBytes - k0.rxBytes).toBe(d.ifi_obytes - d0.ifi_obytes);
        expect(d.ifi_ipackets - d0.ifi_ipackets).toBe(8);
        expect(d.ifi_opackets - d0.ifi_opackets).toBe(6);
        expect(d.ifi_obytes - d0.ifi_obytes).toBe(6 * 114 + 15);
        expect(k1.txDropped - k0.txDropped).toBe(4); // the foreign unicast frames
      } finally {
        h.done();
      }
    }));

  it('deleting the TAP under a running host marks the link down with a clear error; the host keeps working', () =>
    withNetns(async (ns) => {
      const h = await hostOnTap(ns);
      try {
        expect(h.em0.if_link_state).toBe(LINK_STATE_UP);
        await ns.exec('ip', ['link', 'del', 'tap0']);
        await waitFor('link down', () => h.em0.if_link_state === LINK_STATE_DOWN);
        expect(h.em0.if_lasterror?.code).toBe('ENXIO');
        expect(h.em0.if_lasterror?.message).toMatch(/tap0.*deleted/);
        expect(ether_output(h.em0, new Uint8Array(46), 0, 46, sockaddrDl(parseMac(KERNEL_MAC)!), ETHERTYPE_EXP1)).toBe(ERRNO.ENETDOWN);
        // The host still answers: ioctls, the loopback, other interfaces.
        expect(h.host.ioctl(SIOCGIFFLAGS, { ifr_name: 'em0' }).ifr_flags! & IFF_UP).toBe(IFF_UP);
        expect(h.host.lo0.if_output(h.host.lo0, new Uint8Array(20), 0, 20, { family: 2, addr: Uint8Array.of(127, 0, 0, 1) }, 0)).toBe(0);
      } finally {
        h.done();
      }
    }));
});
