// RFC 2236 §3 (IGMPv2) and RFC 1112 App. I (IGMPv1) host behaviour, as golden traces.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { untimed, type TraceEntry } from '../helpers/mgmd_trace.js';
import { IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import { inParse } from '../../src/inet/in.js';
import type { Host } from '../../src/host.js';
import type { Ifnet } from '../../src/driver/ifnet.js';

const G = '239.1.1.1';
const G2 = '239.2.2.2';
const V2_URI = 10_000; // RFC 2236 §8.10 Unsolicited Report Interval

const rep = (v: 1 | 2, group: string, host = 1) => ({ from: `h${host}.em0`, ipSrc: `192.0.2.${host}`, ipDst: group, ttl: 1, routerAlert: true, msg: `IGMPv${v} report ${group}` });
const leave = (group: string, host = 1) => ({ from: `h${host}.em0`, ipSrc: `192.0.2.${host}`, ipDst: '224.0.0.2', ttl: 1, routerAlert: true, msg: `IGMPv2 leave ${group}` });

function join(h: Host, group: string) {
  const so = h.inet.socket();
  so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: group });
  return { leave: () => so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: group }) };
}

/** The remaining time of the group's v1/v2 report timer (-1: none). */
function reportTimer(h: Host, ifp: Ifnet, group: string): number {
  const inm = h.inet.v4.findGroup(ifp, inParse(group)!)!;
  return h.igmp.ifinfo(ifp).groupState(inm).timer?.remaining() ?? -1;
}

function within(rows: TraceEntry[], lo: number, hi: number): void {
  for (const r of rows) {
    expect(r.t).toBeGreaterThanOrEqual(lo);
    expect(r.t).toBeLessThanOrEqual(hi);
  }
}

describe.each([1, 2] as const)('IGMPv%i host (forced version)', (v) => {
  it('join: an unsolicited report at once to the group, repeated once (RV-1) in (0, 10 s]', () => {
    const { L, wire, h, em0, now } = mgmdLab(50 + v);
    h.igmp.forceVersion(em0, v);
    expect(h.igmp.ifinfoView(em0).igi_version).toBe(v);
    const t0 = now();
    join(h, G);
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(v, G), rep(v, G)]);
    expect(rows[0].t).toBe(t0);
    expect(rows[1].t - t0).toBeGreaterThan(0);
    expect(rows[1].t - t0).toBeLessThanOrEqual(V2_URI);
  });

  it('general query: one report per group (not 224.0.0.1), each within the Max Response Time', () => {
    const { L, wire, h, em0, now } = mgmdLab(52 + v);
    h.igmp.forceVersion(em0, v);
    join(h, G);
    join(h, G2);
    L.run(60_000);
    wire.clear();
    const t0 = now();
    // v1 queries carry no Max Resp Time: 10 s (RFC 2236 §4).
    wire.query4(v === 1 ? { version: 1 } : { version: 2, maxRespTenths: 30 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows).sort((a, b) => a.msg.localeCompare(b.msg))).toEqual([rep(v, G), rep(v, G2)]);
    within(rows, t0, t0 + (v === 1 ? 10_000 : 3000));
  });
});

describe('IGMPv2 (RFC 2236 §3)', () => {
  it('group-specific query: a report for that group only, within its Max Response Time', () => {
    const { L, wire, h, em0, now } = mgmdLab(55);
    h.igmp.forceVersion(em0, 2);
    join(h, G);
    join(h, G2);
    L.run(60_000);
    wire.clear();
    const t0 = now();
    wire.query4({ version: 2, group: G2, maxRespTenths: 10 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(2, G2)]);
    within(rows, t0, t0 + 1000);
  });

  it.each([56, 156, 256, 356, 456, 556, 656, 756])('a running timer is kept when the Max Response Time is not less than what remains (seed %i)', (seed) => {
    const { L, wire, h, em0, now } = mgmdLab(seed);
    h.igmp.forceVersion(em0, 2);
    const t0 = now();
    join(h, G); // the repeat is pending, (0, 10 s] away
    const left = reportTimer(h, em0, G);
    expect(left).toBeGreaterThan(0);
    wire.query4({ version: 2, maxRespTenths: 255 }); // 25.5 s > left: keep
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(2, G), rep(2, G)]);
    expect(rows[1].t).toBe(t0 + left);
  });

  it('a running timer is reset to a random value when the Max Response Time is less than what remains', () => {
    const { L, wire, h, em0, now } = mgmdLab(57);
    h.igmp.forceVersion(em0, 2);
    const t0 = now();
    join(h, G);
    const left = reportTimer(h, em0, G);
    expect(left).toBeGreaterThan(100);
    wire.query4({ version: 2, maxRespTenths: 1 }); // 100 ms < left: reset
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep(2, G), rep(2, G)]);
    within(rows.slice(1), t0, t0 + 100);
  });

  it('suppression: another host reports first, so we send no report, and no leave when we leave', () => {
    const { L, wire, h, em0 } = mgmdLab(58);
    h.igmp.forceVersion(em0, 2);
    const m = join(h, G);
    L.run(60_000);
    wire.clear();
    const ours = h.igmp.stat.igps_rcv_ourreports;
    wire.query4({ version: 2, maxRespTenths: 100 });
    wire.sendIgmp({ kind: 'v2report', group: inParse(G)! }, { src: '192.0.2.77' });
    L.run(60_000);
    expect(h.igmp.stat.igps_rcv_ourreports - ours).toBe(1);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
    m.leave();
    L.run(60_000);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
    expect(h.inet.v4.findGroup(em0, inParse(G)!)).toBeUndefined();
  });

  it('leave: to 224.0.0.2 when we sent the last report', () => {
    const { L, wire, h, em0, now } = mgmdLab(59);
    h.igmp.forceVersion(em0, 2);
    const m = join(h, G);
    L.run(60_000);
    wire.query4({ version: 2, maxRespTenths: 10 });
    L.run(60_000);
    wire.clear();
    const t0 = now();
    m.leave();
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([leave(G)]);
    expect(rows[0].t).toBe(t0);
  });

  it('two hosts: one answers the query, the other is suppressed; only the last reporter sends the leave', () => {
    const { L, wire, hosts, ifs, now } = mgmdLab(60, { n: 2 });
    hosts.forEach((h, i) => h.igmp.forceVersion(ifs[i], 2));
    const m = hosts.map((h) => join(h, G));
    L.run(60_000);
    wire.clear();
    const t0 = now();
    wire.query4({ version: 2, maxRespTenths: 100 });
    L.run(60_000);
    const answers = wire.entries.filter((e) => e.msg.startsWith('IGMPv2 report'));
    expect(answers.length).toBe(1);
    within(answers, t0, t0 + 10_000);
    const reporter = answers[0].from === 'h1.em0' ? 0 : 1;
    const silent = 1 - reporter;
    wire.clear();
    m[silent].leave();
    L.run(60_000);
    expect(wire.entries).toEqual([]);
    m[reporter].leave();
    L.run(60_000);
    expect(untimed(wire.entries)).toEqual([leave(G, reporter + 1)]);
  });
});

describe('IGMPv1 (RFC 1112)', () => {
  it('has no leave message', () => {
    const { L, wire, h, em0 } = mgmdLab(61);
    h.igmp.forceVersion(em0, 1);
    const m = join(h, G);
    L.run(60_000);
    wire.query4({ version: 1 });
    L.run(60_000);
    wire.clear();
    m.leave();
    L.run(60_000);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
    expect(h.inet.v4.findGroup(em0, inParse(G)!)).toBeUndefined();
  });

  it('is suppressed by another host\'s v1 report', () => {
    const { L, wire, h, em0 } = mgmdLab(62);
    h.igmp.forceVersion(em0, 1);
    join(h, G);
    L.run(60_000);
    wire.clear();
    wire.query4({ version: 1 });
    wire.sendIgmp({ kind: 'v1report', group: inParse(G)! }, { src: '192.0.2.77', routerAlert: false });
    L.run(60_000);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
  });
});
