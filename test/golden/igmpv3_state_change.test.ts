// RFC 9776 (RFC 3376) §5.1: Action on Change of Interface State, as golden traces.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { gaps, untimed, type TraceEntry } from '../helpers/mgmd_trace.js';
import { IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE, IP_DROP_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_UNBLOCK_SOURCE, IPPROTO_IP } from '../../src/inet/socket.js';
import { MCAST_INCLUDE } from '../../src/inet/in_mcast.js';
import { sockaddrToString } from '../../src/driver/sockaddr.js';
import { inParse } from '../../src/inet/in.js';
import type { Ifnet } from '../../src/driver/ifnet.js';

const G = '239.1.1.1';
const SSM = '232.1.1.1';
const S1 = '198.51.100.1';
const S2 = '198.51.100.2';
const S3 = '198.51.100.3';
const URI = 1000; // RFC 9776 §8.11 Unsolicited Report Interval

/** A state-change report row as h1 must send it: from 192.0.2.1 to 224.0.0.22, TTL 1, Router Alert. */
const v3 = (msg: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: '224.0.0.22', ttl: 1, routerAlert: true, msg: `IGMPv3 report ${msg}` });

function holds(ifp: Ifnet, group: string): boolean {
  return ifp.if_multiaddrs.some((m) => sockaddrToString(m.ifma_addr) === group);
}

/** Every retransmission comes (0, URI] after the report before it; the first goes at once. */
function expectRetransmissionTimes(rows: TraceEntry[], start: number): void {
  const d = gaps(rows, start);
  expect(d[0]).toBe(0);
  for (const x of d.slice(1)) {
    expect(x).toBeGreaterThan(0);
    expect(x).toBeLessThanOrEqual(URI);
  }
}

describe('IGMPv3 §5.1: state-change reports', () => {
  it('ASM join: TO_EX {} at once, then RV-1 = 1 retransmission in (0, URI], then silence', () => {
    const { L, wire, h, now } = mgmdLab(11);
    const t0 = now();
    h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G, imr_interface: '192.0.2.1' });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`TO_EX(${G} {})`), v3(`TO_EX(${G} {})`)]);
    expectRetransmissionTimes(rows, t0);
  });

  it('SSM join: ALLOW {S} (INCLUDE {} -> INCLUDE {S}), RV times', () => {
    const { L, wire, h, now } = mgmdLab(12);
    const t0 = now();
    h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1, imr_interface: '192.0.2.1' });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`ALLOW(${SSM} {${S1}})`), v3(`ALLOW(${SSM} {${S1}})`)]);
    expectRetransmissionTimes(rows, t0);
  });

  it('exactly Robustness Variable transmissions: RV 3 learnt from a query gives three TO_EX', () => {
    const { L, wire, h, now } = mgmdLab(13);
    wire.query4({ version: 3, qrv: 3, maxRespTenths: 100 });
    L.run(20_000);
    expect(h.igmp.ifinfoView(h.ifunit('em0')!).igi_rv).toBe(3);
    const t0 = now();
    h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4, t0);
    expect(untimed(rows)).toEqual([v3(`TO_EX(${G} {})`), v3(`TO_EX(${G} {})`), v3(`TO_EX(${G} {})`)]);
    expectRetransmissionTimes(rows, t0);
  });

  it('leave: TO_IN {} RV times; the group (and its ifma) is kept until the last one, then released', () => {
    const { L, wire, h, em0, now } = mgmdLab(14);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    expect(holds(em0, G)).toBe(true); // retransmissions pending: FreeBSD's leaving list
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`TO_IN(${G} {})`), v3(`TO_IN(${G} {})`)]);
    expectRetransmissionTimes(rows, t0);
    expect(holds(em0, G)).toBe(false);
    expect(h.inet.v4.findGroup(em0, inParse(G)!)).toBeUndefined();
  });

  it('SSM leave: INCLUDE {S} -> INCLUDE {} is BLOCK {S}, RV times, then the group is released', () => {
    const { L, wire, h, em0, now } = mgmdLab(22);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    expect(holds(em0, SSM)).toBe(true);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`BLOCK(${SSM} {${S1}})`), v3(`BLOCK(${SSM} {${S1}})`)]);
    expectRetransmissionTimes(rows, t0);
    expect(holds(em0, SSM)).toBe(false);
  });

  it('the group is released right after the final TO_IN {}, not before', () => {
    const { L, wire, h, em0, now } = mgmdLab(15);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    // Step to just before the retransmission.
    const seen = () => wire.sent('h1.em0', 4).length;
    while (seen() < 2 && now() < t0 + URI) L.run(1);
    const tLast = wire.sent('h1.em0', 4)[1].t;
    expect(now()).toBe(tLast);
    expect(holds(em0, G)).toBe(false);
  });

  it('block / unblock in EXCLUDE mode: BLOCK {S} then ALLOW {S}, each RV times', () => {
    const { L, wire, h, now } = mgmdLab(16);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: G, imr_sourceaddr: S1 });
    L.run(30_000);
    const t1 = now();
    so.setsockopt(IPPROTO_IP, IP_UNBLOCK_SOURCE, { imr_multiaddr: G, imr_sourceaddr: S1 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`BLOCK(${G} {${S1}})`), v3(`BLOCK(${G} {${S1}})`), v3(`ALLOW(${G} {${S1}})`), v3(`ALLOW(${G} {${S1}})`)]);
    expectRetransmissionTimes(rows.slice(0, 2), t0);
    expectRetransmissionTimes(rows.slice(2), t1);
  });

  it('a second change during pending retransmissions: a new report at once, per-source retransmission state', () => {
    const { L, wire, h, now } = mgmdLab(17);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: G, imr_sourceaddr: S1 });
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: G, imr_sourceaddr: S2 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    // S1 has been in one report when S2 comes: S1 is in two reports in all, S2 in two.
    expect(untimed(rows)).toEqual([v3(`BLOCK(${G} {${S1}})`), v3(`BLOCK(${G} {${S1}, ${S2}})`), v3(`BLOCK(${G} {${S2}})`)]);
    expect(rows[0].t).toBe(t0);
    expect(rows[1].t).toBe(t0); // the merged report goes at once
    expectRetransmissionTimes(rows.slice(1), t0);
  });

  it('a source added then removed during retransmissions moves from ALLOW to BLOCK', () => {
    const { L, wire, h, now } = mgmdLab(18);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S2 });
    L.run(1); // the ALLOW went at once; its retransmission (0, 1000] is still pending
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S2 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`ALLOW(${SSM} {${S2}})`), v3(`BLOCK(${SSM} {${S2}})`), v3(`BLOCK(${SSM} {${S2}})`)]);
    expect(rows[0].t).toBe(t0);
    expect(rows[1].t).toBe(t0 + 1);
    expectRetransmissionTimes(rows.slice(1), t0 + 1);
  });

  it('a filter-mode change during pending source changes: TO_xx with the current list RV times, then the pending ALLOW/BLOCK', () => {
    const { L, wire, h, em0, now } = mgmdLab(19);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    // EXCLUDE {} -> EXCLUDE {S1}: BLOCK {S1} sent once, one retransmission pending.
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: G, imr_sourceaddr: S1 });
    // EXCLUDE {S1} -> INCLUDE {S2}: a filter-mode change.
    so.setsourcefilter(em0.if_index, G, MCAST_INCLUDE, [S2]);
    L.run(1);
    // INCLUDE {S2} -> INCLUDE {S2, S3} while the TO_IN record is still being retransmitted.
    so.setsourcefilter(em0.if_index, G, MCAST_INCLUDE, [S2, S3]);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([
      v3(`BLOCK(${G} {${S1}})`),
      v3(`TO_IN(${G} {${S2}})`),
      // Still the Filter-Mode-Change record (RV of them after the mode change), with the current list.
      v3(`TO_IN(${G} {${S2}, ${S3}})`),
      // Then the Source-List-Change records: S3 must be forwarded, S1 (pending) must be blocked.
      v3(`ALLOW(${G} {${S3}}) BLOCK(${G} {${S1}})`),
      v3(`ALLOW(${G} {${S3}})`),
    ]);
    expect(rows.slice(0, 2).map((r) => r.t)).toEqual([t0, t0]);
    expect(rows[2].t).toBe(t0 + 1);
    expectRetransmissionTimes(rows.slice(2), t0 + 1);
  });

  it('leaving an INCLUDE group while a BLOCK is pending: the pending source rides along in the leave BLOCK (§5.1)', () => {
    const { L, wire, h, now } = mgmdLab(23);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S2 });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S2 });
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`BLOCK(${SSM} {${S2}})`), v3(`BLOCK(${SSM} {${S2}, ${S1}})`), v3(`BLOCK(${SSM} {${S1}})`)]);
    expectRetransmissionTimes(rows.slice(1), t0);
  });

  it('leaving during pending source changes: TO_IN {} RV times and nothing else', () => {
    const { L, wire, h, now } = mgmdLab(20);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: G, imr_sourceaddr: S1 });
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`BLOCK(${G} {${S1}})`), v3(`TO_IN(${G} {})`), v3(`TO_IN(${G} {})`)]);
    expectRetransmissionTimes(rows.slice(1), t0);
  });

  it('rejoining while the leave is retransmitted: TO_EX {} at once and RV times, the group is kept', () => {
    const { L, wire, h, em0, now } = mgmdLab(21);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`TO_IN(${G} {})`), v3(`TO_EX(${G} {})`), v3(`TO_EX(${G} {})`)]);
    expectRetransmissionTimes(rows.slice(1), t0);
    expect(holds(em0, G)).toBe(true);
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    expect(holds(em0, G)).toBe(false);
  });
});
