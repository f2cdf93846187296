import { describe, expect, it } from 'vitest';
import { vlab, mac, frame } from '../helpers/vlab.js';
import { ERRNO, KernError } from '../../src/kern/errno.js';
import { ETHERTYPE_EXP1, ether_output, ether_resolvemulti, etherEmit, etherParse, etherMapIpMulticast } from '../../src/l2/ether.js';
import { if_addmulti, ifpromisc, type Ifnet } from '../../src/driver/ifnet.js';
import { AF_INET, AF_INET6, sockaddrDl, sockaddrIn, sockaddrToString } from '../../src/driver/sockaddr.js';
import { IFF_DRV_OACTIVE, LINK_STATE_DOWN, LINK_STATE_UP, SIOCSIFFLAGS } from '../../src/driver/if_var.js';
import type { DeviceHandlers, EtherDevice, HwFilter } from '../../src/driver/device.js';
import { errnoOf as errCode } from '../helpers/errno.js';

/** A device under the test's control: records writes, accepts a settable number, injects frames. */
class FakeDevice implements EtherDevice {
  readonly kind = 'fake';
  readonly name = 'fake0';
  readonly maxFrame = 1522;
  h!: DeviceHandlers;
  writes: Uint8Array[][] = [];
  budget = Infinity;
  gone = false;
  start(h: DeviceHandlers) {
    this.h = h;
  }
  transmit(buf: Uint8Array, slot: number, first: number, lens: Uint32Array, count: number): number {
    if (this.gone) throw new KernError('ENXIO', 'fake0: the device was deleted');
    const n = Math.min(count, this.budget);
    this.budget -= n;
    const batch: Uint8Array[] = [];
    for (let k = 0; k < n; k++) batch.push(buf.slice((first + k) * slot, (first + k) * slot + lens[first + k]));
    this.writes.push(batch);
    return n;
  }
  setFilter(_f: HwFilter) {}
  linkUp() {
    return !this.gone;
  }
  stats() {
    return { drops: 0 };
  }
  close() {}
  inject(frames: Uint8Array[]) {
    const slot = 2048;
    const buf = new Uint8Array(slot * frames.length);
    const lens = new Uint32Array(frames.length);
    frames.forEach((f, i) => {
      buf.set(f, i * slot);
      lens[i] = f.length;
    });
    this.h.input(buf, slot, lens, frames.length);
  }
}

const ME = '02:00:00:00:00:01';
const PEER = '02:00:00:00:00:02';

function fakeHost() {
  const L = vlab();
  const h = L.host('h1', { inet: false });
  const dev = new FakeDevice();
  const ifp = h.addEther(dev, { name: 'em0', mac: ME });
  return { L, h, dev, ifp };
}

describe('Ethernet codec and mapping', () => {
  it('round-trips a frame', () => {
    const payload = Uint8Array.from({ length: 50 }, (_, i) => i);
    const f = etherEmit({ dst: mac(PEER), src: mac(ME), type: 0x0800 }, payload);
    const p = etherParse(f);
    expect('error' in p).toBe(false);
    if ('error' in p) return;
    expect(sockaddrToString(sockaddrDl(p.dst))).toBe(PEER);
    expect(p.type).toBe(0x0800);
    expect(p.payload).toEqual(payload);
    expect(etherParse(new Uint8Array(13))).toHaveProperty('error');
  });

  it('maps IPv4 groups to 01:00:5e + 23 bits and IPv6 groups to 33:33 + 32 bits', () => {
    const { ifp } = fakeHost();
    const v4 = ether_resolvemulti(ifp, sockaddrIn('239.129.2.3')!)!;
    expect(sockaddrToString(v4)).toBe('01:00:5e:01:02:03');
    const g6 = new Uint8Array(16);
    g6.set([0xff, 0x02], 0);
    g6.set([0x00, 0x01, 0xff, 0x10, 0xab, 0xcd], 10);
    expect(sockaddrToString(ether_resolvemulti(ifp, { family: AF_INET6, addr: g6, scopeId: 0 })!)).toBe('33:33:ff:10:ab:cd');
    expect(errCode(() => ether_resolvemulti(ifp, sockaddrIn('192.0.2.1')!))).toBe('EADDRNOTAVAIL');
    expect(errCode(() => ether_resolvemulti(ifp, { family: AF_INET6, addr: new Uint8Array(16), scopeId: 0 }))).toBe('EADDRNOTAVAIL');
    expect(ether_resolvemulti(ifp, sockaddrDl(mac('01:80:c2:00:00:00')))).toBeNull();
  });
});

describe('ether_input', () => {
  it('counts mixed traffic exactly', () => {
    const { h, dev, ifp } = fakeHost();
    const seen: number[] = [];
    h.registerEthertype(ETHERTYPE_EXP1, (_ifp, buf, off, len) => seen.push(len + buf[off] * 0));
    if_addmulti(ifp, sockaddrIn('239.1.1.1')!);
    const frames = [
      frame(ME, PEER, ETHERTYPE_EXP1, 46), // unicast, delivered           60 B
      frame(ME, PEER, ETHERTYPE_EXP1, 10), // short (24 B) but valid       24 B
      frame('ff:ff:ff:ff:ff:ff', PEER, ETHERTYPE_EXP1, 46), // broadcast   60 B
      frame(etherMapIpMulticast(Uint8Array.of(239, 1, 1, 1)), PEER, ETHERTYPE_EXP1, 100), // joined group 114 B
      frame(etherMapIpMulticast(Uint8Array.of(239, 1, 1, 2)), PEER, ETHERTYPE_EXP1, 46), // not joined: filtered
      frame('02:00:00:00:00:99', PEER, ETHERTYPE_EXP1, 46), // foreign unicast: filtered
      frame(ME, PEER, 0x9999, 46), // unknown EtherType                    60 B
      new Uint8Array(13), // runt
      frame(ME, PEER, ETHERTYPE_EXP1, 1501 + 4), // too long
    ];
    dev.inject(frames);
    const d = ifp.if_data;
    expect(d.ifi_ipackets).toBe(5);
    expect(d.ifi_ibytes).toBe(60 + 24 + 60 + 114 + 60);
    expect(d.ifi_imcasts).toBe(2);
    expect(d.ifi_noproto).toBe(1);
    expect(d.ifi_ierrors).toBe(2);
    expect(ifp.if_linkmib!.dot3StatsFrameTooLongs).toBe(1);
    expect(ifp.if_rxfiltered).toBe(2);
    expect(seen).toEqual([46, 10, 46, 100]);
    expect(d.ifi_collisions).toBe(0);
  });

  it('promiscuous mode counts foreign unicast but does not hand it to protocols', () => {
    const { h, dev, ifp } = fakeHost();
    let delivered = 0;
    h.registerEthertype(ETHERTYPE_EXP1, () => delivered++);
    ifpromisc(ifp, true);
    dev.inject([frame('02:00:00:00:00:99', PEER, ETHERTYPE_EXP1)]);
    expect(ifp.if_data.ifi_ipackets).toBe(1);
    expect(delivered).toBe(0);
  });

  it('a protocol registered twice for one EtherType is refused', () => {
    const { h } = fakeHost();
    h.registerEthertype(0x88b6, () => {});
    expect(errCode(() => h.registerEthertype(0x88b6, () => {}))).toBe('EEXIST');
    expect(errCode(() => h.registerEthertype(0x0100, () => {}))).toBe('EINVAL');
  });
});

describe('ether_output, if_snd and if_start', () => {
  it('encapsulates, maps multicast destinations and counts output on acceptance', () => {
    const { dev, ifp } = fakeHost();
    const payload = new Uint8Array(100);
    expect(ether_output(ifp, payload, 0, 100, sockaddrIn('239.1.2.3')!, 0)).toBe(0);
    expect(ether_output(ifp, payload, 0, 50, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1)).toBe(0);
    const [a] = dev.writes[0];
    const [b] = dev.writes[1];
    expect(sockaddrToString(sockaddrDl(a.subarray(0, 6)))).toBe('01:00:5e:01:02:03');
    expect(sockaddrToString(sockaddrDl(a.subarray(6, 12)))).toBe(ME);
    expect((a[12] << 8) | a[13]).toBe(0x0800);
    expect(b.length).toBe(64);
    expect(ifp.if_data.ifi_opackets).toBe(2);
    expect(ifp.if_data.ifi_obytes).toBe(114 + 64);
    expect(ifp.if_data.ifi_omcasts).toBe(1);
  });

  it('refuses oversize datagrams, unresolvable unicast and a down interface', () => {
    const { h, ifp } = fakeHost();
    expect(ether_output(ifp, new Uint8Array(1501), 0, 1501, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1)).toBe(ERRNO.EMSGSIZE);
    expect(ether_output(ifp, new Uint8Array(10), 0, 10, sockaddrIn('192.0.2.7')!, 0)).toBe(ERRNO.EHOSTUNREACH);
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: 0 });
    expect(ether_output(ifp, new Uint8Array(10), 0, 10, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1)).toBe(ERRNO.ENETDOWN);
  });

  it('under back-pressure sets IFF_DRV_OACTIVE, queues up to ifq_maxlen, drops the rest, resumes on writable', () => {
    const L = vlab();
    const h = L.host('h1', { inet: false });
    const dev = new FakeDevice();
    const ifp = h.addEther(dev, { name: 'em0', mac: ME, sndMaxlen: 8 });
    dev.budget = 2;
    const p = new Uint8Array(46);
    const results: number[] = [];
    for (let i = 0; i < 12; i++) {
      p[0] = i;
      results.push(ether_output(ifp, p, 0, 46, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1));
    }
    // 2 accepted by the device, then 8 queued, then 2 dropped.
    expect(results.filter((r) => r === 0).length).toBe(10);
    expect(results.filter((r) => r === ERRNO.ENOBUFS).length).toBe(2);
    expect(ifp.if_drv_flags & IFF_DRV_OACTIVE).toBeTruthy();
    expect(ifp.if_snd.ifq_len).toBe(8);
    expect(ifp.if_snd.ifq_drops).toBe(2);
    expect(ifp.if_data.ifi_oqdrops).toBe(2);
    expect(ifp.if_data.ifi_opackets).toBe(2);
    dev.budget = Infinity;
    dev.h.writable();
    expect(ifp.if_drv_flags & IFF_DRV_OACTIVE).toBe(0);
    expect(ifp.if_snd.ifq_len).toBe(0);
    expect(ifp.if_data.ifi_opackets).toBe(10);
    const order = dev.writes.flat().map((f) => f[14]);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('sends everything a receive batch produces in one device write', () => {
    const { h, dev, ifp } = fakeHost();
    h.registerEthertype(ETHERTYPE_EXP1, (i, buf, off, len) => {
      ether_output(i, buf, off, len, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1);
    });
    dev.inject(Array.from({ length: 32 }, () => frame(ME, PEER, ETHERTYPE_EXP1)));
    expect(dev.writes.length).toBe(1);
    expect(dev.writes[0].length).toBe(32);
    expect(ifp.if_data.ifi_opackets).toBe(32);
  });

  it('a device that disappears marks the link down, counts output errors and keeps the host running', () => {
    const { dev, ifp } = fakeHost();
    dev.gone = true;
    expect(ether_output(ifp, new Uint8Array(46), 0, 46, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1)).toBe(0);
    expect(ifp.if_data.ifi_oerrors).toBe(1);
    expect(ifp.if_link_state).toBe(LINK_STATE_DOWN);
    expect(ifp.if_lasterror?.message).toMatch(/deleted/);
    expect(ether_output(ifp, new Uint8Array(46), 0, 46, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1)).toBe(ERRNO.ENETDOWN);
  });
});

describe('in-memory segment', () => {
  function twoHosts(opts = {}) {
    const L = vlab(7);
    const seg = L.segment(opts);
    const a = L.host('a', { inet: false });
    const b = L.host('b', { inet: false });
    const ia = L.attach(a, seg, { name: 'em0', mac: '02:00:00:00:0a:01' });
    const ib = L.attach(b, seg, { name: 'em0', mac: '02:00:00:00:0b:01' });
    return { L, seg, a, b, ia, ib };
  }

  it('carries frames between hosts in virtual time, after the configured delay', () => {
    const { L, b, ia, ib } = twoHosts({ delayMs: 5 });
    const got: number[] = [];
    b.registerEthertype(ETHERTYPE_EXP1, () => got.push(L.sched.now()));
    ether_output(ia, new Uint8Array(46), 0, 46, sockaddrDl(mac('02:00:00:00:0b:01')), ETHERTYPE_EXP1);
    expect(got).toEqual([]);
    L.run(4);
    expect(got).toEqual([]);
    L.run(1);
    expect(got).toEqual([5]);
    expect(ib.if_data.ifi_ipackets).toBe(1);
    expect(ia.if_data.ifi_opackets).toBe(1);
  });

  it('a host receives a group only after joining it (the filter is the NIC)', () => {
    const { L, b, ia, ib } = twoHosts();
    let got = 0;
    b.registerEthertype(ETHERTYPE_EXP1, () => got++);
    const send = () => ether_output(ia, new Uint8Array(46), 0, 46, sockaddrIn('239.5.5.5')!, ETHERTYPE_EXP1);
    send();
    L.run();
    expect(got).toBe(0);
    expect(ib.if_data.ifi_ipackets).toBe(0);
    if_addmulti(ib, sockaddrIn('239.5.5.5')!);
    send();
    L.run();
    expect(got).toBe(1);
    expect(ib.if_data.ifi_imcasts).toBe(1);
  });

  it('loses frames at the configured rate, the same way for the same seed', () => {
    const run = () => {
      const { L, seg, ia, ib } = twoHosts({ loss: 0.3 });
      for (let i = 0; i < 400; i++) ether_output(ia, new Uint8Array(46), 0, 46, sockaddrDl(mac('ff:ff:ff:ff:ff:ff')), ETHERTYPE_EXP1);
      L.run();
      return { lost: seg.lost, got: ib.if_data.ifi_ipackets };
    };
    const r1 = run();
    expect(r1.lost + r1.got).toBe(400);
    expect(r1.lost).toBeGreaterThan(80);
    expect(r1.lost).toBeLessThan(160);
    expect(run()).toEqual(r1);
  });

  it('unplugging the cable marks both ends of the link state and stops delivery', () => {
    const { L, seg, ia, ib } = twoHosts();
    const port = seg.attached[1];
    (port as { setLink(up: boolean): void }).setLink(false);
    expect(ib.if_link_state).toBe(LINK_STATE_DOWN);
    ether_output(ia, new Uint8Array(46), 0, 46, sockaddrDl(mac('ff:ff:ff:ff:ff:ff')), ETHERTYPE_EXP1);
    L.run();
    expect(ib.if_data.ifi_ipackets).toBe(0);
    (port as { setLink(up: boolean): void }).setLink(true);
    expect(ib.if_link_state).toBe(LINK_STATE_UP);
  });
});

describe('loopback', () => {
  it('delivers its output back to the host and counts both directions', () => {
    const L = vlab();
    const h = L.host('h1', { inet: false });
    const got: number[] = [];
    h.registerEthertype(0x0800, (ifp: Ifnet, buf, off, len, m) => got.push(len, m, ifp.if_index));
    const dgram = new Uint8Array(28);
    dgram[0] = 0x45;
    dgram.set([224, 0, 0, 1], 16);
    expect(h.lo0.if_output(h.lo0, dgram, 0, 28, sockaddrIn('224.0.0.1')!, 0)).toBe(0);
    expect(got).toEqual([28, 0x400, 1]);
    const d = h.lo0.if_data;
    expect([d.ifi_opackets, d.ifi_obytes, d.ifi_ipackets, d.ifi_ibytes, d.ifi_imcasts, d.ifi_omcasts]).toEqual([1, 28, 1, 28, 1, 1]);
    void AF_INET;
  });
});
