// igmp_input: receive validation and the igmpstat counters (FreeBSD igmp.c; RFC 9776 §4.1.12, §7.1, §9.1; RFC 2236 §2).
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { untimed } from '../helpers/mgmd_trace.js';
import { IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import { inParse } from '../../src/inet/in.js';
import { sockaddrToString } from '../../src/driver/sockaddr.js';
import { sysctlTreeOf } from '../../src/tools/registry.js';
import { igmpEmit } from '../../src/igmp/codec.js';
import { IPPROTO_IGMP, ipEmit, ipParse } from '../../src/inet/ip_codec.js';
import { IgmpStat } from '../../src/stats/igmp_stats.js';
import type { Host } from '../../src/host.js';

const G = '239.1.1.1';
const v3 = (msg: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: '224.0.0.22', ttl: 1, routerAlert: true, msg: `IGMPv3 report ${msg}` });

function snapshot(h: Host): Record<string, number> {
  return { ...(h.igmp.stat as unknown as Record<string, number>) };
}

/** The igmpstat counters that moved. */
function delta(h: Host, before: Record<string, number>): Record<string, number> {
  const now = snapshot(h);
  const out: Record<string, number> = {};
  for (const k of Object.keys(now)) if (now[k] !== before[k]) out[k] = now[k] - before[k];
  return out;
}

function joined(seed: number) {
  const lab = mgmdLab(seed);
  lab.h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
  lab.L.run(30_000);
  lab.wire.clear();
  return lab;
}

describe('igmp_input validation and igmpstat', () => {
  it('the counters start at zero, with FreeBSD names', () => {
    expect(Object.keys(new IgmpStat())).toEqual([
      'igps_version',
      'igps_len',
      'igps_rcv_total',
      'igps_rcv_tooshort',
      'igps_rcv_badttl',
      'igps_rcv_badsum',
      'igps_rcv_v1v2_queries',
      'igps_rcv_v3_queries',
      'igps_rcv_badqueries',
      'igps_rcv_gen_queries',
      'igps_rcv_group_queries',
      'igps_rcv_gsr_queries',
      'igps_drop_gsr_queries',
      'igps_rcv_reports',
      'igps_rcv_badreports',
      'igps_rcv_ourreports',
      'igps_rcv_nora',
      'igps_snd_reports',
    ]);
  });

  it('a valid v3 general query is counted and answered', () => {
    const { L, wire, h, now } = joined(80);
    const s = snapshot(h);
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 1, igps_rcv_v3_queries: 1, igps_rcv_gen_queries: 1, igps_snd_reports: 1 });
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_EX(${G} {})`)]);
    expect(rows[0].t - t0).toBeLessThanOrEqual(1000);
  });

  it('TTL other than 1: igps_rcv_badttl, ignored', () => {
    const { L, wire, h } = joined(81);
    const s = snapshot(h);
    wire.query4({ version: 3, maxRespTenths: 10 }, { ttl: 2 });
    wire.query4({ version: 2, maxRespTenths: 10 }, { ttl: 64 });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 2, igps_rcv_badttl: 2 });
    expect(wire.sent('h1.em0', 4)).toEqual([]);
    expect(h.igmp.ifinfoView(h.ifunit('em0')!).igi_version).toBe(3);
  });

  it('v2 and v3 queries without Router Alert: igps_rcv_nora, ignored (RFC 9776 §9.1); a v1 query needs none', () => {
    const { L, wire, h, em0, now } = joined(82);
    const s = snapshot(h);
    wire.query4({ version: 3, maxRespTenths: 10 }, { routerAlert: false });
    wire.query4({ version: 2, maxRespTenths: 10 }, { routerAlert: false });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 2, igps_rcv_v3_queries: 1, igps_rcv_v1v2_queries: 1, igps_rcv_nora: 2 });
    expect(wire.sent('h1.em0', 4)).toEqual([]);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(3);
    const t0 = now();
    wire.query4({ version: 1 }, { routerAlert: false });
    L.run(15_000);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(1);
    const rows = wire.sent('h1.em0', 4);
    expect(rows.map((r) => r.msg)).toEqual([`IGMPv1 report ${G}`]);
    expect(rows[0].t - t0).toBeLessThanOrEqual(10_000);
  });

  it('a general query to our own unicast address or to a group joined here is answered (RFC 9776 §4.1.12 MUST)', () => {
    const { L, wire, h } = joined(83);
    const s = snapshot(h);
    wire.query4({ version: 3, maxRespTenths: 10 }, { dst: '192.0.2.1', ethDst: '02:00:00:00:00:01' });
    L.run(5000);
    expect(untimed(wire.sent('h1.em0', 4))).toEqual([v3(`IS_EX(${G} {})`)]);
    wire.clear();
    wire.query4({ version: 2, maxRespTenths: 10 }, { dst: G });
    L.run(5000);
    expect(wire.sent('h1.em0', 4).map((r) => r.msg)).toEqual([`IGMPv2 report ${G}`]);
    expect(delta(h, s)).toMatchObject({ igps_rcv_total: 2, igps_rcv_v3_queries: 1, igps_rcv_v1v2_queries: 1, igps_rcv_gen_queries: 2 });
    expect(h.igmp.stat.igps_rcv_badqueries).toBe(s.igps_rcv_badqueries);
  });

  it('a general query to a group being left (its leave still retransmitted) is bad: that group is no longer joined', () => {
    const { L, wire, h } = joined(91);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.3' });
    L.run(30_000);
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.1.1.3' });
    wire.clear();
    const s = snapshot(h);
    wire.query4({ version: 3, maxRespTenths: 10 }, { dst: '239.1.1.3' });
    L.run(0);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 1, igps_rcv_v3_queries: 1, igps_rcv_badqueries: 1 });
  });

  it('a v2 report sent to our unicast address does not suppress our own pending report (no router heard it)', () => {
    const { L, wire, h } = joined(92);
    wire.query4({ version: 2, maxRespTenths: 100 });
    L.run(1);
    wire.sendIgmp({ kind: 'v2report', group: inParse(G)! }, { src: '192.0.2.77', dst: '192.0.2.1', ethDst: '02:00:00:00:00:01' });
    L.run(10_000);
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv2 report ${G}`]);
    expect(h.igmp.stat.igps_rcv_ourreports).toBeGreaterThan(0);
  });

  it('a general query to a group not joined on the interface: igps_rcv_badqueries, ignored', () => {
    const { L, wire, h } = joined(85);
    const s = snapshot(h);
    // (Sent to the all-hosts MAC so that the Ethernet filter lets it through to IGMP.)
    wire.query4({ version: 3, maxRespTenths: 10 }, { dst: '239.9.9.9', ethDst: '01:00:5e:00:00:01' });
    wire.query4({ version: 2, maxRespTenths: 10 }, { dst: '239.9.9.9', ethDst: '01:00:5e:00:00:01' });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 2, igps_rcv_v3_queries: 1, igps_rcv_v1v2_queries: 1, igps_rcv_badqueries: 2 });
    expect(wire.sent('h1.em0', 4)).toEqual([]);
  });

  it('never an immediate answer: the response delay lies in (0, Max Resp Time] even when the random draw is 0 (RFC 9776 §5.2, RFC 2236 §3)', () => {
    for (const version of [3, 2] as const) {
      const { L, wire, h } = joined(86 + version);
      h.random.below = () => 0;
      wire.query4({ version, maxRespTenths: 10 });
      L.run(0);
      expect(wire.sent('h1.em0', 4)).toEqual([]);
      L.run(1);
      expect(wire.sent('h1.em0', 4)).toHaveLength(1);
    }
  });

  it('a query from 0.0.0.0 is valid and answered (the Linux bridge querier sends them)', () => {
    const { L, wire, h, now } = joined(84);
    const s = snapshot(h);
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 10 }, { src: '0.0.0.0' });
    L.run(5000);
    const t1 = now();
    wire.query4({ version: 2, group: G, maxRespTenths: 10 }, { src: '0.0.0.0' });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 2, igps_rcv_v3_queries: 1, igps_rcv_v1v2_queries: 1, igps_rcv_gen_queries: 1, igps_rcv_group_queries: 1, igps_snd_reports: 2 });
    const rows = wire.sent('h1.em0', 4);
    // A v2 group-specific query leaves the interface in v3 mode (only a v2 General Query starts
    // the IGMPv2 Querier Present timer, §7.2.1), so it is answered as a v3 group query.
    expect(rows.map((r) => r.msg)).toEqual([`IGMPv3 report IS_EX(${G} {})`, `IGMPv3 report IS_EX(${G} {})`]);
    expect(rows[0].t - t0).toBeLessThanOrEqual(1000);
    expect(rows[1].t - t1).toBeLessThanOrEqual(1000);
  });

  it('a bad checksum: igps_rcv_badsum; too short: igps_rcv_tooshort; a 9..11 byte query: igps_rcv_badqueries', () => {
    const { L, wire, h } = joined(85);
    const s = snapshot(h);
    wire.query4({ version: 3, maxRespTenths: 10 }, { mangle: (b) => (b[5] ^= 1, b) });
    wire.query4({ version: 2, maxRespTenths: 10 }, { mangle: (b) => b.slice(0, 6) });
    wire.query4({ version: 3, maxRespTenths: 10 }, { mangle: (b) => fixSum(b.slice(0, 10)) });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 3, igps_rcv_badsum: 1, igps_rcv_tooshort: 1, igps_rcv_badqueries: 1 });
    expect(wire.sent('h1.em0', 4)).toEqual([]);
  });

  it('another host\'s v2 report for our group: igps_rcv_reports and igps_rcv_ourreports (no suppression in v3 mode)', () => {
    const { L, wire, h, em0 } = joined(86);
    const s = snapshot(h);
    wire.sendIgmp({ kind: 'v2report', group: inParse(G)! }, { src: '192.0.2.77' });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 1, igps_rcv_reports: 1, igps_rcv_ourreports: 1 });
    // legacysupp is off: the v3 host still answers its queries.
    wire.query4({ version: 3, group: G, maxRespTenths: 10 });
    L.run(5000);
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv3 report IS_EX(${G} {})`]);
    void em0;
  });

  it('with legacysupp, another host\'s v2 report answers our pending group query response, and the group still answers the next query', () => {
    const { L, wire, h, em0 } = joined(90);
    sysctlTreeOf(h).set('net.inet.igmp.legacysupp', 1); // after the interface exists: the knob is global
    wire.query4({ version: 3, group: G, maxRespTenths: 100 });
    L.run(1);
    wire.sendIgmp({ kind: 'v2report', group: inParse(G)! }, { src: '192.0.2.77' });
    L.run(15_000);
    expect(wire.msgs('h1.em0', 4)).toEqual([]);
    wire.query4({ version: 3, group: G, maxRespTenths: 10 });
    L.run(5000);
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv3 report IS_EX(${G} {})`]);
    // Heard while leaving, a v2 report does not stop the leave's retransmissions nor keep the group.
    wire.clear();
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.2' });
    L.run(30_000);
    wire.clear();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.1.1.2' });
    wire.sendIgmp({ kind: 'v2report', group: inParse('239.1.1.2')! }, { src: '192.0.2.77' });
    L.run(30_000);
    expect(wire.msgs('h1.em0', 4)).toEqual(['IGMPv3 report TO_IN(239.1.1.2 {})', 'IGMPv3 report TO_IN(239.1.1.2 {})']);
    expect(em0.if_multiaddrs.map((m) => sockaddrToString(m.ifma_addr))).not.toContain('239.1.1.2');
  });

  it('reports for groups we do not hold: counted in igps_rcv_reports only', () => {
    const { L, wire, h, em0 } = joined(87);
    const s = snapshot(h);
    // A v3 report (hosts ignore them) that reaches us through a group we hold.
    wire.sendIgmp({ kind: 'v3report', records: [{ type: 4, group: inParse('239.9.9.9')!, sources: [] }] }, { dst: '224.0.0.1' });
    L.run(10);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 1, igps_rcv_reports: 1 });
    // A v2 report for 239.129.1.1: its MAC (01:00:5e:01:01:01) is 239.1.1.1's, so the link filter lets it
    // through, and ip_input hands IGMP to igmp_input whatever the membership, as FreeBSD's does:
    // igmp_input counts a report and nothing else (the group is not ours, so nothing is suppressed).
    const notmember = h.inet.ipstat.ips_notmember;
    wire.sendIgmp({ kind: 'v2report', group: inParse('239.129.1.1')! }, { src: '192.0.2.77' });
    L.run(10);
    expect(h.inet.ipstat.ips_notmember - notmember).toBe(0);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 2, igps_rcv_reports: 2 });
    void ipEmit;
    void ipParse;
    void igmpEmit;
    void IPPROTO_IGMP;
    void em0;
    expect(wire.sent('h1.em0', 4)).toEqual([]);
  });

  it('a v2 report sent neither to its group nor to an address of the interface: igps_rcv_badreports', () => {
    const { L, wire, h } = joined(88);
    const s = snapshot(h);
    wire.sendIgmp({ kind: 'v2report', group: inParse(G)! }, { src: '192.0.2.77', dst: '239.9.9.4', ethDst: '01:00:5e:00:00:01' });
    L.run(10);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 1, igps_rcv_reports: 1, igps_rcv_badreports: 1 });
  });

  it('group and group-and-source queries are counted apart; one for a group we do not hold is counted dropped', () => {
    const { L, wire, h } = joined(89);
    const s = snapshot(h);
    wire.query4({ version: 3, group: G, maxRespTenths: 10 });
    L.run(5000);
    wire.query4({ version: 3, group: G, sources: ['198.51.100.1'], maxRespTenths: 10 });
    L.run(5000);
    wire.query4({ version: 3, group: '239.9.9.9', sources: ['198.51.100.1'], maxRespTenths: 10 }, { dst: '224.0.0.1' });
    L.run(5000);
    expect(delta(h, s)).toEqual({ igps_rcv_total: 3, igps_rcv_v3_queries: 3, igps_rcv_group_queries: 1, igps_rcv_gsr_queries: 2, igps_drop_gsr_queries: 1, igps_snd_reports: 2 });
    expect(wire.msgs('h1.em0', 4)).toEqual([`IGMPv3 report IS_EX(${G} {})`, `IGMPv3 report IS_IN(${G} {198.51.100.1})`]);
  });
});

/** Recompute the IGMP checksum of a mangled message. */
function fixSum(b: Uint8Array): Uint8Array {
  b[2] = b[3] = 0;
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  b[2] = c >> 8;
  b[3] = c & 0xff;
  return b;
}
