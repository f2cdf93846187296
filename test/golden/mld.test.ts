// MLDv2 (RFC 9777 / RFC 3810 §5-§6, §8) and MLDv1 (RFC 2710 §4) host behaviour, as golden traces.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { gaps, untimed, type TraceEntry } from '../helpers/mgmd_trace.js';
import { IPPROTO_IPV6, IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP, MCAST_JOIN_SOURCE_GROUP } from '../../src/inet/socket.js';
import type { Host } from '../../src/host.js';
import type { Ifnet } from '../../src/driver/ifnet.js';

const LL = 'fe80::ff:fe00:1';
const SOL = 'ff02::1:ff00:1';
const G = 'ff15::1';
const G2 = 'ff0e::2';
const S1 = '2001:db8::1';

const v2 = (msg: string, src = LL) => ({ from: 'h1.em0', ipSrc: src, ipDst: 'ff02::16', ttl: 1, routerAlert: true, msg: `MLDv2 report ${msg}` });
const v1 = (group: string) => ({ from: 'h1.em0', ipSrc: LL, ipDst: group, ttl: 1, routerAlert: true, msg: `MLDv1 report ${group}` });
const done = (group: string) => ({ from: 'h1.em0', ipSrc: LL, ipDst: 'ff02::2', ttl: 1, routerAlert: true, msg: `MLDv1 done ${group}` });

function join6(h: Host, ifp: Ifnet, group: string) {
  const so = h.inet.socket('inet6');
  so.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: group, ipv6mr_interface: ifp.if_index });
  return { so, leave: () => so.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, { ipv6mr_multiaddr: group, ipv6mr_interface: ifp.if_index }) };
}

function within(rows: TraceEntry[], lo: number, hi: number): void {
  for (const r of rows) {
    expect(r.t).toBeGreaterThanOrEqual(lo);
    expect(r.t).toBeLessThanOrEqual(hi);
  }
}

describe('MLDv2 (RFC 9777 §5.2.13, §6)', () => {
  it('at attach: the solicited-node group is reported from :: while the link-local address is tentative; ff02::1 and ff01::1 never', () => {
    const { L, wire, h, em0 } = mgmdLab(90, { settle: 0, v4: false });
    expect(h.inet.v6.addresses(em0)[0].tentative).toBe(true);
    L.run(10_000);
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows)).toEqual([v2(`TO_EX(${SOL} {})`, '::'), v2(`TO_EX(${SOL} {})`, '::')]);
    expect(rows[0].t).toBe(0);
    expect(gaps(rows, 0)[1]).toBeGreaterThan(0);
    expect(gaps(rows, 0)[1]).toBeLessThanOrEqual(1000);
    expect(h.inet.v6.addresses(em0)[0].tentative).toBe(false);
  });

  it('a join: TO_EX {} from the link-local address to ff02::16, hop limit 1, Router Alert 0 in Hop-by-Hop, RV times', () => {
    const { L, wire, h, em0, now } = mgmdLab(91, { v4: false });
    const t0 = now();
    join6(h, em0, G);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows)).toEqual([v2(`TO_EX(${G} {})`), v2(`TO_EX(${G} {})`)]);
    expect(rows[0].t).toBe(t0);
    within(rows.slice(1), t0 + 1, t0 + 1000);
  });

  it('an SSM join: ALLOW {S}; a leave: TO_IN {}', () => {
    const { L, wire, h, em0 } = mgmdLab(92, { v4: false });
    const so = h.inet.socket('inet6');
    so.setsockopt(IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, { gsr_interface: em0.if_index, gsr_group: 'ff35::1', gsr_source: S1 });
    L.run(30_000);
    const m = join6(h, em0, G);
    L.run(30_000);
    wire.clear();
    m.leave();
    L.run(30_000);
    expect(wire.msgs('h1.em0', 6)).toEqual([`MLDv2 report TO_IN(${G} {})`, `MLDv2 report TO_IN(${G} {})`]);
  });

  it('scope 1 (ff01::) and ff02::1 are never reported, not even in answers to a general query', () => {
    const { L, wire, h, em0, now } = mgmdLab(93, { v4: false });
    join6(h, em0, 'ff01::123');
    join6(h, em0, 'ff02::1');
    L.run(30_000);
    expect(wire.sent('h1.em0', 6)).toEqual([]);
    join6(h, em0, G2);
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query6({ version: 2, maxRespMs: 2000 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows)).toEqual([v2(`IS_EX(${SOL} {}) IS_EX(${G2} {})`)]);
    within(rows, t0, t0 + 2000);
  });

  it('a general query to our link-local address or to a group joined here is answered (RFC 9777 §5.1.15 MUST)', () => {
    const { L, wire, h, em0 } = mgmdLab(97, { v4: false });
    join6(h, em0, G);
    L.run(30_000);
    wire.clear();
    const bad = h.mld.stat.mlds_rcv_badqueries;
    wire.query6({ version: 2, maxRespMs: 1000 }, { dst: LL, ethDst: '02:00:00:00:00:01' });
    L.run(5000);
    expect(untimed(wire.sent('h1.em0', 6))).toEqual([v2(`IS_EX(${SOL} {}) IS_EX(${G} {})`)]);
    wire.clear();
    wire.query6({ version: 2, maxRespMs: 1000 }, { dst: G });
    L.run(5000);
    expect(untimed(wire.sent('h1.em0', 6))).toEqual([v2(`IS_EX(${SOL} {}) IS_EX(${G} {})`)]);
    expect(h.mld.stat.mlds_rcv_badqueries).toBe(bad);
  });

  it('address-and-source-specific query: IS_IN(A*Q) for INCLUDE(A)', () => {
    const { L, wire, h, em0, now } = mgmdLab(94, { v4: false });
    const so = h.inet.socket('inet6');
    so.setsockopt(IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, { gsr_interface: em0.if_index, gsr_group: 'ff35::1', gsr_source: S1 });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query6({ version: 2, group: 'ff35::1', sources: [S1, '2001:db8::2'], maxRespMs: 1000 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows)).toEqual([v2(`IS_IN(ff35::1 {${S1}})`)]);
    within(rows, t0, t0 + 1000);
  });
});

describe('MLDv1 compatibility (RFC 9777 §8.2, RFC 2710 §4)', () => {
  it('an MLDv1 address-specific query leaves MLDv2 mode alone and is answered in MLDv2 (RFC 9777 §8.2.1: only an MLDv1 General Query switches)', () => {
    const { L, wire, h, em0, now } = mgmdLab(98, { v4: false });
    join6(h, em0, G);
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query6({ version: 1, group: G, maxRespMs: 1000 });
    L.run(1000);
    expect(h.mld.ifinfoView(em0)).toMatchObject({ mli_version: 2, mli_v1_timer: 0 });
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows)).toEqual([v2(`IS_EX(${G} {})`)]);
    within(rows, t0, t0 + 1000);
  });

  it('an MLDv1 query: MLDv1 mode, v1 reports to each group within Max Response Delay, Done to ff02::2 by the last reporter', () => {
    const { L, wire, h, em0, now } = mgmdLab(95, { v4: false });
    const m = join6(h, em0, G);
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query6({ version: 1, maxRespMs: 3000 });
    L.run(1);
    expect(h.mld.ifinfoView(em0)).toMatchObject({ mli_version: 1, mli_v1_timer: 2 * 125 + 10 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows).sort((a, b) => a.msg.localeCompare(b.msg))).toEqual([v1(SOL), v1(G)]);
    within(rows, t0, t0 + 3000);
    wire.clear();
    const t1 = now();
    m.leave();
    L.run(30_000);
    const out = wire.sent('h1.em0', 6);
    expect(untimed(out)).toEqual([done(G)]);
    expect(out[0].t).toBe(t1);
  });

  it('in MLDv1 mode a join sends unsolicited v1 reports to the group (RV of them), not suppressed ones', () => {
    const { L, wire, h, em0, now } = mgmdLab(96, { v4: false });
    wire.query6({ version: 1, maxRespMs: 1000 });
    L.run(5000);
    wire.clear();
    const t0 = now();
    join6(h, em0, G);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 6);
    expect(untimed(rows)).toEqual([v1(G), v1(G)]);
    expect(rows[0].t).toBe(t0);
    within(rows.slice(1), t0 + 1, t0 + 10_000);
  });

  it('another listener\'s MLDv1 report suppresses ours: no report, and no Done on leave', () => {
    const { L, wire, h, em0 } = mgmdLab(97, { v4: false });
    const m = join6(h, em0, G);
    L.run(30_000);
    wire.query6({ version: 1, maxRespMs: 10_000 });
    wire.sendMld({ kind: 'v1report', group: new Uint8Array([0xff, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) }, { src: 'fe80::77' });
    L.run(1);
    wire.clear();
    L.run(30_000);
    expect(wire.msgs('h1.em0', 6)).toEqual([`MLDv1 report ${SOL}`]);
    expect(h.mld.stat.mlds_rcv_ourreports).toBe(1);
    wire.clear();
    m.leave();
    L.run(30_000);
    expect(wire.sent('h1.em0', 6)).toEqual([]);
  });
});

describe('MLD query validation (RFC 9777 §5.1.15 / RFC 3810 §5.1.14)', () => {
  it('queries without Router Alert, from a non-link-local source or with hop limit != 1 are ignored and counted', () => {
    const { L, wire, h, em0 } = mgmdLab(98, { v4: false });
    join6(h, em0, G);
    L.run(30_000);
    wire.clear();
    const before = { ...h.mld.stat };
    wire.query6({ version: 2, maxRespMs: 1000 }, { routerAlert: false });
    wire.query6({ version: 2, maxRespMs: 1000 }, { src: '2001:db8::fe' });
    wire.query6({ version: 2, maxRespMs: 1000 }, { hlim: 255 });
    wire.query6({ version: 1, maxRespMs: 1000 }, { routerAlert: false });
    L.run(30_000);
    expect(wire.sent('h1.em0', 6)).toEqual([]);
    expect(h.mld.ifinfoView(em0).mli_version).toBe(2);
    const st = h.mld.stat;
    expect({
      total: st.mlds_rcv_total - before.mlds_rcv_total,
      nora: st.mlds_rcv_nora - before.mlds_rcv_nora,
      badsrc: st.mlds_rcv_badsrc - before.mlds_rcv_badsrc,
      badhlim: st.mlds_rcv_badhlim - before.mlds_rcv_badhlim,
      gen: st.mlds_rcv_gen_queries - before.mlds_rcv_gen_queries,
    }).toEqual({ total: 4, nora: 2, badsrc: 1, badhlim: 1, gen: 0 });
    // The same query done right is answered.
    wire.query6({ version: 2, maxRespMs: 1000 });
    L.run(30_000);
    expect(wire.msgs('h1.em0', 6)).toEqual([`MLDv2 report IS_EX(${SOL} {}) IS_EX(${G} {})`]);
  });
});
