import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { errnoOf } from '../helpers/errno.js';
import { SysctlTree } from '../../src/stats/sysctl.js';
import { decodeCounters, isLayoutError } from '../../src/stats/layouts.js';
import { Icmp6Stat, IpStat, UdpStat } from '../../src/stats/inet_stats.js';
import { IP_ADD_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import { MCAST_EXCLUDE } from '../../src/inet/in_mcast.js';

const code = errnoOf;

function lab() {
  const L = vlab(7);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:0a:01' });
  const peer = L.host('h2');
  const pe = L.attach(peer, seg, { name: 'em0', mac: '02:00:00:00:0b:01' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  peer.inet.v4.addAddress(pe, '192.0.2.20/24');
  L.run(3000);
  return { L, h, em0, peer, pe, tree: new SysctlTree(h) };
}

const u64 = (b: Uint8Array, off: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(off, true));

describe('sysctl: protocol statistics in FreeBSD layouts', () => {
  it('sizes and numeric OIDs are FreeBSD\'s', () => {
    const { tree } = lab();
    const sizes: [string, number[], number][] = [
      ['net.inet.ip.stats', [4, 2, 0, 12], 232],
      ['net.inet.icmp.stats', [4, 2, 1, 2], 752],
      ['net.inet.udp.stats', [4, 2, 17, 2], 112],
      ['net.inet6.ip6.stats', [4, 28, 41, 6], 3320],
      ['net.inet6.icmp6.stats', [4, 28, 58, 1], 4632],
    ];
    for (const [name, oid, size] of sizes) {
      expect(tree.name2oid(name)).toEqual(oid);
      expect(tree.get(oid).bytes.byteLength, name).toBe(size);
      expect(tree.describe(name).fmt).toMatch(/^S,/);
    }
    expect(tree.get('net.inet6.ip6.ifstats.2').bytes.byteLength).toBe(160);
    expect(tree.get('net.inet6.icmp6.ifstats.2').bytes.byteLength).toBe(272);
  });

  it('counters land at their field offsets and round-trip', () => {
    const { h, pe, peer, tree, L } = lab();
    // The peer sends UDP to a port nobody listens on: ip input counts, UDP
    // counts noport, ICMP sends a port unreachable.
    const ps = peer.inet.socket().bind('192.0.2.20', 4000);
    ps.send('x', '192.0.2.10', 9);
    L.run(1000);
    void pe;
    const ip = tree.get('net.inet.ip.stats');
    const v = ip.value as IpStat;
    expect(v.ips_total).toBeGreaterThan(0);
    expect(u64(ip.bytes, 0)).toBe(v.ips_total); // ips_total is first
    expect(u64(ip.bytes, 14 * 8)).toBe(v.ips_delivered); // 15th field
    const icmp = tree.get('net.inet.icmp.stats').bytes;
    // icps_inhist starts after error, oldshort, oldicmp, outhist[41], badcode, tooshort, checksum, badlen, reflect.
    expect(u64(icmp, 0)).toBe(1); // icps_error
    expect(u64(icmp, (3 + 3) * 8)).toBe(1); // outhist[ICMP_UNREACH = 3]
    expect(u64(tree.get('net.inet.udp.stats').bytes, 5 * 8)).toBe(1); // udps_noport
    const back = decodeCounters(new IpStat(), ip.bytes, 'ipstat');
    expect(isLayoutError(back)).toBe(false);
    expect(back).toEqual(v);
    // The value is a copy: later traffic does not change what was read.
    const before = v.ips_total;
    ps.send('y', '192.0.2.10', 9);
    L.run(1000);
    expect(v.ips_total).toBe(before);
    expect((tree.get('net.inet.ip.stats').value as IpStat).ips_total).toBeGreaterThan(before);
    expect(h.inet.ipstat.ips_total).toBeGreaterThan(before);
  });

  it('icmp6stat: icp6s_outerrhist sits after nd_toomanyopt; MLD reports count per interface', () => {
    const { h, em0, tree } = lab();
    h.inet.icmp6stat.icp6s_outerrhist.icp6errs_dst_unreach_noport = 5;
    const b = tree.get('net.inet6.icmp6.stats').bytes;
    expect(u64(b, (3 + 256 + 6 + 256 + 1 + 4) * 8)).toBe(5);
    const ifs = tree.get(`net.inet6.icmp6.ifstats.${em0.if_index}`).value as Record<string, number>;
    expect(ifs.ifs6_out_mldreport).toBeGreaterThan(0);
    expect(ifs.ifs6_out_msg).toBeGreaterThanOrEqual(ifs.ifs6_out_mldreport);
  });

  it('writing a statistics leaf zeroes it (netstat -z); a wrong length is EINVAL', () => {
    const { h, em0, tree } = lab();
    h.inet.udpstat.udps_opackets = 9;
    expect(code(() => tree.set('net.inet.udp.stats', new Uint8Array(8)))).toBe('EINVAL');
    expect(h.inet.udpstat.udps_opackets).toBe(9);
    tree.set('net.inet.udp.stats', new Uint8Array(112));
    expect(h.inet.udpstat).toEqual(new UdpStat());
    tree.set('net.inet6.icmp6.stats', 0);
    expect(h.inet.icmp6stat).toEqual(new Icmp6Stat());
    tree.set(`net.inet6.ip6.ifstats.${em0.if_index}`, 0);
    expect((tree.get(`net.inet6.ip6.ifstats.${em0.if_index}`).value as Record<string, number>).ifs6_out_mcast).toBe(0);
  });

  it('per-interface tables: ENOENT for holes, EINVAL for a wrong name length', () => {
    const { tree } = lab();
    expect(code(() => tree.get('net.inet6.ip6.ifstats.9'))).toBe('ENOENT');
    expect(code(() => tree.get('net.inet6.ip6.ifstats.1.2'))).toBe('EINVAL');
    expect(code(() => tree.get('net.inet6.ip6.ifstats.x'))).toBe('ENOENT');
    expect(tree.list('net.inet6.icmp6.ifstats')).toEqual(['net.inet6.icmp6.ifstats.1', 'net.inet6.icmp6.ifstats.2']);
  });
});

describe('sysctl: knobs with FreeBSD ranges', () => {
  it('IGMP knobs change the protocol and refuse out-of-range values', () => {
    const { h, tree } = lab();
    expect(tree.get('net.inet.igmp.sendra').value).toBe(1);
    tree.set('net.inet.igmp.sendra', 0);
    expect(h.igmp.knobs.sendra).toBe(false);
    tree.set('net.inet.igmp.v1enable', '7');
    expect(tree.get('net.inet.igmp.v1enable').value).toBe(1);
    tree.set('net.inet.igmp.gsrdelay', 59);
    expect(code(() => tree.set('net.inet.igmp.gsrdelay', 60))).toBe('EINVAL');
    expect(code(() => tree.set('net.inet.igmp.gsrdelay', -2))).toBe('EINVAL');
    expect(code(() => tree.set('net.inet.igmp.v2enable', 'yes'))).toBe('EINVAL');
    expect(h.igmp.knobs.gsrdelay).toBe(59);
    const b = tree.get('net.inet.igmp.gsrdelay').bytes;
    expect(Array.from(b)).toEqual([59, 0, 0, 0]);
  });

  it('MLD knobs, the MLD default version and the shared multicast source limits', () => {
    const { h, em0, tree } = lab();
    tree.set('net.inet6.mld.default_version', 1);
    expect(tree.get(`net.inet6.mld.ifinfo.${em0.if_index}`).value).toMatchObject({ mli_version: 1 });
    expect(code(() => tree.set('net.inet6.mld.default_version', 3))).toBe('EINVAL');
    tree.set('net.inet6.mld.use_allow', 0);
    expect(h.mld.knobs.use_allow).toBe(false);
    tree.set('net.inet.ip.mcast.maxsocksrc', 2);
    expect(tree.get('net.inet6.ip6.mcast.maxsocksrc').value).toBe(2);
    expect(tree.get('net.inet.ip.mcast.maxsocksrc').bytes.byteLength).toBe(8);
    expect(code(() => tree.set('net.inet.ip.mcast.maxgrpsrc', -1))).toBe('EINVAL');
    // The limit bites where FreeBSD applies it, in setsourcefilter: three sources are refused.
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.9.9.9' });
    const ifindex = h.ifunit('em0')!.if_index;
    expect(code(() => so.setsourcefilter(ifindex, '239.9.9.9', MCAST_EXCLUDE, ['198.51.100.1', '198.51.100.2', '198.51.100.3']))).toBe('ENOBUFS');
    so.setsourcefilter(ifindex, '239.9.9.9', MCAST_EXCLUDE, ['198.51.100.1', '198.51.100.2']);
    expect(tree.describe('net.inet.ip.mcast.maxsocksrc')).toMatchObject({ fmt: 'LU', writable: true });
  });

  it('every leaf has a format and a description, and reads without throwing', () => {
    const { tree } = lab();
    for (const name of tree.list()) {
      const d = tree.describe(name);
      expect(d.fmt, name).toMatch(/^(I|IU|LU|A|S,[a-z0-9_]+)$/);
      expect(d.descr.length, name).toBeGreaterThan(5);
      expect(() => tree.get(name), name).not.toThrow();
    }
  });
});
