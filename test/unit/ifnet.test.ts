import { describe, expect, it } from 'vitest';
import { vlab, mac } from '../helpers/vlab.js';
import {
  IFF_ALLMULTI,
  IFF_BROADCAST,
  IFF_DRV_RUNNING,
  IFF_LOOPBACK,
  IFF_MULTICAST,
  IFF_PPROMISC,
  IFF_PROMISC,
  IFF_SIMPLEX,
  IFF_UP,
  IFCAP_JUMBO_MTU,
  IFCAP_VLAN_MTU,
  IFT_ETHER,
  LINK_STATE_DOWN,
  LINK_STATE_UP,
  SIOCADDMULTI,
  SIOCDELMULTI,
  SIOCGIFCAP,
  SIOCGIFFLAGS,
  SIOCGIFMTU,
  SIOCSIFCAP,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
} from '../../src/driver/if_var.js';
import {
  if_addmulti,
  if_allmulti,
  if_delmulti,
  if_findmulti,
  ifpromisc,
  type Ifnet,
} from '../../src/driver/ifnet.js';
import { AF_INET, AF_INET6, AF_LINK, sockaddrDl, sockaddrIn, sockaddrToString, type Sockaddr } from '../../src/driver/sockaddr.js';
import { etherSoftc } from '../../src/driver/ether_drv.js';
import { isKernError, KernError } from '../../src/kern/errno.js';
import type { HwFilter } from '../../src/driver/device.js';

function in4(s: string): Sockaddr {
  return sockaddrIn(s)!;
}
function in6(bytes: number[]): Sockaddr {
  const a = new Uint8Array(16);
  a.set(bytes.slice(0, 2), 0);
  a.set(bytes.slice(2), 16 - (bytes.length - 2));
  return { family: AF_INET6, addr: a, scopeId: 0 };
}
function link(s: string): Sockaddr {
  return sockaddrDl(mac(s));
}
function listing(ifp: Ifnet): string[] {
  return ifp.if_multiaddrs.map((m) => `${sockaddrToString(m.ifma_addr)}#${m.ifma_refcount}`);
}
function errCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernError) return e.code;
    throw e;
  }
  return 'no error';
}

function setup() {
  const L = vlab();
  const seg = L.segment();
  const h = L.host('h1', { inet: false });
  const port = seg.port('h1.em0');
  const filters: HwFilter[] = [];
  const orig = port.setFilter.bind(port);
  port.setFilter = (f) => {
    filters.push({ ...f, addrs: f.addrs.map((a) => Uint8Array.from(a)) });
    orig(f);
  };
  const ifp = h.addEther(port, { name: 'em0', mac: '02:00:00:00:00:01' });
  return { L, h, ifp, filters, port };
}

describe('ifnet attach and identity', () => {
  it('gives lo0 index 1, Ethernet the next, with BSD flags and an AF_LINK address first', () => {
    const { h, ifp } = setup();
    expect(h.lo0.if_xname).toBe('lo0');
    expect(h.lo0.if_index).toBe(1);
    expect(h.lo0.if_flags & (IFF_LOOPBACK | IFF_MULTICAST | IFF_UP)).toBe(IFF_LOOPBACK | IFF_MULTICAST | IFF_UP);
    expect(ifp.if_index).toBe(2);
    expect(ifp.if_type).toBe(IFT_ETHER);
    expect(ifp.if_dname).toBe('em');
    expect(ifp.if_dunit).toBe(0);
    expect((ifp.if_flags | ifp.if_drv_flags) >>> 0).toBe(IFF_UP | IFF_BROADCAST | IFF_DRV_RUNNING | IFF_SIMPLEX | IFF_MULTICAST);
    expect((ifp.if_flags | ifp.if_drv_flags).toString(16)).toBe('8843');
    expect(ifp.if_addrhead[0].ifa_addr.family).toBe(AF_LINK);
    expect(sockaddrToString(ifp.if_addrhead[0].ifa_addr)).toBe('02:00:00:00:00:01');
    expect(ifp.if_link_state).toBe(LINK_STATE_UP);
    expect(ifp.if_snd.ifq_maxlen).toBeGreaterThan(50); // the driver sets its own, larger limit
  });

  it('reuses the lowest free index and ifcount is the highest index in use', () => {
    const { L, h } = setup();
    const seg = L.segment();
    const a = h.addEther(seg.port(), { name: 'em1' });
    const b = h.addEther(seg.port(), { name: 'em2' });
    expect([a.if_index, b.if_index, h.ifnets.if_index]).toEqual([3, 4, 4]);
    h.removeInterface('em1');
    expect(h.ifnets.if_index).toBe(4);
    expect(h.ifnets.byindex(3)).toBeUndefined();
    const c = h.addEther(seg.port(), { name: 'em3' });
    expect(c.if_index).toBe(3);
    h.removeInterface('em2');
    expect(h.ifnets.if_index).toBe(3);
  });

  it('rejects bad and duplicate names, and bad MACs, leaving nothing half-created', () => {
    const { L, h } = setup();
    const seg = L.segment();
    expect(errCode(() => h.addEther(seg.port(), { name: 'a-very-long-name0' }))).toBe('EINVAL');
    expect(errCode(() => h.addEther(seg.port(), { name: 'em 1' }))).toBe('EINVAL');
    expect(errCode(() => h.addEther(seg.port(), { name: 'em0' }))).toBe('EEXIST');
    expect(errCode(() => h.addEther(seg.port(), { name: 'em5', mac: '01:00:5e:00:00:01' }))).toBe('EINVAL');
    expect(errCode(() => h.addEther(seg.port(), { name: 'em5', mac: 'zz' }))).toBe('EINVAL');
    expect(h.interfaces().map((i) => i.if_xname)).toEqual(['lo0', 'em0']);
  });
});

describe('multicast memberships (if_addmulti / if_delmulti)', () => {
  it('lists newest first, protocol entry before its new link-layer entry, sharing link entries', () => {
    const { ifp } = setup();
    if_addmulti(ifp, in4('224.0.0.1'));
    if_addmulti(ifp, in6([0xff, 0x02, 0x01])); // ff02::1
    if_addmulti(ifp, in6([0xff, 0x01, 0x01])); // ff01::1 shares 33:33:00:00:00:01
    if_addmulti(ifp, in4('239.1.2.3'));
    expect(listing(ifp)).toEqual([
      '239.1.2.3#1',
      '01:00:5e:01:02:03#1',
      'ff01::1#1',
      'ff02::1#1',
      '33:33:00:00:00:01#2',
      '224.0.0.1#1',
      '01:00:5e:00:00:01#1',
    ]);
    const g = if_findmulti(ifp, in4('239.1.2.3'))!;
    expect(sockaddrToString(g.ifma_lladdr!)).toBe('01:00:5e:01:02:03');
  });

  it('counts references: re-joining bumps the count without reordering; the last leave removes', () => {
    const { ifp } = setup();
    if_addmulti(ifp, in4('239.1.1.1'));
    if_addmulti(ifp, in4('239.2.2.2'));
    if_addmulti(ifp, in4('239.1.1.1'));
    expect(listing(ifp)).toEqual(['239.2.2.2#1', '01:00:5e:02:02:02#1', '239.1.1.1#2', '01:00:5e:01:01:01#1']);
    if_delmulti(ifp, in4('239.1.1.1'));
    expect(if_findmulti(ifp, in4('239.1.1.1'))!.ifma_refcount).toBe(1);
    if_delmulti(ifp, in4('239.1.1.1'));
    expect(listing(ifp)).toEqual(['239.2.2.2#1', '01:00:5e:02:02:02#1']);
  });

  it('32 IPv4 groups share a MAC: the link entry stays until the last of them leaves', () => {
    const { ifp, L } = setup();
    const filter = etherSoftc(ifp).filter;
    const probe = mac('01:00:5e:01:01:01');
    if_addmulti(ifp, in4('239.1.1.1'));
    if_addmulti(ifp, in4('224.1.1.1')); // same low 23 bits
    expect(if_findmulti(ifp, link('01:00:5e:01:01:01'))!.ifma_refcount).toBe(2);
    if_delmulti(ifp, in4('239.1.1.1'));
    expect(filter.accepts(probe, 0)).toBe(true);
    if_delmulti(ifp, in4('224.1.1.1'));
    expect(if_findmulti(ifp, link('01:00:5e:01:01:01'))).toBeUndefined();
    expect(filter.accepts(probe, 0)).toBe(false);
    void L;
  });

  it('programs the filter (SIOCADDMULTI) only when a new link-layer address appears', () => {
    const { ifp, filters } = setup();
    const before = filters.length;
    if_addmulti(ifp, in4('239.1.1.1'));
    expect(filters.length).toBe(before + 1);
    expect(filters.at(-1)!.addrs.map((a) => sockaddrToString(sockaddrDl(a)))).toEqual([
      '02:00:00:00:00:01',
      'ff:ff:ff:ff:ff:ff',
      '01:00:5e:01:01:01',
    ]);
    if_addmulti(ifp, in4('239.1.1.1')); // refcount only
    if_addmulti(ifp, in4('224.1.1.1')); // same MAC: no new link address
    expect(filters.length).toBe(before + 1);
    if_delmulti(ifp, in4('224.1.1.1'));
    if_delmulti(ifp, in4('239.1.1.1'));
    expect(filters.length).toBe(before + 1);
    if_delmulti(ifp, in4('239.1.1.1'));
    expect(filters.length).toBe(before + 2);
    expect(filters.at(-1)!.addrs.length).toBe(2);
  });

  it('refuses non-multicast groups and unknown memberships with errno-style errors', () => {
    const { ifp, h } = setup();
    expect(errCode(() => if_addmulti(ifp, in4('192.0.2.1')))).toBe('EADDRNOTAVAIL');
    expect(errCode(() => if_addmulti(ifp, link('02:00:00:00:00:09')))).toBe('EADDRNOTAVAIL');
    expect(errCode(() => if_delmulti(ifp, in4('239.9.9.9')))).toBe('ENOENT');
    expect(errCode(() => if_addmulti(h.lo0, link('01:00:5e:00:00:01')))).toBe('EOPNOTSUPP');
    expect(ifp.if_multicount).toBe(0);
  });

  it('loopback keeps protocol memberships without link-layer mappings', () => {
    const { h } = setup();
    const m = if_addmulti(h.lo0, in4('224.0.0.1'));
    expect(m.ifma_lladdr).toBeNull();
    expect(listing(h.lo0)).toEqual(['224.0.0.1#1']);
    if_delmulti(h.lo0, in4('224.0.0.1'));
    expect(h.lo0.if_multicount).toBe(0);
  });
});

describe('promiscuous and all-multicast reference counts', () => {
  it('flips IFF_PROMISC only on 0<->1 and tells the driver each time', () => {
    const { ifp, filters } = setup();
    const n0 = filters.length;
    ifpromisc(ifp, true);
    ifpromisc(ifp, true);
    expect(ifp.if_pcount).toBe(2);
    expect(ifp.if_flags & IFF_PROMISC).toBeTruthy();
    expect(filters.length).toBe(n0 + 1);
    expect(filters.at(-1)!.promisc).toBe(true);
    ifpromisc(ifp, false);
    expect(ifp.if_flags & IFF_PROMISC).toBeTruthy();
    ifpromisc(ifp, false);
    expect(ifp.if_flags & IFF_PROMISC).toBe(0);
    expect(filters.length).toBe(n0 + 2);
    expect(filters.at(-1)!.promisc).toBe(false);
    expect(errCode(() => ifpromisc(ifp, false))).toBe('EINVAL');
    expect(ifp.if_pcount).toBe(0);
  });

  it('keeps IFF_PROMISC while the permanent IFF_PPROMISC is set', () => {
    const { ifp, h } = setup();
    const flags = h.ioctl(SIOCGIFFLAGS, { ifr_name: 'em0' }).ifr_flags!;
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: flags | IFF_PPROMISC });
    expect(ifp.if_flags & IFF_PROMISC).toBeTruthy();
    ifpromisc(ifp, true);
    ifpromisc(ifp, false);
    expect(ifp.if_flags & IFF_PROMISC).toBeTruthy();
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: flags & ~IFF_PPROMISC });
    expect(ifp.if_flags & IFF_PROMISC).toBe(0);
  });

  it('counts all-multicast listeners and opens the filter to every group', () => {
    const { ifp, filters } = setup();
    if_allmulti(ifp, true);
    if_allmulti(ifp, true);
    expect(ifp.if_amcount).toBe(2);
    expect(filters.at(-1)!.allmulti).toBe(true);
    expect(etherSoftc(ifp).filter.accepts(mac('01:00:5e:7f:00:01'), 0)).toBe(true);
    if_allmulti(ifp, false);
    expect(ifp.if_flags & IFF_ALLMULTI).toBeTruthy();
    if_allmulti(ifp, false);
    expect(ifp.if_flags & IFF_ALLMULTI).toBe(0);
    expect(etherSoftc(ifp).filter.accepts(mac('01:00:5e:7f:00:01'), 0)).toBe(false);
    expect(errCode(() => if_allmulti(ifp, false))).toBe('EINVAL');
  });
});

describe('ifioctl', () => {
  it('SIOCGIFFLAGS / SIOCSIFFLAGS: IFF_CANTCHANGE bits are masked, UP goes through if_up/if_down', () => {
    const { h, ifp } = setup();
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: IFF_UP | IFF_LOOPBACK | IFF_PROMISC }); // LOOPBACK, PROMISC can't change
    expect(ifp.if_flags & (IFF_LOOPBACK | IFF_PROMISC)).toBe(0);
    expect(ifp.if_flags & IFF_BROADCAST).toBeTruthy(); // kept although not asked for
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: 0 });
    expect(ifp.if_flags & IFF_UP).toBe(0);
    expect(ifp.if_drv_flags & IFF_DRV_RUNNING).toBe(0);
    expect(h.ioctl(SIOCGIFFLAGS, { ifr_name: 'em0' }).ifr_flags! & IFF_UP).toBe(0);
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: IFF_UP });
    expect(ifp.if_drv_flags & IFF_DRV_RUNNING).toBeTruthy();
  });

  it('SIOCSIFMTU enforces 72..65535 and the device limit; SIOCGIFMTU reads it', () => {
    const { h, ifp } = setup();
    expect(errCode(() => h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: 71 }))).toBe('EINVAL');
    expect(errCode(() => h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: 65536 }))).toBe('EINVAL');
    expect(errCode(() => h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: 65535 }))).toBe('EINVAL'); // segment carries 9022
    expect(errCode(() => h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: 1.5 }))).toBe('EINVAL');
    h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: 72 });
    expect(h.ioctl(SIOCGIFMTU, { ifr_name: 'em0' }).ifr_mtu).toBe(72);
    h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: 9000 });
    expect(ifp.if_mtu).toBe(9000);
    expect(ifp.if_snd.slotSize).toBeGreaterThanOrEqual(9018);
  });

  it('SIOCSIFCAP refuses capabilities the interface lacks; SIOCGIFCAP reads both sets', () => {
    const { h, ifp } = setup();
    expect(errCode(() => h.ioctl(SIOCSIFCAP, { ifr_name: 'em0', ifr_reqcap: 0x1 }))).toBe('EINVAL');
    h.ioctl(SIOCSIFCAP, { ifr_name: 'em0', ifr_reqcap: IFCAP_JUMBO_MTU });
    const r = h.ioctl(SIOCGIFCAP, { ifr_name: 'em0' });
    expect(r.ifr_curcap).toBe(IFCAP_JUMBO_MTU);
    expect(r.ifr_reqcap! & IFCAP_VLAN_MTU).toBeTruthy();
    void ifp;
  });

  it('SIOCADDMULTI / SIOCDELMULTI take only AF_LINK addresses; deleting a missing one is ENOENT', () => {
    const { h, ifp } = setup();
    expect(errCode(() => h.ioctl(SIOCADDMULTI, { ifr_name: 'em0', ifr_addr: in4('239.1.1.1') }))).toBe('EINVAL');
    expect(errCode(() => h.ioctl(SIOCADDMULTI, { ifr_name: 'em0' }))).toBe('EINVAL');
    h.ioctl(SIOCADDMULTI, { ifr_name: 'em0', ifr_addr: link('01:00:5e:01:02:03') });
    expect(listing(ifp)).toEqual(['01:00:5e:01:02:03#1']);
    expect(errCode(() => h.ioctl(SIOCDELMULTI, { ifr_name: 'em0', ifr_addr: link('01:00:5e:09:09:09') }))).toBe('ENOENT');
    h.ioctl(SIOCDELMULTI, { ifr_name: 'em0', ifr_addr: link('01:00:5e:01:02:03') });
    expect(ifp.if_multicount).toBe(0);
  });

  it('an unknown interface is ENXIO and an unknown command EINVAL, each with a sentence', () => {
    const { h } = setup();
    try {
      h.ioctl(SIOCGIFFLAGS, { ifr_name: 'em9' });
      expect.fail('no error');
    } catch (e) {
      expect(isKernError(e, 'ENXIO')).toBe(true);
      expect((e as Error).message).toMatch(/ENXIO: SIOCGIFFLAGS: no interface named "em9" on host h1/);
    }
    expect(errCode(() => h.ioctl(0xdeadbeef, { ifr_name: 'em0' }))).toBe('EINVAL');
  });

  it('updates ifi_lastchange on flag and link changes', () => {
    const { h, ifp, L, port } = setup();
    L.run(5000);
    h.ioctl(SIOCSIFFLAGS, { ifr_name: 'em0', ifr_flags: 0 });
    const t1 = ifp.if_data.ifi_lastchange.tv_sec;
    L.run(3000);
    port.setLink(false);
    expect(ifp.if_link_state).toBe(LINK_STATE_DOWN);
    expect(ifp.if_data.ifi_lastchange.tv_sec).toBe(t1 + 3);
  });
});

void AF_INET;
