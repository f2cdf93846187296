// Querier edge cases (a review against RFC 9776/9777 found these): queries
// split to fit the MTU, TO_IN ignored in IGMPv1 mode, MLD reports only from
// link-local sources, QRV/QQI of 0 meaning "use your own", timer lowering by
// the querier too, election by General Queries only in IGMPv3 (any query in IGMPv2
// and MLD; never by 0.0.0.0),
// a version change mid-flight, link flaps and detach.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { inParse } from '../../src/inet/in.js';
import { in6Parse } from '../../src/inet/in6.js';
import { recordTypeCode, type RecordName } from '../../src/igmp/codec.js';

const G = '239.1.1.1';
const a = (x: string) => inParse(x)!;
const rec = (type: RecordName, group: string, sources: string[]) => ({ type: recordTypeCode(type), group: a(group), sources: sources.map(a) });
const srcs = (n: number) => Array.from({ length: n }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 0xff}`);

function lab(seed: number, cfg = {}) {
  const l = mgmdLab(seed, { n: 2 });
  const r = l.h.igmp.enableQuerier(l.em0, cfg);
  l.L.run(10);
  const report = (records: ReturnType<typeof rec>[], src = '192.0.2.254') => {
    l.wire.sendIgmp({ kind: 'v3report', records }, { src });
    l.L.run(0);
  };
  return { ...l, r, report };
}

describe('querier edges', () => {
  it('a group-and-source query that does not fit the MTU is split (366 IPv4 sources a query), and nothing is pruned while members answer', () => {
    const { L, wire, r, report, now } = lab(1);
    const all = srcs(400);
    // 200 sources a report (a report, too, must fit the MTU).
    report([rec('IS_IN', G, all.slice(0, 200))]);
    report([rec('IS_IN', G, all.slice(200))]);
    const t = now();
    report([rec('BLOCK', G, all.slice(0, 200))]);
    report([rec('BLOCK', G, all.slice(200))]);
    L.run(10);
    // The second BLOCK merges with the pending query: its sending carries all 400 sources.
    const qs = wire.select({ from: 'h1.em0', af: 4, since: t }).filter(({ e }) => !e.msg.endsWith('general'));
    expect(qs.map(({ d }) => d.query!.len)).toEqual([12 + 4 * 200, 12 + 4 * 366, 12 + 4 * 34]);
    expect(r.stats.groupSourceQueriesSent).toBe(3);
    // A member still wants them all: it answers, and nothing is lost.
    report([rec('IS_IN', G, all.slice(0, 200))], '192.0.2.253');
    report([rec('IS_IN', G, all.slice(200))], '192.0.2.253');
    L.run(3000);
    expect(r.view().groups[0].sources.length).toBe(400);
  });

  it('MLD: 89 sources a query on a 1500-byte link', () => {
    const l = mgmdLab(2, { n: 1, v4: false });
    const r = l.h.mld.enableQuerier(l.em0);
    l.L.run(10);
    const many = Array.from({ length: 100 }, (_, i) => in6Parse(`2001:db8::${(i + 1).toString(16)}`)!);
    const g = in6Parse('ff05::1:3')!;
    const send = (type: number, list: Uint8Array[]) => l.wire.sendMld({ kind: 'v2report', records: [{ type, group: g, sources: list }] } as never);
    send(1, many.slice(0, 50));
    send(1, many.slice(50));
    l.L.run(0);
    const t = l.now();
    send(6, many.slice(0, 50));
    send(6, many.slice(50));
    l.L.run(10);
    const qs = l.wire.select({ from: 'h1.em0', af: 6, since: t }).filter(({ e }) => !e.msg.endsWith('general'));
    expect(qs.map(({ d }) => d.query!.len)).toEqual([28 + 16 * 50, 28 + 16 * 89, 28 + 16 * 11]);
    expect(r.stats.groupSourceQueriesSent).toBe(3);
  });

  it('in IGMPv1 compatibility mode a TO_IN record is ignored (§7.3.2)', () => {
    const { L, wire, r, report, now } = lab(3);
    wire.sendIgmp({ kind: 'v1report', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    const t = now();
    report([rec('TO_IN', G, [])], '192.0.2.253');
    L.run(3000);
    expect(wire.select({ from: 'h1.em0', af: 4, since: t }).filter(({ e }) => !e.msg.endsWith('general'))).toEqual([]);
    expect(r.view().groups[0]).toMatchObject({ compat: 1, mode: 'exclude' });
    expect(r.stats.recordsIgnored).toBe(1);
  });

  it('MLD reports from :: or a global address do not reach the router (RFC 9777 §5.2.14)', () => {
    const l = mgmdLab(4, { n: 1, v4: false });
    const r = l.h.mld.enableQuerier(l.em0);
    const g = in6Parse('ff05::1:3')!;
    l.wire.sendMld({ kind: 'v2report', records: [{ type: 4, group: g, sources: [] }] } as never, { src: '::' });
    l.wire.sendMld({ kind: 'v2report', records: [{ type: 4, group: g, sources: [] }] } as never, { src: '2001:db8::5' });
    l.wire.sendMld({ kind: 'v1report', group: g } as never, { src: '2001:db8::5' });
    l.L.run(0);
    expect(r.view().groups).toEqual([]);
    l.wire.sendMld({ kind: 'v2report', records: [{ type: 4, group: g, sources: [] }] } as never);
    l.L.run(0);
    expect(r.view().groups.map((x) => x.group)).toEqual(['ff05::1:3']);
  });

  it('QRV and QQI of 0 in the querier\'s query mean our own values again (§4.1.6, §4.1.7)', () => {
    const { L, wire, r } = lab(5, { rv: 2, qi: 125 });
    wire.query4({ version: 3, qrv: 5, qqiSeconds: 60 }, { src: '192.0.2.0' });
    L.run(0);
    expect(r.view()).toMatchObject({ querier: false, rv: 5, qi: 60 });
    wire.query4({ version: 3, qrv: 0, qqiSeconds: 0 }, { src: '192.0.2.0' });
    L.run(0);
    expect(r.view()).toMatchObject({ rv: 2, qi: 125 });
  });

  it('elections follow General Queries only, and never a query from 0.0.0.0', () => {
    const { L, wire, r } = lab(6);
    wire.query4({ version: 3, group: G }, { src: '192.0.2.0' });
    L.run(0);
    expect(r.querier).toBe(true);
    wire.query4({ version: 3 }, { src: '0.0.0.0' });
    L.run(0);
    expect(r.querier).toBe(true);
    wire.query4({ version: 2, maxRespTenths: 100 }, { src: '192.0.2.0' });
    L.run(0);
    expect(r.querier).toBe(false);
    expect(r.stats.olderVersionQueries).toBe(1);
  });

  it('an IGMPv2 router and an MLD router give way to any query from a lower address (RFC 2236 §3, RFC 2710 §4, RFC 9777 §7.6.2)', () => {
    const v2 = lab(8, { generation: 2 });
    v2.wire.query4({ version: 2, group: G, maxRespTenths: 10 }, { src: '192.0.2.0' });
    v2.L.run(0);
    expect(v2.r.querier).toBe(false);
    const l = mgmdLab(9, { n: 1, v4: false });
    const r6 = l.h.mld.enableQuerier(l.em0);
    l.L.run(10);
    expect(r6.querier).toBe(true);
    l.wire.query6({ version: 2, group: 'ff0e::1', maxRespMs: 1000 }, { src: 'fe80::1' });
    l.L.run(0);
    expect(r6.querier).toBe(false);
  });

  it('the querier, too, lowers its group timer on a group query without S from another router (§6.6.1)', () => {
    const { L, wire, r, report } = lab(7);
    report([rec('IS_EX', G, [])]);
    wire.query4({ version: 3, group: G, maxRespTenths: 10 }, { src: '192.0.2.200' });
    L.run(0);
    expect(r.querier).toBe(true);
    expect(r.view().groups[0].timer).toBe(2);
  });

  it('a version change mid-flight drops queries of the old version and queries in the new one', () => {
    const { L, wire, r, report, now } = lab(8);
    report([rec('IS_EX', G, [])]);
    const t = now();
    report([rec('TO_IN', G, [])]); // Q(G) now, its retransmission due in 1 s
    r.configure({ generation: 1 });
    L.run(3000);
    // No IGMPv1 group query (v1 has none): the retransmission is dropped; a v1 general query goes out.
    expect(wire.msgs('h1.em0', 4, t)).toEqual(['IGMPv3 query 239.1.1.1', 'IGMPv1 query general']);
  });

  it('a link flap restarts the startup queries; a detached interface leaves no timer behind; unsent queries are not counted', () => {
    const { L, wire, r, em0, h, now } = lab(9);
    L.run(100_000);
    const t = now();
    const port = wire.seg.attached.find((p) => p.name === 'h1.em0')!;
    port.setLink(false);
    L.run(10);
    port.setLink(true);
    L.run(40_000);
    const gq = wire.select({ from: 'h1.em0', af: 4, since: t }).filter(({ e }) => e.msg.endsWith('general'));
    expect(gq.map(({ e }) => e.t - t)).toEqual([10, 10 + 31_250]);
    const sent = r.stats.generalQueriesSent;
    h.inet.v4.removeAddress(em0, '192.0.2.1');
    L.run(200_000);
    expect(r.stats.generalQueriesSent).toBe(sent);
    h.removeInterface('em0');
    const before = L.sched.nextDeadline();
    expect(r.active).toBe(false);
    expect(before === Infinity || before > 0).toBe(true);
  });
});

describe('querier: older-version queriers on the link (RFC 9776 §7.3.1, RFC 9777 §8.3.1)', () => {
  it('warn in the kernel messages, at most once a minute per interface, saying how many were held back', () => {
    const { L, wire, r, h } = lab(20);
    for (let i = 0; i < 3; i++) {
      wire.query4({ version: 2, maxRespTenths: 100 }, { src: '192.0.2.200' });
      L.run(10_000);
    }
    // A v2 group-specific query is no reason to warn (only general queries are).
    wire.query4({ version: 2, group: G, maxRespTenths: 10 }, { src: '192.0.2.200' });
    L.run(0);
    expect(r.stats.olderVersionQueries).toBe(3);
    const warning = 'igmp: em0: IGMPv2 querier 192.0.2.200 on the link, and this router runs IGMPv3: configure it for IGMPv2';
    expect(h.msgbuf.read().map((l) => l.text)).toEqual([warning]);
    L.run(40_000); // a minute after the first warning
    wire.query4({ version: 1 }, { src: '192.0.2.201' });
    L.run(0);
    expect(h.msgbuf.read().map((l) => l.text)).toEqual([
      warning,
      'igmp: em0: IGMPv1 querier 192.0.2.201 on the link, and this router runs IGMPv3: configure it for IGMPv1 (2 more since the last warning)',
    ]);
    expect(h.msgbuf.text().split('\n').length).toBe(3);
  });

  it('a router configured for an older version warns of a newer-version querier (any of its queries), rate-limited with the others', () => {
    const { L, wire, r, h } = lab(23, { generation: 2 });
    wire.query4({ version: 3, group: G, maxRespTenths: 10 }, { src: '192.0.2.200' });
    L.run(0);
    wire.query4({ version: 3, maxRespTenths: 100 }, { src: '192.0.2.200' });
    L.run(0);
    expect(r.stats.newerVersionQueries).toBe(2);
    expect(r.stats.olderVersionQueries).toBe(0);
    expect(h.msgbuf.read().map((l) => l.text)).toEqual([
      'igmp: em0: IGMPv3 querier 192.0.2.200 on the link, and this router is configured for IGMPv2: configure that querier for IGMPv2',
    ]);
  });

  it('not for a query from 0.0.0.0 (a snooping switch without an address is no router)', () => {
    const { L, wire, r, h } = lab(22);
    wire.query4({ version: 2, maxRespTenths: 100 }, { src: '0.0.0.0' });
    L.run(0);
    expect(r.stats.olderVersionQueries).toBe(0);
    expect(h.msgbuf.read()).toEqual([]);
  });

  it('MLD names its versions MLDv1 and MLDv2', () => {
    const l = mgmdLab(21, { n: 1, v4: false });
    l.h.mld.enableQuerier(l.em0);
    l.L.run(10);
    l.wire.query6({ version: 1 }, { src: 'fe80::1' });
    l.L.run(0);
    expect(l.h.msgbuf.read().map((x) => x.text)).toEqual(['mld: em0: MLDv1 querier fe80::1 on the link, and this router runs MLDv2: configure it for MLDv1']);
  });
});
