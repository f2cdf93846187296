// RFC 9776 (RFC 3376) §5.2: Action on Reception of a Query, and the report packing of §4.2.16, as golden traces.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { untimed, type TraceEntry } from '../helpers/mgmd_trace.js';
import { IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE, IP_DROP_SOURCE_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import { MCAST_EXCLUDE, MCAST_INCLUDE } from '../../src/inet/in_mcast.js';
import { SIOCSIFMTU } from '../../src/driver/if_var.js';
import type { Host } from '../../src/host.js';

const G = '239.1.1.1';
const G2 = '239.2.2.2';
const SSM = '232.1.1.1';
const S1 = '198.51.100.1';
const S2 = '198.51.100.2';
const S3 = '198.51.100.3';

const v3 = (msg: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: '224.0.0.22', ttl: 1, routerAlert: true, msg: `IGMPv3 report ${msg}` });

function within(rows: TraceEntry[], t0: number, maxMs: number): void {
  for (const r of rows) {
    expect(r.t).toBeGreaterThanOrEqual(t0);
    expect(r.t).toBeLessThanOrEqual(t0 + maxMs);
  }
}

/** h1 joined to G (EXCLUDE {}), SSM (INCLUDE {S1, S2}) and G2 (EXCLUDE {S3}), settled and the trace cleared. */
function joined(seed: number) {
  const lab = mgmdLab(seed);
  const so = lab.h.inet.socket();
  so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
  so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
  so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S2 });
  so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G2 });
  so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: G2, imr_sourceaddr: S3 });
  lab.L.run(30_000);
  lab.wire.clear();
  return { ...lab, so };
}

function setMtu(h: Host, mtu: number): void {
  h.ioctl(SIOCSIFMTU, { ifr_name: 'em0', ifr_mtu: mtu });
}

describe('IGMPv3 §5.2: general queries', () => {
  it('answered once within Max Resp Time, IS_EX/IS_IN for every reported group in one packet; 224.0.0.1 never', () => {
    const { L, wire, now } = joined(31);
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 50 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_EX(${G} {}) IS_IN(${SSM} {${S1}, ${S2}}) IS_EX(${G2} {${S3}})`)]);
    within(rows, t0, 5000);
    expect(rows[0].msg).not.toContain('224.0.0.1');
  });

  it('rule 1: a second general query with a later delay does not reschedule the pending response', () => {
    const { L, wire, h, em0, now } = joined(32);
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 5 });
    L.run(0);
    const pending = h.igmp.ifinfo(em0).gqTimer!.remaining();
    wire.query4({ version: 3, maxRespTenths: 255 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(rows.length).toBe(1);
    expect(rows[0].t).toBe(t0 + pending);
    within(rows, t0, 500);
  });

  it('rule 2: a general query with a sooner delay replaces the pending response (still one report)', () => {
    const { L, wire, now } = joined(33);
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 255 });
    L.run(1);
    wire.query4({ version: 3, maxRespTenths: 5 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(rows.length).toBe(1);
    within(rows, t0 + 1, 500);
  });

  it('a group query while a sooner general-query response is pending adds nothing (rule 1)', () => {
    const { L, wire, now } = joined(34);
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 5 });
    wire.query4({ version: 3, group: G, maxRespTenths: 255 });
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_EX(${G} {}) IS_IN(${SSM} {${S1}, ${S2}}) IS_EX(${G2} {${S3}})`)]);
    within(rows, t0, 500);
  });
});

describe('IGMPv3 §5.2: group and group-and-source queries', () => {
  it('group-specific query: the current state of that group only, within Max Resp Time', () => {
    const { L, wire, now } = joined(35);
    const t0 = now();
    wire.query4({ version: 3, group: SSM, maxRespTenths: 20 });
    L.run(10_000);
    const t1 = now();
    wire.query4({ version: 3, group: G2, maxRespTenths: 20 });
    L.run(10_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_IN(${SSM} {${S1}, ${S2}})`), v3(`IS_EX(${G2} {${S3}})`)]);
    within(rows.slice(0, 1), t0, 2000);
    within(rows.slice(1), t1, 2000);
  });

  it('group-and-source queries: IS_IN(A*Q) for INCLUDE(A), IS_IN(Q-A) for EXCLUDE(A), nothing when empty', () => {
    const { L, wire, now } = joined(36);
    const ask = (group: string, sources: string[]) => {
      const t = now();
      wire.query4({ version: 3, group, sources, maxRespTenths: 10 });
      L.run(5000);
      return t;
    };
    const ta = ask(SSM, [S2, S3]); // INCLUDE {S1, S2}: IS_IN {S2}
    const tb = ask(G2, [S1, S3]); // EXCLUDE {S3}: IS_IN {S1}
    ask(SSM, [S3]); // INCLUDE {S1, S2} * {S3} = {}: no report
    ask(G2, [S3]); // {S3} - EXCLUDE {S3} = {}: no report
    const tc = ask(G, [S1]); // EXCLUDE {}: IS_IN {S1}
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_IN(${SSM} {${S2}})`), v3(`IS_IN(${G2} {${S1}})`), v3(`IS_IN(${G} {${S1}})`)]);
    within(rows.slice(0, 1), ta, 1000);
    within(rows.slice(1, 2), tb, 1000);
    within(rows.slice(2), tc, 1000);
  });

  it('rule 5: a second group-and-source query augments the recorded sources; one report', () => {
    const { L, wire, now } = joined(37);
    const t0 = now();
    wire.query4({ version: 3, group: SSM, sources: [S1], maxRespTenths: 100 });
    L.run(1);
    wire.query4({ version: 3, group: SSM, sources: [S2, S3], maxRespTenths: 100 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_IN(${SSM} {${S1}, ${S2}})`)]);
    within(rows, t0, 10_000);
  });

  it('rule 4: a group query on a pending group-and-source query clears the list: the whole state', () => {
    const { L, wire, now } = joined(38);
    const t0 = now();
    wire.query4({ version: 3, group: G2, sources: [S1], maxRespTenths: 100 });
    L.run(1);
    wire.query4({ version: 3, group: G2, maxRespTenths: 100 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_EX(${G2} {${S3}})`)]);
    within(rows, t0, 10_000);
  });

  it('rule 4: a group-and-source query on a pending group query stays a group response', () => {
    const { L, wire, now } = joined(39);
    const t0 = now();
    wire.query4({ version: 3, group: SSM, maxRespTenths: 100 });
    L.run(1);
    wire.query4({ version: 3, group: SSM, sources: [S3], maxRespTenths: 100 });
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`IS_IN(${SSM} {${S1}, ${S2}})`)]);
    within(rows, t0, 10_000);
  });

  it('a group query for a group we do not hold is not answered', () => {
    const { L, wire } = joined(40);
    wire.query4({ version: 3, group: '239.9.9.9', maxRespTenths: 10 }, { dst: '224.0.0.1' });
    L.run(10_000);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
  });
});

describe('IGMPv3 §4.2.16: packing and splitting at the interface MTU', () => {
  const src = (i: number) => `198.51.${100 + (i >> 8)}.${i & 0xff}`;
  const srcs = (n: number, from = 1) => Array.from({ length: n }, (_, i) => src(from + i));

  it('many groups: as few reports as the MTU allows (576: 68 records of 8 bytes per report)', () => {
    const { L, wire, h, now } = mgmdLab(41);
    setMtu(h, 576);
    const so = h.inet.socket();
    for (let i = 1; i <= 80; i++) so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: `239.10.0.${i}` });
    L.run(30_000);
    wire.clear();
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(10_000);
    const got = wire.select({ from: 'h1.em0', af: 4 });
    // (576 - 24 IP - 8 report header) / 8 = 68 records in the first report, 12 in the second.
    expect(got.map((x) => x.d.records.length)).toEqual([68, 12]);
    expect(got.flatMap((x) => x.d.records.map((r) => `${r.type} ${r.group} ${r.sources.length}`))).toEqual(
      Array.from({ length: 80 }, (_, i) => `IS_EX 239.10.0.${i + 1} 0`),
    );
    expect(got.map((x) => x.d.ipLen)).toEqual([576, 24 + 8 + 12 * 8]);
    within(got.map((x) => x.e), t0, 1000);
    expect(got.every((x) => x.e.ipDst === '224.0.0.22' && x.e.ttl === 1 && x.e.routerAlert)).toBe(true);
  });

  it('IS_IN with more sources than fit is split into several records, in separate reports', () => {
    const { L, wire, h, em0 } = mgmdLab(42);
    setMtu(h, 576);
    h.inet.limits.maxsocksrc = 300;
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: src(1) });
    L.run(30_000);
    wire.clear();
    so.setsourcefilter(em0.if_index, SSM, MCAST_INCLUDE, srcs(200));
    L.run(30_000);
    // The state change is split the same way: ALLOW of the 199 new sources as 134 + 65, twice (RV 2).
    expect(wire.select({ from: 'h1.em0', af: 4 }).map((x) => x.d.records.map((r) => `${r.type} ${r.sources.length}`).join(' '))).toEqual([
      'ALLOW 134',
      'ALLOW 65',
      'ALLOW 134',
      'ALLOW 65',
    ]);
    wire.clear();
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(10_000);
    const got = wire.select({ from: 'h1.em0', af: 4 });
    // (576 - 24 - 8 - 8) / 4 = 134 sources per record.
    expect(got.map((x) => x.d.records.map((r) => `${r.type} ${r.group} ${r.sources.length}`))).toEqual([[`IS_IN ${SSM} 134`], [`IS_IN ${SSM} 66`]]);
    expect(got.flatMap((x) => x.d.records.flatMap((r) => r.sources))).toEqual(srcs(200));
    expect(got.map((x) => x.d.ipLen)).toEqual([576, 24 + 8 + 8 + 66 * 4]);
  });

  it('IS_EX with more sources than fit is truncated to what fits, not split', () => {
    const { L, wire, h, em0 } = mgmdLab(43);
    setMtu(h, 576);
    h.inet.limits.maxsocksrc = 300;
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    so.setsourcefilter(em0.if_index, G, MCAST_EXCLUDE, srcs(200));
    L.run(30_000);
    wire.clear();
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(10_000);
    const got = wire.select({ from: 'h1.em0', af: 4 });
    expect(got.map((x) => x.d.records.map((r) => `${r.type} ${r.group} ${r.sources.length}`))).toEqual([[`IS_EX ${G} 134`]]);
    expect(got[0].d.records[0].sources).toEqual(srcs(134));
    expect(got[0].d.ipLen).toBe(576);
  });
});

describe('IGMP: which groups are reported (igmp_isgroupreported)', () => {
  it('224.0.0.x is reported with knobs.sendlocal (the default); never 224.0.0.1', () => {
    const { L, wire, h, now } = mgmdLab(44);
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '224.0.0.251' });
    L.run(30_000);
    expect(wire.msgs('h1.em0', 4)).toEqual(['IGMPv3 report TO_EX(224.0.0.251 {})', 'IGMPv3 report TO_EX(224.0.0.251 {})']);
    wire.clear();
    const t0 = now();
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(10_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3('IS_EX(224.0.0.251 {})')]);
    within(rows, t0, 1000);
  });

  it('without sendlocal, 224.0.0.x is neither reported on join nor in query answers; a general query with only 224.0.0.x/224.0.0.1 gets no report', () => {
    const { L, wire, h } = mgmdLab(45);
    h.igmp.knobs.sendlocal = false;
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '224.0.0.251' });
    L.run(30_000);
    wire.query4({ version: 3, maxRespTenths: 10 });
    wire.query4({ version: 3, group: '224.0.0.251', maxRespTenths: 10 });
    L.run(10_000);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
  });
});

describe('observers of outgoing reports', () => {
  it('keep what they were shown: the next answer (the host reuses its record lists) does not rewrite a kept report', () => {
    const { L, wire, h, so } = joined(35);
    const kept: { type: number; sources: Uint8Array[] }[][] = [];
    h.igmp.observe((e) => {
      if (e.dir === 'out' && e.msg.kind === 'v3report') kept.push(e.msg.records.map((r) => ({ type: r.type as number, sources: r.sources })));
    });
    const show = (recs: { type: number; sources: Uint8Array[] }[]) => recs.map((r) => `${r.type}:${r.sources.map((s) => s.join('.')).join(',')}`).join(' ');
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(5_000);
    expect(kept.length).toBe(1);
    const first = show(kept[0]);
    expect(first).toBe(`2: 1:${S1},${S2} 2:${S3}`);
    // Change a source list the first answer carried (SSM loses S2), then answer again.
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S2 });
    L.run(30_000);
    wire.query4({ version: 3, maxRespTenths: 10 });
    L.run(5_000);
    expect(show(kept[kept.length - 1])).toBe(`2: 1:${S1} 2:${S3}`);
    expect(show(kept[0])).toBe(first);
  });
});
