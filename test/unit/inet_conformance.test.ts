/**
 * RFC and FreeBSD conformance of the IP layer and the socket API, one test
 * per defect found in review: each failed before its fix.
 */
import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { KernError } from '../../src/kern/errno.js';
import { inParse } from '../../src/inet/in.js';
import { in6Parse, in6SolicitedNode } from '../../src/inet/in6.js';
import { ipEmit } from '../../src/inet/ip_codec.js';
import { ip6Emit } from '../../src/inet/ip6_codec.js';
import { icmpEmit, ICMP_ECHO } from '../../src/inet/icmp.js';
import { icmp6EchoEmit, icmp6Emit, ICMP6_ECHO_REQUEST, nd6NaEmit, nd6NsEmit, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT } from '../../src/inet/icmp6_codec.js';
import {
  IP_ADD_MEMBERSHIP,
  IP_BLOCK_SOURCE,
  IP_DROP_MEMBERSHIP,
  IP_MULTICAST_IF,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_MULTICAST_IF,
  MCAST_JOIN_GROUP,
  MCAST_LEAVE_GROUP,
  type Datagram,
} from '../../src/inet/socket.js';

const HOST_MAC = [2, 0, 0, 0, 0, 1];
const RAW_MAC = [2, 0, 0, 0, 0, 0x99];

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernError) return e.code;
    throw e;
  }
  return 'no error';
}

/** A host on a segment with a raw port that injects frames and records every frame it sees. */
function setup() {
  const L = vlab(21);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:00:01' });
  h.inet.v4.addAddress(em0, '192.0.2.1/24');
  const raw = seg.port('raw');
  const seen: Uint8Array[] = [];
  raw.start({
    input: (buf, slot, lengths, count) => {
      for (let i = 0; i < count; i++) seen.push(buf.slice(i * slot, i * slot + lengths[i]));
    },
    writable: () => {},
    linkState: () => {},
  } as Parameters<typeof raw.start>[0]);
  L.run(3000); // DAD of the link-local finishes
  seen.length = 0;
  const send = (etype: number, payload: Uint8Array, dst: number[] = HOST_MAC) => {
    const f = new Uint8Array(14 + payload.length);
    f.set(dst, 0);
    f.set(RAW_MAC, 6);
    f[12] = etype >> 8;
    f[13] = etype & 0xff;
    f.set(payload, 14);
    raw.transmit(f, f.length, 0, Uint32Array.of(f.length), 1);
    L.run(1);
  };
  /** Frames the host sent of an EtherType, as IP datagrams. */
  const sent = (etype: number) => seen.filter((f) => ((f[12] << 8) | f[13]) === etype && f[6] === 2 && f[11] === 1).map((f) => f.subarray(14));
  return { L, seg, h, em0, send, sent, seen };
}

const A = (t: string) => inParse(t)!;
const A6 = (t: string) => in6Parse(t)!;

function echo4(src: string, dst = '192.0.2.1'): Uint8Array {
  return ipEmit({ id: 7, ttl: 64, p: 1, src: A(src), dst: A(dst) }, icmpEmit({ type: ICMP_ECHO, code: 0, body: Uint8Array.of(0, 1, 0, 1, 9, 9) }));
}

function inbox(so: { onMessage(fn: (d: Datagram) => void): unknown }): Datagram[] {
  const got: Datagram[] = [];
  so.onMessage((d) => got.push(d));
  return got;
}

describe('socket API: FreeBSD in_mcast.c semantics', () => {
  it('IP_DROP_MEMBERSHIP and IP_BLOCK_SOURCE with imr_interface INADDR_ANY find the membership on any interface (inp_leave_group)', () => {
    const L = vlab(3);
    const h = L.host('h');
    const em0 = L.attach(h, L.segment(), { name: 'em0' });
    const em1 = L.attach(h, L.segment(), { name: 'em1' });
    h.inet.v4.addAddress(em0, '192.0.2.1/24');
    h.inet.v4.addAddress(em1, '198.51.100.1/24');
    L.run(3000);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.2.3', imr_interface: '198.51.100.1' });
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: '239.1.2.3', imr_sourceaddr: '203.0.113.5' });
    expect(so.getsourcefilter(em1.if_index, '239.1.2.3').sources).toEqual(['203.0.113.5']);
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.1.2.3' });
    expect(so.memberships.size).toBe(0);
    L.run(5000);
    expect(h.inet.v4.findGroup(em1, A('239.1.2.3'))).toBeUndefined();
  });

  it('MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP with interface index 0 is EADDRNOTAVAIL (inp_join_group)', () => {
    const { h } = setup();
    const so = h.inet.socket();
    expect(code(() => so.setsockopt(IPPROTO_IP, MCAST_JOIN_GROUP, { gr_interface: 0, gr_group: '239.4.4.4' }))).toBe('EADDRNOTAVAIL');
    expect(so.memberships.size).toBe(0);
    expect(code(() => so.setsockopt(IPPROTO_IP, MCAST_LEAVE_GROUP, { gr_interface: 0, gr_group: '239.4.4.4' }))).toBe('EADDRNOTAVAIL');
  });
});

describe('IPv4 and ICMP', () => {
  it('answers no echo request whose source names no single host (RFC 1122 §3.2.2, icmp_reflect)', () => {
    const { h, send, sent } = setup();
    send(0x0800, echo4('0.0.0.0'));
    send(0x0800, echo4('224.1.1.1'));
    send(0x0800, echo4('192.0.2.255'));
    expect(h.inet.icmpstat.icps_reflect).toBe(0);
    expect(h.inet.icmpstat.icps_badaddr).toBe(3);
    expect(sent(0x0800)).toEqual([]);
    send(0x0800, echo4('192.0.2.9'));
    expect(h.inet.icmpstat.icps_reflect).toBe(1);
  });

  it('sends Protocol Unreachable for an unknown protocol to a unicast address, not to a broadcast (RFC 1122 §3.2.2.1)', () => {
    const { L, h, send, sent } = setup();
    const dgram = (dst: string) => ipEmit({ id: 3, ttl: 64, p: 200, src: A('192.0.2.9'), dst: A(dst) }, new Uint8Array(12));
    send(0x0800, dgram('192.0.2.255'), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(h.inet.icmpstat.icps_outhist[3]).toBe(0);
    send(0x0800, dgram('192.0.2.1'));
    L.run(10);
    expect(h.inet.ipstat.ips_noproto).toBe(2);
    expect(h.inet.icmpstat.icps_outhist[3]).toBe(1);
    // ARP for 192.0.2.9 holds the error; answer it and see type 3 code 2 quoting our datagram.
    const arp = new Uint8Array(28);
    arp.set([0, 1, 8, 0, 6, 4, 0, 2, ...RAW_MAC, 192, 0, 2, 9, ...HOST_MAC, 192, 0, 2, 1]);
    send(0x0806, arp);
    L.run(10);
    const icmp = sent(0x0800).filter((d) => d[9] === 1);
    expect(icmp.length).toBe(1);
    expect([icmp[0][20], icmp[0][21]]).toEqual([3, 2]);
  });

  it('delivers a multicast datagram sent out lo0 once, not once per loop (ip_output)', () => {
    const { L, h } = setup();
    const rx = h.inet.socket().bind(undefined, 7000);
    const got = inbox(rx);
    rx.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.7.7.7', imr_interface: '127.0.0.1' });
    const tx = h.inet.socket();
    tx.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, '127.0.0.1');
    tx.send('one', '239.7.7.7', 7000);
    L.run(10);
    expect(got.length).toBe(1);
  });
});

describe('IPv6', () => {
  it('discards everything addressed to a tentative address, echo requests included (RFC 4862 §5.4)', () => {
    const { L, h, em0, send } = setup();
    const ia = h.inet.v6.addAddress(em0, '2001:db8::1/64');
    expect(ia.tentative).toBe(true);
    const src = A6('2001:db8::99');
    const body = icmp6Emit(ICMP6_ECHO_REQUEST, 0, icmp6EchoEmit({ id: 1, seq: 1, data: new Uint8Array(4) }), src, ia.addr);
    send(0x86dd, ip6Emit({ hopLimit: 64, src, dst: ia.addr, nextHeader: 58, payload: body }));
    L.run(5);
    expect(h.inet.icmp6stat.icp6s_reflect).toBe(0);
    expect(h.inet.v6.info(em0).stat.ifs6_in_addrerr).toBe(1);
  });

  it('keeps interface-local multicast (ff01::/16) off the wire and refuses it from the wire (RFC 4291 §2.7)', () => {
    const { L, h, em0, send, sent } = setup();
    const rx = h.inet.socket('inet6').bind(undefined, 9000);
    const got = inbox(rx);
    rx.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: 'ff01::1:2', ipv6mr_interface: em0.if_index });
    const tx = h.inet.socket('inet6');
    tx.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, em0.if_index);
    tx.send('local', 'ff01::1:2', 9000);
    L.run(10);
    expect(got.length).toBe(1); // the loopback copy
    expect(sent(0x86dd).filter((d) => d[24] === 0xff && d[25] === 0x01)).toEqual([]);
    const before = h.inet.ip6stat.ip6s_badscope;
    send(0x86dd, ip6Emit({ hopLimit: 1, src: A6('fe80::99'), dst: A6('ff01::1'), nextHeader: 59, payload: new Uint8Array(0) }), [0x33, 0x33, 0, 0, 0, 1]);
    expect(h.inet.ip6stat.ip6s_badscope).toBe(before + 1);
  });

  it('sends no Parameter Problem but code 2 about a datagram to a multicast address (RFC 4443 §2.4 e.3)', () => {
    const { h, em0, send } = setup();
    // Fixed header -> Destination Options -> Hop-by-Hop: Hop-by-Hop not first is code 1.
    const payload = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0, 59, 0, 1, 4, 0, 0, 0, 0);
    const ll = h.inet.v6.linkLocal(em0)!;
    const mk = (dst: Uint8Array) => ip6Emit({ hopLimit: 64, src: A6('fe80::99'), dst, nextHeader: 60, payload });
    send(0x86dd, mk(A6('ff02::1')), [0x33, 0x33, 0, 0, 0, 1]);
    expect(h.inet.icmp6stat.icp6s_outhist[4]).toBe(0);
    send(0x86dd, mk(ll));
    expect(h.inet.icmp6stat.icp6s_outhist[4]).toBe(1);
  });

  it('validates NS from :: and multicast NA as RFC 4861 §7.1 says', () => {
    const { h, em0, send } = setup();
    const ll = h.inet.v6.linkLocal(em0)!;
    const un = new Uint8Array(16);
    // A DAD probe for our address sent to ff02::1 instead of the solicited-node group.
    const ns = icmp6Emit(ND_NEIGHBOR_SOLICIT, 0, nd6NsEmit({ target: ll }), un, A6('ff02::1'));
    send(0x86dd, ip6Emit({ hopLimit: 255, src: un, dst: A6('ff02::1'), nextHeader: 58, payload: ns }), [0x33, 0x33, 0, 0, 0, 1]);
    expect(h.inet.icmp6stat.icp6s_badns).toBe(1);
    // The same probe to the solicited-node group is defended.
    const sn = in6SolicitedNode(ll);
    const ns2 = icmp6Emit(ND_NEIGHBOR_SOLICIT, 0, nd6NsEmit({ target: ll }), un, sn);
    send(0x86dd, ip6Emit({ hopLimit: 255, src: un, dst: sn, nextHeader: 58, payload: ns2 }), [0x33, 0x33, 0xff, sn[13], sn[14], sn[15]]);
    expect(h.inet.icmp6stat.icp6s_badns).toBe(1);
    // A solicited advertisement to a multicast address is invalid.
    const na = icmp6Emit(ND_NEIGHBOR_ADVERT, 0, nd6NaEmit({ solicited: true, override: true, target: A6('fe80::99') }), A6('fe80::99'), A6('ff02::1'));
    send(0x86dd, ip6Emit({ hopLimit: 255, src: A6('fe80::99'), dst: A6('ff02::1'), nextHeader: 58, payload: na }), [0x33, 0x33, 0, 0, 0, 1]);
    expect(h.inet.icmp6stat.icp6s_badna).toBe(1);
  });

  it('counts a zero UDP checksum over IPv6 in udps_nosum, as udp6_input does (RFC 8200 §8.1)', () => {
    const { h, em0, send } = setup();
    const ll = h.inet.v6.linkLocal(em0)!;
    const udp = Uint8Array.of(0x30, 0x39, 0x23, 0x28, 0, 10, 0, 0, 1, 2);
    send(0x86dd, ip6Emit({ hopLimit: 64, src: A6('fe80::99'), dst: ll, nextHeader: 17, payload: udp }));
    expect(h.inet.udpstat.udps_nosum).toBe(1);
    expect(h.inet.udpstat.udps_badsum).toBe(0);
  });
});
