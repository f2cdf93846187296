// RFC 9776 (RFC 3376) §7.2.1: Host Compatibility Mode, as golden traces.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { untimed, type TraceEntry } from '../helpers/mgmd_trace.js';
import { IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import { inParse } from '../../src/inet/in.js';

const G = '239.1.1.1';
const G2 = '239.2.2.2';
const SSM = '232.1.1.1';
const S1 = '198.51.100.1';

const rep = (v: 1 | 2, group: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: group, ttl: 1, routerAlert: true, msg: `IGMPv${v} report ${group}` });
const v3 = (msg: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: '224.0.0.22', ttl: 1, routerAlert: true, msg: `IGMPv3 report ${msg}` });

function within(rows: TraceEntry[], lo: number, hi: number): void {
  for (const r of rows) {
    expect(r.t).toBeGreaterThanOrEqual(lo);
    expect(r.t).toBeLessThanOrEqual(hi);
  }
}

describe('IGMP §7.2.1: Older Version Querier Present', () => {
  it('QRV, QQIC and Max Resp of v3 queries are learnt and shown in ifinfo (rv, qi, qri)', () => {
    const { L, wire, h, em0 } = mgmdLab(70);
    expect(h.igmp.ifinfoView(em0)).toMatchObject({ igi_version: 3, igi_rv: 2, igi_qi: 125, igi_qri: 10, igi_uri: 1 });
    wire.query4({ version: 3, qrv: 3, qqiSeconds: 60, maxRespTenths: 50 });
    L.run(10);
    expect(h.igmp.ifinfoView(em0)).toMatchObject({ igi_version: 3, igi_rv: 3, igi_qi: 60, igi_qri: 5, igi_v1_timer: 0, igi_v2_timer: 0 });
  });

  it('a v2 general query: v2 mode for exactly RV*QI+QRI (learnt values); v2 just before, v3 just after', () => {
    const { L, wire, h, em0, now } = mgmdLab(71);
    wire.query4({ version: 3, qrv: 3, qqiSeconds: 60, maxRespTenths: 50 });
    L.run(10_000);
    const t0 = now();
    wire.query4({ version: 2, maxRespTenths: 100 });
    L.run(0);
    const ovqi = (3 * 60 + 5) * 1000;
    expect(h.igmp.ifinfoView(em0)).toMatchObject({ igi_version: 2, igi_v2_timer: ovqi / 1000 });
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(ovqi - 1 - (now() - t0));
    expect(now()).toBe(t0 + ovqi - 1);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(2);
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G2 });
    L.run(2);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(3);
    const t3 = now();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    // RV (3, learnt) unsolicited v2 reports for G.
    expect(untimed(rows.filter((r) => r.t < t3))).toEqual([rep(2, G), rep(2, G), rep(2, G), rep(2, G2)]);
    // The second v2 report for G2 was pending at the switch: cancelled.
    expect(untimed(rows.filter((r) => r.t >= t3))).toEqual([v3(`ALLOW(${SSM} {${S1}})`), v3(`ALLOW(${SSM} {${S1}})`), v3(`ALLOW(${SSM} {${S1}})`)]);
  });

  it('a v2 group-specific query does not start the IGMPv2 Querier Present timer', () => {
    const { L, wire, h, em0 } = mgmdLab(72);
    h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.query4({ version: 2, group: G, maxRespTenths: 10 });
    L.run(10);
    expect(h.igmp.ifinfoView(em0)).toMatchObject({ igi_version: 3, igi_v2_timer: 0 });
  });

  it('a v1 query: v1 mode (v1 reports, no leave); v2 queries meanwhile keep v1; then v2 while the v2 timer runs, then v3', () => {
    const { L, wire, h, em0, now } = mgmdLab(73);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    const ovqi = (2 * 125 + 10) * 1000;
    wire.query4({ version: 1 });
    L.run(0);
    expect(h.igmp.ifinfoView(em0)).toMatchObject({ igi_version: 1, igi_v1_timer: ovqi / 1000 });
    L.run(60_000);
    const t1 = now();
    wire.query4({ version: 2, maxRespTenths: 10 });
    L.run(60_000);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(1);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(1, G), rep(1, G)]);
    within(rows.slice(0, 1), t0, t0 + 10_000);
    within(rows.slice(1), t1, t1 + 1000);
    // v1 expires at t0 + ovqi; the v2 timer (t1 + ovqi) still runs: v2.
    L.run(t0 + ovqi - now());
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(2);
    L.run(t1 + ovqi - now());
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(3);
  });

  it('entering an older mode cancels pending state-change retransmissions and query responses', () => {
    const { L, wire, h, now } = mgmdLab(74);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G2 });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 100 }); // a general-query response now pending
    L.run(0);
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G }); // TO_EX sent, one retransmission pending
    wire.query4({ version: 2, maxRespTenths: 20 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows.slice(0, 1))).toEqual([v3(`TO_EX(${G} {})`)]);
    expect(rows[0].t).toBe(t0);
    // Nothing else of v3: only the v2 answers to the v2 query, within its 2 s.
    expect(untimed(rows.slice(1)).sort((a, b) => a.msg.localeCompare(b.msg))).toEqual([rep(2, G), rep(2, G2)]);
    within(rows.slice(1), t0, t0 + 2000);
  });

  it('a leave pending retransmission when v2 mode begins: the v2 querier gets a v2 leave, and the group goes at once', () => {
    const { L, wire, h, em0 } = mgmdLab(75);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    expect(h.inet.v4.findGroup(em0, inParse(G)!)).toBeDefined();
    wire.query4({ version: 2, maxRespTenths: 20 });
    L.run(1);
    expect(h.inet.v4.findGroup(em0, inParse(G)!)).toBeUndefined();
    L.run(60_000);
    // FreeBSD's igmp_v3_cancel_link_timers: the older querier must still hear the leave.
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv3 report TO_IN(${G} {})`, `IGMPv2 leave ${G}`]);
  });

  it('v2 mode reports an SSM (INCLUDE) membership with a v2 report to the group, and leaves it with a v2 leave', () => {
    const { L, wire, h, now } = mgmdLab(76);
    wire.query4({ version: 2, maxRespTenths: 100 });
    L.run(10);
    const so = h.inet.socket();
    const t0 = now();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(30_000);
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(2, SSM), rep(2, SSM), { ...rep(2, SSM), ipDst: '224.0.0.2', msg: `IGMPv2 leave ${SSM}` }]);
    expect(rows[0].t).toBe(t0);
  });
});

describe('IGMP: default_version and forceVersion cap the version', () => {
  it('default_version 2: v2 reports; a v3 query does not raise it and is answered in v2', () => {
    const { L, wire, h, em0, now } = mgmdLab(77);
    h.igmp.setDefaultVersion(2);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(2);
    h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(30_000);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(2);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(2, G)]);
    within(rows, t0, t0 + 1000);
  });

  it('groups joined in v3, then default_version 2: leaving sends a v2 leave (we reported them; FreeBSD igmp_final_leave), unless another host reported since', () => {
    const { L, wire, h } = mgmdLab(79);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G2 });
    L.run(30_000);
    h.igmp.setDefaultVersion(2);
    wire.sendIgmp({ kind: 'v2report', group: inParse(G2)! }, { src: '192.0.2.77' });
    L.run(0);
    wire.clear();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G2 });
    L.run(30_000);
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv2 leave ${G}`]);
  });

  it('forceVersion 1 gives v1; forceVersion 0 returns to default_version; an older querier still lowers a capped interface', () => {
    const { L, wire, h, em0 } = mgmdLab(78);
    h.igmp.forceVersion(em0, 1);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(30_000);
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv1 report ${G}`, `IGMPv1 report ${G}`]);
    wire.clear();
    h.igmp.forceVersion(em0, 0);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(3);
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G2 });
    L.run(30_000);
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv3 report TO_EX(${G2} {})`, `IGMPv3 report TO_EX(${G2} {})`]);
    h.igmp.forceVersion(em0, 2);
    wire.query4({ version: 1 });
    L.run(1);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(1);
    expect(() => h.igmp.forceVersion(em0, 4 as 3)).toThrow(/EINVAL/);
  });
});
