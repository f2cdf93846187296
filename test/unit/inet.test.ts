import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { KernError } from '../../src/kern/errno.js';
import { inParse } from '../../src/inet/in.js';
import { in6Parse, in6SolicitedNode, in6ToString } from '../../src/inet/in6.js';
import {
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_BLOCK_SOURCE,
  IP_DROP_MEMBERSHIP,
  IP_DROP_SOURCE_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IP_UNBLOCK_SOURCE,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_LOOP,
  MCAST_JOIN_GROUP,
  MCAST_JOIN_SOURCE_GROUP,
  type Datagram,
} from '../../src/inet/socket.js';
import { MCAST_EXCLUDE, MCAST_INCLUDE } from '../../src/inet/in_mcast.js';
import { icmpEmit, ICMP_ECHO } from '../../src/inet/icmp.js';
import { IPPROTO_ICMP } from '../../src/inet/ip_codec.js';
import { sockaddrToString } from '../../src/driver/sockaddr.js';
import type { Host } from '../../src/host.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernError) return e.code;
    throw e;
  }
  return 'no error';
}

function lan(n = 3, seed = 5) {
  const L = vlab(seed);
  const seg = L.segment();
  const hosts: Host[] = [];
  for (let i = 0; i < n; i++) {
    const h = L.host(`h${i + 1}`);
    const ifp = L.attach(h, seg, { name: 'em0', mac: `02:00:00:00:00:0${i + 1}` });
    h.inet.v4.addAddress(ifp, `192.0.2.${i + 1}/24`);
    hosts.push(h);
  }
  L.run(3000); // DAD finishes
  return { L, seg, hosts };
}

function vlabRun(h: Host, ms: number): void {
  (h.sched as import('../../src/kern/clock.js').VirtualScheduler).advance(ms);
}

function inbox(so: { onMessage(fn: (d: Datagram) => void): unknown }): Datagram[] {
  const got: Datagram[] = [];
  so.onMessage((d) => got.push(d));
  return got;
}

describe('IPv4: ARP, ICMP echo, UDP', () => {
  it('resolves with ARP, answers an echo request, and counts both sides', () => {
    const { L, hosts } = lan(2);
    const [a, b] = hosts;
    const echo = icmpEmit({ type: ICMP_ECHO, code: 0, body: Uint8Array.of(0, 1, 0, 1, 9, 9, 9) });
    const asked = a.inet.arp.stat.txrequests; // the gratuitous ARP at address configuration
    expect(a.inet.v4.output(echo, { p: IPPROTO_ICMP, dst: inParse('192.0.2.2')! })).toBe(0);
    L.run(10);
    expect(a.inet.arp.stat.txrequests - asked).toBe(1);
    expect(b.inet.arp.stat.txreplies).toBe(1);
    expect(b.inet.icmpstat.icps_inhist[8]).toBe(1);
    expect(b.inet.icmpstat.icps_outhist[0]).toBe(1);
    expect(a.inet.icmpstat.icps_inhist[0]).toBe(1);
    expect(a.inet.arp.entries(a.ifunit('em0')!).map((e) => [e.addr, sockaddrToString({ family: 18, index: 0, type: 0, name: '', lladdr: e.mac! })])).toEqual([
      ['192.0.2.2', '02:00:00:00:00:02'],
    ]);
  });

  it('delivers unicast UDP with source and arrival interface; a closed port gets port unreachable', () => {
    const { L, hosts } = lan(2);
    const [a, b] = hosts;
    const rx = b.inet.socket().bind(undefined, 5000);
    const got = inbox(rx);
    const tx = a.inet.socket();
    tx.send('hello', '192.0.2.2', 5000);
    tx.send('nobody', '192.0.2.2', 5001);
    L.run(10);
    expect(got.map((d) => [new TextDecoder().decode(d.data), d.src, d.dstPort, d.ifname])).toEqual([['hello', '192.0.2.1', 5000, 'em0']]);
    expect(b.inet.udpstat.udps_noport).toBe(1);
    expect(b.inet.icmpstat.icps_outhist[3]).toBe(1);
    expect(a.inet.icmpstat.icps_inhist[3]).toBe(1);
  });

  it('bind refuses a taken port unless both sockets ask for reuse, and foreign addresses', () => {
    const { hosts } = lan(1);
    const h = hosts[0];
    h.inet.socket().bind(undefined, 6000);
    expect(code(() => h.inet.socket().bind(undefined, 6000))).toBe('EADDRINUSE');
    h.inet.socket().bind(undefined, 6001, { reuse: true });
    h.inet.socket().bind(undefined, 6001, { reuse: true });
    expect(code(() => h.inet.socket().bind('198.51.100.9', 6002))).toBe('EADDRNOTAVAIL');
  });
});

describe('IPv4 multicast sockets', () => {
  it('receives a group only while joined, on every reuse socket that joined', () => {
    const { L, hosts } = lan(2);
    const [a, b] = hosts;
    const r1 = b.inet.socket().bind(undefined, 7000, { reuse: true });
    const r2 = b.inet.socket().bind(undefined, 7000, { reuse: true });
    const g1 = inbox(r1);
    const g2 = inbox(r2);
    const tx = a.inet.socket();
    tx.send('x', '239.1.1.1', 7000);
    L.run(10);
    expect(g1.length + g2.length).toBe(0);
    // Nobody on b joined: the Ethernet filter kept the frame out before IP saw it.
    expect(b.ifunit('em0')!.if_data.ifi_imcasts).toBe(0);
    r1.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: '192.0.2.2' });
    tx.send('y', '239.1.1.1', 7000);
    L.run(10);
    expect(g1.map((d) => d.dst)).toEqual(['239.1.1.1']);
    expect(g2.length).toBe(0); // r2 did not join: BSD delivers only to members
    r1.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: '192.0.2.2' });
    tx.send('z', '239.1.1.1', 7000);
    L.run(10);
    expect(g1.length).toBe(1);
    // IGMP keeps the group while it retransmits the leave (TO_IN {}), then lets it go.
    L.run(3000);
    expect(b.ifunit('em0')!.if_multiaddrs.some((m) => sockaddrToString(m.ifma_addr) === '239.1.1.1')).toBe(false);
  });

  it('does not deliver from a blocked source, and counts it', () => {
    const { L, hosts } = lan(3);
    const [a, b, c] = hosts;
    const rx = b.inet.socket().bind(undefined, 7001);
    const got = inbox(rx);
    rx.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.2.2.2' });
    rx.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: '239.2.2.2', imr_sourceaddr: '192.0.2.1' });
    a.inet.socket().send('from a', '239.2.2.2', 7001);
    c.inet.socket().send('from c', '239.2.2.2', 7001);
    L.run(10);
    expect(got.map((d) => d.src)).toEqual(['192.0.2.3']);
    expect(b.inet.udpstat.udps_filtermcast).toBe(1);
    rx.setsockopt(IPPROTO_IP, IP_UNBLOCK_SOURCE, { imr_multiaddr: '239.2.2.2', imr_sourceaddr: '192.0.2.1' });
    a.inet.socket().send('from a', '239.2.2.2', 7001);
    L.run(10);
    expect(got.map((d) => d.src)).toEqual(['192.0.2.3', '192.0.2.1']);
  });

  it('SSM: IP_ADD_SOURCE_MEMBERSHIP receives only the included sources', () => {
    const { L, hosts } = lan(3);
    const [a, b, c] = hosts;
    const rx = b.inet.socket().bind(undefined, 7002);
    const got = inbox(rx);
    rx.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: '192.0.2.1' });
    a.inet.socket().send('a', '232.1.1.1', 7002);
    c.inet.socket().send('c', '232.1.1.1', 7002);
    L.run(10);
    expect(got.map((d) => d.src)).toEqual(['192.0.2.1']);
    const inm = b.inet.v4.findGroup(b.ifunit('em0')!, inParse('232.1.1.1')!)!;
    expect(inm.mode).toBe(MCAST_INCLUDE);
    expect([...inm.st[1].sources.values()].map((s) => s.join('.'))).toEqual(['192.0.2.1']);
  });

  it('loops multicast back to local members unless IP_MULTICAST_LOOP is off; TTL and IF options are checked', () => {
    const { L, hosts } = lan(2);
    const [, b] = hosts;
    const rx = b.inet.socket().bind(undefined, 7003);
    const got = inbox(rx);
    rx.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.3.3.3' });
    const tx = b.inet.socket();
    tx.send('loop', '239.3.3.3', 7003);
    tx.setsockopt(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    tx.send('no loop', '239.3.3.3', 7003);
    L.run(10);
    expect(got.map((d) => new TextDecoder().decode(d.data))).toEqual(['loop']);
    expect(code(() => tx.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 256))).toBe('EINVAL');
    expect(code(() => tx.setsockopt(IPPROTO_IP, IP_MULTICAST_LOOP, 2))).toBe('EINVAL');
    expect(code(() => tx.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, '198.51.100.1'))).toBe('EADDRNOTAVAIL');
    tx.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 5);
    expect(tx.getsockopt(IPPROTO_IP, IP_MULTICAST_TTL)).toBe(5);
  });

  it('gives the errors real stacks give, each naming the call and the group', () => {
    const { hosts } = lan(1);
    const h = hosts[0];
    const so = h.inet.socket();
    const join = { imr_multiaddr: '239.9.9.9' };
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '192.0.2.77' }))).toBe('EINVAL');
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, join);
    try {
      so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, join);
      expect.fail('no error');
    } catch (e) {
      expect((e as Error).message).toBe('EADDRINUSE: IP_ADD_MEMBERSHIP 239.9.9.9 on em0: this socket is already a member');
    }
    // Source-specific calls on an any-source membership.
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { ...join, imr_sourceaddr: '192.0.2.50' }))).toBe('EINVAL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { ...join, imr_sourceaddr: '192.0.2.50' }))).toBe('EADDRNOTAVAIL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_UNBLOCK_SOURCE, { ...join, imr_sourceaddr: '192.0.2.50' }))).toBe('EADDRNOTAVAIL');
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { ...join, imr_sourceaddr: '192.0.2.50' });
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { ...join, imr_sourceaddr: '192.0.2.50' }))).toBe('EADDRNOTAVAIL');
    // Any-source calls on a source-specific membership.
    const ssm = { imr_multiaddr: '232.7.7.7', imr_sourceaddr: '198.51.100.7' };
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, ssm);
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, ssm))).toBe('EADDRNOTAVAIL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '232.7.7.7' }))).toBe('EINVAL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: '232.7.7.7', imr_sourceaddr: '198.51.100.8' }))).toBe('EINVAL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.7.7.7', imr_sourceaddr: '198.51.100.8' }))).toBe('EADDRNOTAVAIL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.8.8.8' }))).toBe('EADDRNOTAVAIL');
    expect(code(() => so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: '198.51.100.1' }))).toBe('EADDRNOTAVAIL');
    expect(code(() => so.setsockopt(IPPROTO_IP, 9999, 1))).toBe('ENOPROTOOPT');
    expect(code(() => so.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: 'ff12::1', ipv6mr_interface: 0 }))).toBe('EINVAL');
    // Dropping the last included source leaves the group.
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, ssm);
    expect(so.memberships.size).toBe(1); // only 239.9.9.9 is left
    expect(h.inet.v4.findGroup(h.ifunit('em0')!, inParse('232.7.7.7')!)?.mode).toBe(0);
  });

  it('source limits as FreeBSD: maxsocksrc bounds setsourcefilter (ENOBUFS), maxgrpsrc the group (ENOSPC), the delta calls only the latter', () => {
    const { hosts } = lan(1);
    const h = hosts[0];
    h.inet.limits.maxsocksrc = 3;
    h.inet.limits.maxgrpsrc = 5;
    const s1 = h.inet.socket();
    const s2 = h.inet.socket();
    const src = (i: number) => `198.51.100.${i}`;
    // Four sources by the delta API on one socket: past maxsocksrc, which it does not check.
    for (let i = 1; i <= 4; i++) s1.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: src(i) });
    s2.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: src(10) });
    expect(code(() => s2.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: src(11) }))).toBe('ENOSPC');
    expect(s2.getsourcefilter(2, '232.1.1.1').sources).toEqual([src(10)]);
    expect(code(() => s1.setsourcefilter(2, '232.1.1.1', MCAST_INCLUDE, [src(1), src(2), src(3), src(4)]))).toBe('ENOBUFS');
    // A new socket's join that would pass the group limit: ENOSPC, nothing joined.
    const s3 = h.inet.socket();
    s1.setsourcefilter(2, '232.1.1.1', MCAST_INCLUDE, [src(1), src(2), src(3)]);
    s3.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: src(20) });
    const s4 = h.inet.socket();
    expect(code(() => s4.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: src(21) }))).toBe('ENOSPC');
    expect(s4.memberships.size).toBe(0);
  });

  it('getsourcefilter on an IPv4 socket: a bad interface index is EINVAL (inp_get_source_filters); MCAST_* at the other family\'s level is EINVAL', () => {
    const { hosts } = lan(1);
    const h = hosts[0];
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1' });
    expect(code(() => so.getsourcefilter(0, '239.1.1.1'))).toBe('EINVAL');
    expect(code(() => so.getsourcefilter(99, '239.1.1.1'))).toBe('EINVAL');
    expect(code(() => so.setsockopt(IPPROTO_IPV6, MCAST_JOIN_GROUP, { gr_interface: 2, gr_group: '239.5.5.5' }))).toBe('EINVAL');
    const so6 = h.inet.socket('inet6');
    expect(code(() => so6.setsockopt(IPPROTO_IP, MCAST_JOIN_GROUP, { gr_interface: 2, gr_group: 'ff15::1' }))).toBe('EINVAL');
    expect(code(() => so6.getsourcefilter(99, 'ff15::1'))).toBe('EADDRNOTAVAIL');
  });

  it('a leave with no interface takes the membership of the group joined first (imo_match_group)', () => {
    const { L, hosts } = lan(1);
    const h = hosts[0];
    const em0 = h.ifunit('em0')!;
    const em1 = L.attach(h, L.segment(), { name: 'em1', mac: '02:00:00:00:01:09' });
    h.inet.v4.addAddress(em1, '198.51.100.9/24');
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: '192.0.2.1' });
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.2.2.2', imr_interface: '198.51.100.9' });
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.2.2.2', imr_interface: '192.0.2.1' });
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.2.2.2' });
    expect(so.memberships.get(em1, inParse('239.2.2.2')!)).toBeUndefined();
    expect(so.memberships.get(em0, inParse('239.2.2.2')!)).toBeDefined();
    expect(so.memberships.size).toBe(2);
  });

  it('setsourcefilter/getsourcefilter replace the whole filter; MCAST_* options work on IPv4 sockets', () => {
    const { hosts } = lan(1);
    const h = hosts[0];
    const so = h.inet.socket();
    expect(code(() => so.setsourcefilter(2, '239.4.4.4', MCAST_EXCLUDE, []))).toBe('EADDRNOTAVAIL');
    so.setsockopt(IPPROTO_IP, MCAST_JOIN_GROUP, { gr_interface: 2, gr_group: '239.4.4.4' });
    so.setsourcefilter(2, '239.4.4.4', MCAST_EXCLUDE, ['198.51.100.1', '198.51.100.2']);
    expect(so.getsourcefilter(2, '239.4.4.4')).toEqual({ mode: MCAST_EXCLUDE, sources: ['198.51.100.1', '198.51.100.2'] });
    so.setsourcefilter(2, '239.4.4.4', MCAST_INCLUDE, ['198.51.100.3']);
    expect(so.getsourcefilter(2, '239.4.4.4')).toEqual({ mode: MCAST_INCLUDE, sources: ['198.51.100.3'] });
    expect(code(() => so.setsourcefilter(2, '239.4.4.4', 3 as 1, []))).toBe('EINVAL');
    so.setsourcefilter(2, '239.4.4.4', MCAST_INCLUDE, []);
    expect(code(() => so.getsourcefilter(2, '239.4.4.4'))).toBe('EADDRNOTAVAIL');
    so.setsockopt(IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, { gsr_interface: 2, gsr_group: '232.5.5.5', gsr_source: '198.51.100.5' });
    expect(so.getsourcefilter(2, '232.5.5.5').mode).toBe(MCAST_INCLUDE);
    expect(code(() => so.setsockopt(IPPROTO_IP, MCAST_JOIN_GROUP, { gr_interface: 99, gr_group: '239.4.4.4' }))).toBe('EADDRNOTAVAIL');
  });

  it('closing a socket leaves its groups; the stack keeps 224.0.0.1', () => {
    const { hosts } = lan(1);
    const h = hosts[0];
    const em0 = h.ifunit('em0')!;
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.6.6.6' });
    expect(h.inet.v4.findGroup(em0, inParse('239.6.6.6')!) !== undefined).toBe(true);
    so.close();
    hosts.length = 1;
    vlabRun(h, 3000);
    expect(h.inet.v4.findGroup(em0, inParse('239.6.6.6')!) === undefined).toBe(true);
    expect(h.inet.v4.findGroup(em0, inParse('224.0.0.1')!)?.mode).toBe(MCAST_EXCLUDE);
    expect(code(() => so.send('x', '239.6.6.6', 1))).toBe('EBADF');
  });
});

describe('IPv6: link-local, DAD, ND, echo, UDP', () => {
  it('forms a link-local from the MAC, joins ff02::1 and the solicited-node group, and finishes DAD', () => {
    const L = vlab(3);
    const seg = L.segment();
    const h = L.host('h1');
    const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:00:01' });
    const ll = h.inet.v6.addresses(em0)[0];
    expect(in6ToString(ll.addr)).toBe('fe80::ff:fe00:1');
    expect(ll.tentative).toBe(true);
    const groups = em0.if_multiaddrs.map((m) => sockaddrToString(m.ifma_addr));
    expect(groups).toContain('ff02::1');
    expect(groups).toContain('ff01::1');
    expect(groups).toContain(in6ToString(in6SolicitedNode(ll.addr)));
    const frames: Uint8Array[] = [];
    seg.observe((_p, f) => frames.push(f));
    L.run(3000);
    expect(ll.tentative).toBe(false);
    // One NS from :: to the solicited-node group, hop limit 255 (RFC 4862 §5.4.2).
    const ns = frames.filter((f) => f[12] === 0x86 && f[13] === 0xdd && f[14 + 40] === 135);
    expect(ns.length).toBe(1);
    expect(ns[0].subarray(14 + 8, 14 + 24).every((b) => b === 0)).toBe(true);
    expect(ns[0][14 + 7]).toBe(255);
    expect(in6ToString(ns[0].subarray(14 + 24, 14 + 40))).toBe('ff02::1:ff00:1');
  });

  it('detects a duplicate link-local address (two hosts with one MAC)', () => {
    const L = vlab(4);
    const seg = L.segment();
    const a = L.host('a');
    const b = L.host('b');
    const ia = L.attach(a, seg, { name: 'em0', mac: '02:00:00:00:00:07' });
    L.run(3000);
    expect(a.inet.v6.addresses(ia)[0].tentative).toBe(false);
    const ib = L.attach(b, seg, { name: 'em0', mac: '02:00:00:00:00:07' });
    L.run(3000);
    // b's DAD probe reached a, which defended its address; b saw the NA and marked it duplicate.
    expect(b.inet.v6.addresses(ib)[0].duplicate).toBe(true);
    expect(a.inet.v6.addresses(ia)[0].duplicate).toBe(false);
  });

  it('resolves neighbors, answers echo, and delivers UDP to a joined IPv6 group', () => {
    const { L, hosts } = lan(2);
    const [a, b] = hosts;
    const rx = b.inet.socket('inet6').bind(undefined, 8000);
    const got = inbox(rx);
    const em0b = b.ifunit('em0')!;
    rx.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: 'ff12::1234', ipv6mr_interface: em0b.if_index });
    const tx = a.inet.socket('inet6');
    tx.send('six', 'ff12::1234', 8000);
    tx.send('unicast', `${in6ToString(b.inet.v6.linkLocal(em0b)!)}%em0`, 8000);
    L.run(50);
    expect(got.map((d) => [new TextDecoder().decode(d.data), d.src])).toEqual([
      ['six', 'fe80::ff:fe00:1'],
      ['unicast', 'fe80::ff:fe00:1'],
    ]);
    expect(a.inet.v6.neighbors(a.ifunit('em0')!).map((n) => n.addr)).toEqual(['fe80::ff:fe00:2']);
    rx.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, { ipv6mr_multiaddr: 'ff12::1234', ipv6mr_interface: em0b.if_index });
    tx.send('gone', 'ff12::1234', 8000);
    L.run(50);
    expect(got.length).toBe(2);
    expect(code(() => tx.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 256))).toBe('EINVAL');
    expect(code(() => tx.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 2))).toBe('EINVAL');
    expect(code(() => tx.send('x', 'fe80::1', 9))).toBe('EINVAL');
    void in6Parse;
  });
});
