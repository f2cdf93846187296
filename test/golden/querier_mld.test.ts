// The MLD querier (RFC 9777 §7, RFC 2710 for MLDv1 routers) on the shared
// router core: queries from the link-local address with hop limit 1 and a
// Hop-by-Hop Router Alert, election by the lowest link-local address,
// learning taplab hosts' MLDv2 and MLDv1 memberships — golden traces in
// virtual time.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { in6Parse } from '../../src/inet/in6.js';
import { IPPROTO_IPV6, IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP, MCAST_JOIN_SOURCE_GROUP, MCAST_LEAVE_SOURCE_GROUP } from '../../src/inet/socket.js';
import type { MgmdRouterIf } from '../../src/mgmd/router.js';

const G = 'ff05::1:3';
const SSM = 'ff35::1';
const SRC = '2001:db8::7';
// MLD defaults (RFC 9777 §9): MALI = 2*125 + 2*10 = 270 s (§9.4), LLQT = 2 s, Older Version Host Present 260 s.
const MALI = 270;
const OHPI = 260;

function row(r: MgmdRouterIf, group: string) {
  return r.view().groups.find((g) => g.group === group);
}

function queriesFrom(wire: ReturnType<typeof mgmdLab>['wire'], from: string, since = 0) {
  return wire.select({ from, af: 6, since }).filter(({ e }) => e.msg.includes('query'));
}

describe('MLD querier', () => {
  it('MLDv2 startup queries: from the link-local address to ff02::1, hop limit 1, Router Alert, QRV/QQIC/Max Resp', () => {
    const { L, wire, h, em0, now } = mgmdLab(70, { n: 1, v4: false });
    const t0 = now();
    h.mld.enableQuerier(em0);
    L.run(40_000);
    const qs = queriesFrom(wire, 'h1.em0');
    expect(qs.map(({ e }) => e.t - t0)).toEqual([0, 31_250]);
    for (const { e, d } of qs) {
      expect(e).toMatchObject({ ipSrc: 'fe80::ff:fe00:1', ipDst: 'ff02::1', ttl: 1, routerAlert: true, msg: 'MLDv2 query general' });
      expect(d.query).toEqual({ sFlag: false, maxRespMs: 10_000, qrv: 2, qqi: 125, len: 28 });
    }
  });

  it('election: the lowest link-local address is querier; the other becomes non-querier', () => {
    const lab = mgmdLab(71, { n: 2, v4: false });
    const r2 = lab.hosts[1].mld.enableQuerier(lab.ifs[1]);
    const r1 = lab.hosts[0].mld.enableQuerier(lab.ifs[0]);
    lab.L.run(10);
    expect(r1.querier).toBe(true);
    expect(r2.view()).toMatchObject({ querier: false, querierAddr: 'fe80::ff:fe00:1' });
  });

  it('learns MLDv2 ASM and SSM listeners and removes them after the leaves within LLQT', () => {
    const lab = mgmdLab(72, { n: 2, v4: false });
    const r = lab.h.mld.enableQuerier(lab.em0);
    const so = lab.hosts[1].inet.socket('inet6');
    so.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: G, ipv6mr_interface: lab.ifs[1].if_index });
    so.setsockopt(IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, { gsr_interface: lab.ifs[1].if_index, gsr_group: SSM, gsr_source: SRC });
    lab.L.run(10_000);
    expect(row(r, G)).toMatchObject({ mode: 'exclude', sources: [], lastReporter: 'fe80::ff:fe00:2', compat: 3 });
    // Reports (the state change, its retransmission, the answer to the startup query) each set MALI.
    expect(row(r, G)!.timer).toBeGreaterThan(MALI - 10);
    expect(row(r, SSM)).toMatchObject({ mode: 'include', sources: [{ addr: SRC }] });
    // The other host's solicited-node group, reported before we were querier, is learnt from its answer to the startup query.
    expect(row(r, 'ff02::1:ff00:2')).toMatchObject({ mode: 'exclude' });
    const t = lab.now();
    so.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, { ipv6mr_multiaddr: G, ipv6mr_interface: lab.ifs[1].if_index });
    so.setsockopt(IPPROTO_IPV6, MCAST_LEAVE_SOURCE_GROUP, { gsr_interface: lab.ifs[1].if_index, gsr_group: SSM, gsr_source: SRC });
    lab.L.run(3000);
    expect(row(r, G)).toBeUndefined();
    expect(row(r, SSM)).toBeUndefined();
    const sent = queriesFrom(lab.wire, 'h1.em0', t).map(({ e }) => `${e.msg} -> ${e.ipDst}`);
    expect(sent).toContain(`MLDv2 query ${G} -> ${G}`);
    expect(sent).toContain(`MLDv2 query ${SSM} {${SRC}} -> ${SSM}`);
  });

  it('an MLDv1 listener puts its group in MLDv1 compatibility; its done message triggers the last listener queries', () => {
    const lab = mgmdLab(73, { n: 2, v4: false });
    const r = lab.h.mld.enableQuerier(lab.em0);
    lab.hosts[1].mld.forceVersion(lab.ifs[1], 1);
    const so = lab.hosts[1].inet.socket('inet6');
    so.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: G, ipv6mr_interface: lab.ifs[1].if_index });
    lab.L.run(0);
    expect(row(r, G)).toMatchObject({ compat: 2, v2HostTimer: OHPI, mode: 'exclude', timer: MALI });
    lab.L.run(1000);
    const t = lab.now();
    so.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, { ipv6mr_multiaddr: G, ipv6mr_interface: lab.ifs[1].if_index });
    lab.L.run(3000);
    expect(queriesFrom(lab.wire, 'h1.em0', t).map(({ e }) => [e.t - t, e.msg])).toEqual([
      [0, `MLDv2 query ${G}`],
      [1000, `MLDv2 query ${G}`],
    ]);
    expect(row(r, G)).toBeUndefined();
  });

  it('an MLDv1 querier (RFC 2710): 24-octet queries, done → MLDv1 address-specific queries, MLDv2 reports ignored', () => {
    const lab = mgmdLab(74, { n: 2, v4: false });
    const r = lab.h.mld.enableQuerier(lab.em0, { version: 1 });
    lab.L.run(0); // h2 hears the MLDv1 query before it joins, and so reports in MLDv1 (RFC 9777 §8.2.1)
    const first = queriesFrom(lab.wire, 'h1.em0')[0];
    expect(first.e.msg).toBe('MLDv1 query general');
    expect(first.d.query).toMatchObject({ len: 24, maxRespMs: 10_000 });
    const so = lab.hosts[1].inet.socket('inet6');
    so.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: G, ipv6mr_interface: lab.ifs[1].if_index });
    lab.L.run(1000);
    expect(row(r, G)).toMatchObject({ compat: 2 });
    // An MLDv2 report reaching an MLDv1 router is ignored and counted.
    const ignored = r.stats.recordsIgnored;
    lab.wire.sendMld({ kind: 'v2report', records: [{ type: 2, group: in6Parse('ff05::9')!, sources: [] }] } as never);
    lab.L.run(0);
    expect(r.stats.recordsIgnored).toBe(ignored + 1);
    expect(row(r, 'ff05::9')).toBeUndefined();
    const t = lab.now();
    so.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, { ipv6mr_multiaddr: G, ipv6mr_interface: lab.ifs[1].if_index });
    lab.L.run(3000);
    expect(queriesFrom(lab.wire, 'h1.em0', t).map(({ e, d }) => [e.msg, e.ipDst, d.query!.maxRespMs])).toEqual([
      [`MLDv1 query ${G}`, G, 1000],
      [`MLDv1 query ${G}`, G, 1000],
    ]);
    expect(row(r, G)).toBeUndefined();
  });

  it('reports without the Router Alert option are dropped by the router and counted (RFC 9777 §7.4); an MLDv1 report to an address of the router is taken', () => {
    const lab = mgmdLab(74, { n: 1, v4: false });
    const r = lab.h.mld.enableQuerier(lab.em0);
    lab.L.run(10);
    const nora = lab.h.mld.stat.mlds_rcv_nora;
    lab.wire.sendMld({ kind: 'v2report', records: [{ type: 2, group: in6Parse('ff05::9')!, sources: [] }] } as never, { routerAlert: false });
    lab.wire.sendMld({ kind: 'v1report', group: in6Parse('ff05::a')! } as never, { routerAlert: false });
    lab.L.run(0);
    expect(r.view().groups).toEqual([]);
    expect(lab.h.mld.stat.mlds_rcv_nora).toBe(nora + 2);
    lab.wire.sendMld({ kind: 'v1report', group: in6Parse('ff05::b')! } as never, { dst: 'fe80::ff:fe00:1', ethDst: '02:00:00:00:00:01' });
    lab.L.run(0);
    expect(row(r, 'ff05::b')).toMatchObject({ mode: 'exclude', compat: 2 });
  });
});
