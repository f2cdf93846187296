import { describe, expect, it } from 'vitest';
import { vlab, mac } from '../helpers/vlab.js';
import { KernError } from '../../src/kern/errno.js';
import { ether_output, ETHERTYPE_EXP1 } from '../../src/l2/ether.js';
import { sockaddrDl } from '../../src/driver/sockaddr.js';
import { ifpromisc } from '../../src/driver/ifnet.js';
import {
  decodeIfmibdata,
  encodeIgmpIfinfo,
  encodeMldIfinfo,
  encodeIgmpstat,
  isLayoutError,
  IFMIBDATA_SIZE,
  IGMPSTAT_SIZE,
} from '../../src/stats/layouts.js';
import { ifmibRows, SysctlTree } from '../../src/stats/sysctl.js';

function errOf(fn: () => unknown): KernError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernError) return e;
    throw e;
  }
  throw new Error('expected a KernError');
}
const code = (fn: () => unknown) => errOf(fn).code;

const PEER = '02:00:00:00:0b:01';

function lab() {
  const L = vlab(3);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:0a:01' });
  const peer = L.host('h2');
  const pe = L.attach(peer, seg, { name: 'em0', mac: PEER });
  const tree = new SysctlTree(h);
  return { L, seg, h, em0, peer, pe, tree };
}

const IFCOUNT = [4, 18, 0, 1, 1];
const row = (idx: number, col: number) => [4, 18, 0, 2, idx, col];

describe('SysctlTree: names and numeric OIDs', () => {
  it('a name and its numeric OID give the same bytes', () => {
    const { tree, em0 } = lab();
    const i = em0.if_index;
    expect(tree.name2oid('net.link.generic.system.ifcount')).toEqual(IFCOUNT);
    expect(tree.get(IFCOUNT).bytes).toEqual(tree.get('net.link.generic.system.ifcount').bytes);
    for (const [col, name] of [[1, 'general'], [2, 'linkspecific'], [3, 'drivername']] as const) {
      expect(tree.name2oid(`net.link.generic.ifdata.${i}.${name}`)).toEqual(row(i, col));
      expect(tree.oid2name(row(i, col))).toBe(`net.link.generic.ifdata.${i}.${name}`);
      expect(tree.get(row(i, col)).bytes).toEqual(tree.get(`net.link.generic.ifdata.${i}.${name}`).bytes);
    }
    const stats = tree.name2oid('net.inet.igmp.stats');
    expect(stats).toEqual([4, 2, 2, 1]);
    expect(tree.get(stats).bytes).toEqual(tree.get('net.inet.igmp.stats').bytes);
    const ii = tree.name2oid(`net.inet.igmp.ifinfo.${i}`);
    expect(tree.get(ii).bytes).toEqual(tree.get(`net.inet.igmp.ifinfo.${i}`).bytes);
    const mi = tree.name2oid(`net.inet6.mld.ifinfo.${i}`);
    expect(mi.slice(0, 2)).toEqual([4, 28]);
    expect(tree.get(mi).bytes).toEqual(tree.get(`net.inet6.mld.ifinfo.${i}`).bytes);
  });

  it('list() gives the leaves, and a prefix narrows them', () => {
    const { tree, em0 } = lab();
    const all = tree.list();
    expect(all).toContain('net.link.generic.system.ifcount');
    expect(all).toContain(`net.link.generic.ifdata.${em0.if_index}.drivername`);
    expect(all).toContain('net.inet.igmp.default_version');
    expect(all).toContain(`net.inet6.mld.ifinfo.${em0.if_index}`);
    expect(tree.list('net.inet.igmp.ifinfo')).toEqual(['net.inet.igmp.ifinfo.1', 'net.inet.igmp.ifinfo.2']);
    expect(tree.list('net.link.generic.system')).toEqual(['net.link.generic.system.ifcount']);
    for (const n of all) expect(() => tree.get(n)).not.toThrow();
  });

  it('unknown names answer ENOENT with a sentence naming the name', () => {
    const { tree } = lab();
    const e = errOf(() => tree.get('net.link.bogus'));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toBe('ENOENT: sysctl net.link.bogus: unknown oid');
    expect(code(() => tree.get([4, 18, 7]))).toBe('ENOENT');
    expect(code(() => tree.set('net.nope', 1))).toBe('ENOENT');
    expect(code(() => tree.list('net.nope'))).toBe('ENOENT');
    expect(code(() => tree.get('net.link'))).toBe('ENOENT');
  });
});

describe('net.link.generic (ifmib)', () => {
  it('ifcount is the highest index in use and stays so after a middle interface is detached', () => {
    const { L, seg, h, tree } = lab();
    const em1 = L.attach(h, seg, { name: 'em1' });
    const em2 = L.attach(h, seg, { name: 'em2' });
    const top = em2.if_index;
    expect(em1.if_index).toBe(top - 1);
    expect(tree.get('net.link.generic.system.ifcount')).toEqual({ value: top, bytes: Uint8Array.of(top, 0, 0, 0) });
    h.removeInterface('em1');
    expect(tree.get(IFCOUNT).value).toBe(top);
    const e = errOf(() => tree.get(row(top - 1, 1)));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toContain(`index ${top - 1}`);
    expect(ifmibRows(tree).map((r) => r.general.name)).toEqual(['lo0', 'em0', 'em2']);
    expect(ifmibRows(tree).map((r) => r.index)).toEqual([1, 2, top]);
    expect(code(() => tree.set(IFCOUNT, 9))).toBe('EPERM');
  });

  it('the general row decodes to the interface name, flags and counters after some traffic', () => {
    const { L, em0, pe, tree } = lab();
    for (let i = 0; i < 3; i++) ether_output(em0, new Uint8Array(46), 0, 46, sockaddrDl(mac(PEER)), ETHERTYPE_EXP1);
    ether_output(pe, new Uint8Array(46), 0, 46, sockaddrDl(mac('02:00:00:00:0a:01')), ETHERTYPE_EXP1);
    ifpromisc(em0, true);
    L.run(10);
    const { value, bytes } = tree.get(`net.link.generic.ifdata.${em0.if_index}.general`);
    expect(bytes.byteLength).toBe(IFMIBDATA_SIZE);
    const d = decodeIfmibdata(bytes);
    if (isLayoutError(d)) throw new Error(d.error);
    expect(d).toEqual(value);
    expect(d.name).toBe('em0');
    expect(d.flags).toBe(em0.if_flags | em0.if_drv_flags);
    expect(d.pcount).toBe(1);
    expect(d.snd_maxlen).toBe(em0.if_snd.ifq_maxlen);
    expect(d.snd_len).toBe(em0.if_snd.ifq_len);
    expect(d.snd_drops).toBe(em0.if_data.ifi_oqdrops);
    expect(d.data.ifi_opackets).toBe(em0.if_data.ifi_opackets);
    expect(d.data.ifi_opackets).toBeGreaterThanOrEqual(3);
    expect(d.data.ifi_ipackets).toBe(em0.if_data.ifi_ipackets);
    expect(d.data.ifi_ipackets).toBeGreaterThanOrEqual(1);
    expect(d.data.ifi_obytes).toBe(em0.if_data.ifi_obytes);
    expect(d.data.ifi_mtu).toBe(em0.if_mtu);
    expect(d.data.ifi_datalen).toBe(152);
  });

  it('drivername is "<dname><dunit>" with its NUL; linkspecific is 124 bytes for Ethernet, 0 for lo0', () => {
    const { h, em0, tree } = lab();
    const dn = tree.get(`net.link.generic.ifdata.${em0.if_index}.drivername`);
    expect(dn.value).toBe('em0');
    expect(dn.bytes).toEqual(new TextEncoder().encode('em0\0'));
    expect(tree.get(row(em0.if_index, 2)).bytes.byteLength).toBe(124);
    const lo = tree.get(row(h.lo0.if_index, 2));
    expect(lo.bytes.byteLength).toBe(0);
    expect(lo.value).toBeNull();
    expect(tree.get(row(h.lo0.if_index, 3)).value).toBe('lo0');
  });

  it('ifdata errors follow if_mib.c', () => {
    const { em0, tree } = lab();
    const i = em0.if_index;
    expect(code(() => tree.get(row(0, 1)))).toBe('ENOENT');
    expect(code(() => tree.get(row(-1, 1)))).toBe('ENOENT');
    expect(code(() => tree.get(row(99, 1)))).toBe('ENOENT');
    expect(code(() => tree.get(row(i, 4)))).toBe('ENOENT');
    expect(code(() => tree.get(`net.link.generic.ifdata.${i}.colour`))).toBe('ENOENT');
    expect(code(() => tree.get('net.link.generic.ifdata.0.general'))).toBe('ENOENT');
    expect(code(() => tree.get([4, 18, 0, 2, i]))).toBe('EINVAL');
    expect(code(() => tree.get([4, 18, 0, 2, i, 1, 1]))).toBe('EINVAL');
    expect(code(() => tree.get([4, 18, 0, 2]))).toBe('EINVAL');
    expect(code(() => tree.get(`net.link.generic.ifdata.${i}`))).toBe('EINVAL');
    expect(code(() => tree.get(`net.link.generic.ifdata.${i}.general.x`))).toBe('EINVAL');
    expect(code(() => tree.set(row(i, 1), new Uint8Array(208)))).toBe('EPERM');
    expect(code(() => tree.set(row(i, 3), new Uint8Array(4)))).toBe('EPERM');
    expect(code(() => tree.set(row(99, 3), new Uint8Array(4)))).toBe('ENOENT');
  });
});

describe('net.inet.igmp and net.inet6.mld', () => {
  it('stats is struct igmpstat', () => {
    const { h, tree } = lab();
    h.igmp.stat.igps_rcv_total = 7;
    const { bytes } = tree.get('net.inet.igmp.stats');
    expect(bytes.byteLength).toBe(IGMPSTAT_SIZE);
    expect(bytes).toEqual(encodeIgmpstat(h.igmp.stat));
    tree.set('net.inet.igmp.stats', new Uint8Array(IGMPSTAT_SIZE));
    expect(h.igmp.stat.igps_rcv_total).toBe(0);
    expect(code(() => tree.set('net.inet.igmp.stats', new Uint8Array(3)))).toBe('EINVAL');
  });

  it('ifinfo bytes match the encoders, and its errors follow igmp.c / mld6.c', () => {
    const { h, em0, tree } = lab();
    const i = em0.if_index;
    expect(tree.get(`net.inet.igmp.ifinfo.${i}`).bytes).toEqual(encodeIgmpIfinfo(h.igmp.ifinfoView(em0)));
    expect(tree.get(`net.inet.igmp.ifinfo.${i}`).bytes.byteLength).toBe(36);
    expect(tree.get(`net.inet6.mld.ifinfo.${i}`).bytes).toEqual(encodeMldIfinfo(h.mld.ifinfoView(em0)));
    expect(tree.get(`net.inet6.mld.ifinfo.${i}`).bytes.byteLength).toBe(32);
    for (const base of ['net.inet.igmp.ifinfo', 'net.inet6.mld.ifinfo']) {
      const oid = tree.name2oid(`${base}.${i}`).slice(0, -1);
      expect(code(() => tree.get(`${base}.0`))).toBe('ENOENT');
      expect(code(() => tree.get(`${base}.99`))).toBe('ENOENT');
      expect(code(() => tree.get(`${base}.em0`))).toBe('ENOENT');
      expect(code(() => tree.get([...oid, -3]))).toBe('ENOENT');
      expect(code(() => tree.get(base))).toBe('EINVAL');
      expect(code(() => tree.get(`${base}.${i}.1`))).toBe('EINVAL');
      expect(code(() => tree.get([...oid, i, 1]))).toBe('EINVAL');
      expect(code(() => tree.set(`${base}.${i}`, new Uint8Array(36)))).toBe('EPERM');
    }
  });

  it('default_version is writable 1..3 and reaches the interfaces', () => {
    const { h, em0, tree } = lab();
    expect(tree.get('net.inet.igmp.default_version')).toEqual({ value: 3, bytes: Uint8Array.of(3, 0, 0, 0) });
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(3);
    tree.set('net.inet.igmp.default_version', 2);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(2);
    expect(tree.get('net.inet.igmp.default_version').value).toBe(2);
    tree.set(tree.name2oid('net.inet.igmp.default_version'), Uint8Array.of(1, 0, 0, 0));
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(1);
    for (const bad of [0, 4, -1]) {
      const e = errOf(() => tree.set('net.inet.igmp.default_version', bad));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toContain('net.inet.igmp.default_version');
      expect(e.message).toContain(String(bad));
    }
    expect(code(() => tree.set('net.inet.igmp.default_version', 2.5))).toBe('EINVAL');
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(1);
  });

  it('a host without the Internet protocols has only the ifmib branch', () => {
    const L = vlab();
    const h = L.host('bare', { inet: false });
    const tree = new SysctlTree(h);
    expect(tree.list().every((n) => n.startsWith('net.link.'))).toBe(true);
    expect(code(() => tree.get('net.inet.igmp.stats'))).toBe('ENOENT');
  });
});
