// The IGMP querier (RFC 9776 §6, RFC 2236 §3 for v2 routers, RFC 1112 for
// v1): startup, election, every row of the router action tables (§6.4.1,
// §6.4.2), Q(G)/Q(G,A) retransmissions with the S flag (§6.6.3), older host
// compatibility (§7.3.2), non-querier timer lowering (§6.6.1), and bad
// input — golden traces in virtual time on an in-memory segment.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import type { MgmdWire } from '../helpers/mgmd_trace.js';
import { inParse } from '../../src/inet/in.js';
import { inetChecksum } from '../../src/inet/cksum.js';
import { IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import { recordTypeCode, type RecordName } from '../../src/igmp/codec.js';
import type { MgmdRouterIf, RouterConfig } from '../../src/mgmd/router.js';

const G = '239.1.1.1';
const S1 = '198.51.100.1';
const S2 = '198.51.100.2';
const S3 = '198.51.100.3';
// RFC 9776 §8 defaults: GMI = 2*125 + 2*10 = 270 s (§8.4), OQPI = 2*125 + 10/2 = 255 s, LMQT = 2*1 = 2 s,
// Older Host Present Interval = 2*125 + 10 = 260 s (§8.13).
const GMI = 270;
const OHPI = 260;
const OQPI_MS = 255_000;

const a = (x: string) => inParse(x)!;
const rec = (type: RecordName, group: string, sources: string[]) => ({ type: recordTypeCode(type), group: a(group), sources: sources.map(a) });

/** A v3 report from the wire (default source 192.0.2.254), delivered before returning. */
function report(lab: { wire: MgmdWire; L: { run(ms?: number): void } }, records: ReturnType<typeof rec>[], src = '192.0.2.254'): void {
  lab.wire.sendIgmp({ kind: 'v3report', records }, { src });
  lab.L.run(0);
}

/** The router's state of a group: "INCLUDE {s:t ...}", "EXCLUDE <gt> X{s:t} Y{s}", or "none". */
function state(r: MgmdRouterIf, group = G): string {
  const g = r.view().groups.find((x) => x.group === group);
  if (!g) return 'none';
  const short = (s: string) => 's' + s.split('.')[3];
  if (g.mode === 'include') return `INCLUDE {${g.sources.map((s) => `${short(s.addr)}:${s.timer}`).join(' ')}}`;
  const x = g.sources.filter((s) => s.timer > 0).map((s) => `${short(s.addr)}:${s.timer}`);
  const y = g.sources.filter((s) => s.timer === 0).map((s) => short(s.addr));
  return `EXCLUDE ${g.timer} X{${x.join(' ')}} Y{${y.join(' ')}}`;
}

/** Group and group-and-source queries sent by the querier since `t`: "G {srcs} S" lines with their times. */
function gQueries(wire: MgmdWire, since: number, from = 'h1.em0'): string[] {
  return wire
    .select({ from, af: 4, since })
    .filter(({ e }) => e.msg.includes('query') && !e.msg.endsWith('general'))
    .map(({ e, d }) => `+${e.t - since} ${e.msg.replace(/^IGMPv\d query /, '')} ${d.query!.sFlag ? 'S' : '-'} -> ${e.ipDst}`);
}

function querierLab(seed: number, cfg: Partial<RouterConfig> = {}, n = 2) {
  const lab = mgmdLab(seed, { n });
  const r = lab.h.igmp.enableQuerier(lab.em0, cfg);
  return { ...lab, r };
}

describe('IGMPv3 querier: startup and general queries', () => {
  it('Startup Query Count (RV) general queries QI/4 apart, then every QI; TTL 1, Router Alert, to 224.0.0.1, QRV/QQIC/Max Resp advertised', () => {
    const { L, wire, now } = querierLab(1);
    const t0 = now();
    L.run(400_000);
    const rows = wire.select({ from: 'h1.em0', af: 4 }).filter(({ e }) => e.msg.endsWith('general'));
    expect(rows.map(({ e }) => e.t - t0)).toEqual([0, 31_250, 156_250, 281_250]);
    for (const { e, d } of rows) {
      expect(e).toMatchObject({ ipSrc: '192.0.2.1', ipDst: '224.0.0.1', ttl: 1, routerAlert: true, msg: 'IGMPv3 query general' });
      expect(d.query).toEqual({ sFlag: false, maxRespMs: 10_000, qrv: 2, qqi: 125, len: 12 });
    }
  });

  it('configured values go on the wire and bad ones are refused with EINVAL', () => {
    const { L, wire, h, em0, now } = querierLab(2, { rv: 3, qi: 60, qri: 5, startupQueryCount: 1 });
    const t0 = now();
    L.run(130_000);
    const rows = wire.select({ from: 'h1.em0', af: 4 }).filter(({ e }) => e.msg.endsWith('general'));
    expect(rows.map(({ e }) => e.t - t0)).toEqual([0, 60_000, 120_000]);
    expect(rows[0].d.query).toMatchObject({ maxRespMs: 5_000, qrv: 3, qqi: 60 });
    expect(() => h.igmp.enableQuerier(em0, { qri: 60 })).toThrow(/EINVAL.*less than the query interval/);
    expect(() => h.igmp.enableQuerier(em0, { rv: 0 })).toThrow(/EINVAL.*robustness/);
  });
});

describe('IGMPv3 querier: election (§6.6.2)', () => {
  it('the lower address wins; the loser stops querying and takes over OQPI after the winner falls silent', () => {
    const lab = mgmdLab(3, { n: 2 });
    const [h1, h2] = lab.hosts;
    const [e1, e2] = lab.ifs;
    const T0 = lab.now();
    const r2 = h2.igmp.enableQuerier(e2);
    const r1 = h1.igmp.enableQuerier(e1);
    lab.L.run(10);
    expect(r1.querier).toBe(true);
    expect(r2.querier).toBe(false);
    expect(r2.view()).toMatchObject({ querier: false, querierAddr: '192.0.2.1', otherQuerierTimer: 255 });
    expect(r2.stats.querierLost).toBe(1);
    lab.L.run(100_000);
    lab.wire.clear();
    h1.igmp.disableQuerier(e1);
    // h1's last query went out at T0 + 31.25 s (its second startup query): h2 stays silent until OQPI after it.
    lab.L.run(T0 + 31_250 + OQPI_MS - 1 - lab.now());
    expect(lab.wire.sent('h2.em0', 4).filter((e) => e.msg.endsWith('general'))).toEqual([]);
    lab.L.run(2);
    const resumed = lab.wire.sent('h2.em0', 4).filter((e) => e.msg.endsWith('general'));
    expect(resumed[0].t).toBe(T0 + 31_250 + OQPI_MS);
    expect(r2.querier).toBe(true);
  });

  it('a higher-addressed querier does not silence us; a non-querier adopts the querier\'s QRV and QQI', () => {
    const lab = mgmdLab(4, { n: 2 });
    const [h1, h2] = lab.hosts;
    const r1 = h1.igmp.enableQuerier(lab.ifs[0], { rv: 3, qi: 60 });
    const r2 = h2.igmp.enableQuerier(lab.ifs[1]);
    lab.L.run(10);
    expect(r1.querier).toBe(true);
    expect(r2.view()).toMatchObject({ querier: false, rv: 3, qi: 60 });
    // OQPI follows the adopted values: 3*60 + 10/2 = 185 s.
    expect(r2.view().otherQuerierTimer).toBe(185);
  });
});

describe('IGMPv3 querier: router action tables (§6.4.1 current state, §6.4.2 state change)', () => {
  /** INCLUDE({s1,s2}) learnt 10 s ago. */
  function include() {
    const lab = querierLab(10);
    report(lab, [rec('IS_IN', G, [S1, S2])]);
    lab.L.run(10_000);
    expect(state(lab.r)).toBe('INCLUDE {s1:260 s2:260}');
    return lab;
  }
  /** EXCLUDE(X={s1}, Y={s2}) with the group timer at 250 s. */
  function exclude() {
    const lab = querierLab(11);
    report(lab, [rec('IS_EX', G, [S2]), rec('ALLOW', G, [S1])]);
    lab.L.run(10_000);
    expect(state(lab.r)).toBe('EXCLUDE 260 X{s1:260} Y{s2}');
    return lab;
  }
  const B = [S2, S3];

  it.each([
    ['IS_IN', 'INCLUDE {s1:260 s2:270 s3:270}', []],
    ['ALLOW', 'INCLUDE {s1:260 s2:270 s3:270}', []],
    ['IS_EX', 'EXCLUDE 270 X{s2:260} Y{s3}', []],
    ['BLOCK', 'INCLUDE {s1:260 s2:2}', ['+0 239.1.1.1 {198.51.100.2} - -> 239.1.1.1', '+1000 239.1.1.1 {198.51.100.2} - -> 239.1.1.1']],
    ['TO_EX', 'EXCLUDE 270 X{s2:2} Y{s3}', ['+0 239.1.1.1 {198.51.100.2} - -> 239.1.1.1', '+1000 239.1.1.1 {198.51.100.2} - -> 239.1.1.1']],
    ['TO_IN', 'INCLUDE {s1:2 s2:270 s3:270}', ['+0 239.1.1.1 {198.51.100.1} - -> 239.1.1.1', '+1000 239.1.1.1 {198.51.100.1} - -> 239.1.1.1']],
  ] as const)('INCLUDE(A) + %s(B)', (type, after, queries) => {
    const { L, wire, r, now } = include();
    const t = now();
    report({ wire, L }, [rec(type, G, B)]);
    expect(state(r)).toBe(after);
    L.run(1500);
    expect(gQueries(wire, t)).toEqual(queries);
  });

  it.each([
    ['IS_IN', 'EXCLUDE 260 X{s1:260 s2:270 s3:270} Y{}', []],
    ['ALLOW', 'EXCLUDE 260 X{s1:260 s2:270 s3:270} Y{}', []],
    ['IS_EX', 'EXCLUDE 270 X{s3:270} Y{s2}', []],
    ['BLOCK', 'EXCLUDE 260 X{s1:260 s3:2} Y{s2}', ['+0 239.1.1.1 {198.51.100.3} - -> 239.1.1.1', '+1000 239.1.1.1 {198.51.100.3} - -> 239.1.1.1']],
    ['TO_EX', 'EXCLUDE 270 X{s3:2} Y{s2}', ['+0 239.1.1.1 {198.51.100.3} - -> 239.1.1.1', '+1000 239.1.1.1 {198.51.100.3} - -> 239.1.1.1']],
    [
      'TO_IN',
      'EXCLUDE 2 X{s1:2 s2:270 s3:270} Y{}',
      ['+0 239.1.1.1 {198.51.100.1} - -> 239.1.1.1', '+0 239.1.1.1 - -> 239.1.1.1', '+1000 239.1.1.1 - -> 239.1.1.1', '+1000 239.1.1.1 {198.51.100.1} - -> 239.1.1.1'],
    ],
  ] as const)('EXCLUDE(X,Y) + %s(A)', (type, after, queries) => {
    const { L, wire, r, now } = exclude();
    const t = now();
    report({ wire, L }, [rec(type, G, B)]);
    expect(state(r)).toBe(after);
    L.run(1500);
    expect(gQueries(wire, t)).toEqual(queries);
  });

  it('group timer expiry (§6.5): EXCLUDE becomes INCLUDE of the sources still timed, Y is forgotten; then sources expire one by one', () => {
    const { L, wire, r } = exclude();
    report({ wire, L }, [rec('TO_IN', G, B)]); // EXCLUDE 2 X{s1:2 s2:270 s3:270} Y{}
    L.run(2000);
    expect(state(r)).toBe('INCLUDE {s2:268 s3:268}');
    L.run(268_000);
    expect(state(r)).toBe('none');
    expect(r.stats.groupsExpired).toBe(1);
  });

  it('records that leave a group INCLUDE({}) create nothing; a source timer expiring in EXCLUDE moves it to Y', () => {
    const { L, wire, r } = querierLab(12);
    report({ wire, L }, [rec('BLOCK', G, [S1]), rec('TO_IN', G, []), rec('IS_IN', G, [])]);
    expect(state(r)).toBe('none');
    report({ wire, L }, [rec('IS_EX', G, []), rec('BLOCK', G, [S1])]); // EXCLUDE 270 X{s1:270(group timer)} Y{}; Q(G,{s1}) lowers s1 to 2
    expect(state(r)).toBe('EXCLUDE 270 X{s1:2} Y{}');
    L.run(2000);
    expect(state(r)).toBe('EXCLUDE 268 X{} Y{s1}');
  });
});

describe('IGMPv3 querier: Q(G) and Q(G,A) retransmissions and the S flag (§6.6.3)', () => {
  it('Q(G): S clear at first; a report raising the group timer before the retransmission sets S on it', () => {
    const { L, wire, r, now } = querierLab(20);
    report({ wire, L }, [rec('IS_EX', G, [])]);
    L.run(5000);
    let t = now();
    report({ wire, L }, [rec('TO_IN', G, [])]);
    L.run(3000);
    expect(gQueries(wire, t)).toEqual(['+0 239.1.1.1 - -> 239.1.1.1', '+1000 239.1.1.1 - -> 239.1.1.1']);
    expect(state(r)).toBe('none'); // nobody answered within LMQT
    report({ wire, L }, [rec('IS_EX', G, [])]);
    t = now();
    report({ wire, L }, [rec('TO_IN', G, [])]);
    L.run(500);
    report({ wire, L }, [rec('IS_EX', G, [])], '192.0.2.253'); // another member answers
    L.run(2500);
    expect(gQueries(wire, t)).toEqual(['+0 239.1.1.1 - -> 239.1.1.1', '+1000 239.1.1.1 S -> 239.1.1.1']);
    expect(state(r)).toBe(`EXCLUDE ${GMI - 2} X{} Y{}`); // raised at +500, read at +3000 (timers show whole seconds, rounded up)
  });

  it('Q(G,A): two queries per retransmission, S set for sources whose timers were raised meanwhile, S clear for the others', () => {
    const { L, wire, r, now } = querierLab(21);
    report({ wire, L }, [rec('IS_IN', G, [S1, S2, S3])]);
    L.run(1000);
    const t = now();
    report({ wire, L }, [rec('BLOCK', G, [S1, S2])]);
    L.run(500);
    report({ wire, L }, [rec('ALLOW', G, [S1])], '192.0.2.253');
    L.run(2500);
    expect(gQueries(wire, t)).toEqual([
      '+0 239.1.1.1 {198.51.100.1, 198.51.100.2} - -> 239.1.1.1',
      '+1000 239.1.1.1 {198.51.100.1} S -> 239.1.1.1',
      '+1000 239.1.1.1 {198.51.100.2} - -> 239.1.1.1',
    ]);
    expect(state(r)).toBe(`INCLUDE {s1:${GMI - 2} s3:${GMI - 4}}`);
  });

  it('Last Member Query Count and Interval are configurable', () => {
    const { L, wire, now } = querierLab(22, { lmqc: 3, lmqiMs: 500 });
    report({ wire, L }, [rec('IS_EX', G, [])]);
    const t = now();
    report({ wire, L }, [rec('TO_IN', G, [])]);
    L.run(3000);
    expect(gQueries(wire, t).map((q) => q.split(' ')[0])).toEqual(['+0', '+500', '+1000']);
    const first = wire.select({ from: 'h1.em0', af: 4, since: t }).find(({ e }) => !e.msg.endsWith('general'))!;
    expect(first.d.query!.maxRespMs).toBe(500);
  });
});

describe('IGMPv3 querier: report destinations', () => {
  it('a v2 report sent to an address of the router or to 224.0.0.1 is taken (RFC 9776 §4.2.15); one to another group is bad', () => {
    const { L, wire, r, h } = querierLab(24);
    wire.sendIgmp({ kind: 'v2report', group: a('239.9.9.1') }, { src: '192.0.2.254', dst: '192.0.2.1', ethDst: '02:00:00:00:00:01' });
    wire.sendIgmp({ kind: 'v2report', group: a('239.9.9.2') }, { src: '192.0.2.254', dst: '224.0.0.1' });
    const bad = h.igmp.stat.igps_rcv_badreports;
    wire.sendIgmp({ kind: 'v2report', group: a('239.9.9.3') }, { src: '192.0.2.254', dst: '239.9.9.4' });
    L.run(0);
    expect(r.view().groups.map((g) => g.group).sort()).toEqual(['239.9.9.1', '239.9.9.2']);
    expect(h.igmp.stat.igps_rcv_badreports).toBe(bad + 1);
  });
});

describe('IGMPv3 querier: advertised Max Resp Time', () => {
  it('a Last Member Query Interval that is no whole number of tenths is advertised rounded down (RFC 9776 §8.8), never past the group timer', () => {
    const { L, wire, now } = querierLab(23, { lmqiMs: 1050 });
    report({ wire, L }, [rec('IS_EX', G, [])]);
    const t = now();
    report({ wire, L }, [rec('TO_IN', G, [])]);
    L.run(3000);
    const qs = wire.select({ from: 'h1.em0', af: 4, since: t }).filter(({ e }) => !e.msg.endsWith('general'));
    expect(qs.map(({ d }) => d.query!.maxRespMs)).toEqual([1000, 1000]);
  });
});

describe('IGMPv3 querier: older host compatibility (§7.3.2)', () => {
  it('a v2 report puts the group in v2 mode: BLOCK ignored, TO_EX sources ignored, leave is TO_IN({}); back to v3 after the Older Host Present Interval', () => {
    const { L, wire, r, now } = querierLab(30);
    wire.sendIgmp({ kind: 'v2report', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    expect(r.view().groups[0]).toMatchObject({ compat: 2, v2HostTimer: OHPI, mode: 'exclude', lastReporter: '192.0.2.254' });
    report({ wire, L }, [rec('BLOCK', G, [S1]), rec('TO_EX', G, [S2])]);
    expect(state(r)).toBe(`EXCLUDE ${GMI} X{} Y{}`);
    expect(r.stats.recordsIgnored).toBe(1);
    const t = now();
    wire.sendIgmp({ kind: 'leave', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    L.run(500);
    wire.sendIgmp({ kind: 'v2report', group: a(G) }, { src: '192.0.2.253' });
    L.run(0);
    L.run(1500);
    expect(gQueries(wire, t)).toEqual(['+0 239.1.1.1 - -> 239.1.1.1', '+1000 239.1.1.1 S -> 239.1.1.1']);
    // Keep the group with v3 reports only; 260 s after the last v2 report the group is v3 again.
    for (let i = 0; i < 3; i++) {
      L.run(100_000);
      report({ wire, L }, [rec('IS_EX', G, [])]);
    }
    expect(r.view().groups[0]).toMatchObject({ compat: 3, v2HostTimer: 0 });
    // In v3 mode TO_EX keeps its sources: the new one is requested (A-Y) and queried.
    report({ wire, L }, [rec('TO_EX', G, [S2])]);
    expect(state(r)).toBe(`EXCLUDE ${GMI} X{s2:2} Y{}`);
  });

  it('a v1 report puts the group in v1 mode: leaves are ignored', () => {
    const { L, wire, r, now } = querierLab(31);
    wire.sendIgmp({ kind: 'v1report', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    expect(r.view().groups[0]).toMatchObject({ compat: 1, v1HostTimer: OHPI });
    const t = now();
    wire.sendIgmp({ kind: 'leave', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    L.run(3000);
    expect(gQueries(wire, t)).toEqual([]);
    expect(state(r)).toBe(`EXCLUDE ${GMI - 3} X{} Y{}`);
  });

  it('an IGMPv2 querier (RFC 2236): v2 queries, leave → last member queries with Max Resp Time LMQI, v3 reports ignored', () => {
    const { L, wire, r, now } = querierLab(32, { generation: 2 });
    const gq = wire.select({ from: 'h1.em0', af: 4 })[0];
    expect(gq.e.msg).toBe('IGMPv2 query general');
    expect(gq.d.query).toMatchObject({ maxRespMs: 10_000, len: 8 });
    report({ wire, L }, [rec('IS_EX', G, [])]);
    expect(state(r)).toBe('none');
    wire.sendIgmp({ kind: 'v2report', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    const t = now();
    wire.sendIgmp({ kind: 'leave', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    L.run(3000);
    const qs = wire.select({ from: 'h1.em0', af: 4, since: t }).filter(({ e }) => !e.msg.endsWith('general'));
    expect(qs.map(({ e, d }) => [e.t - t, e.msg, e.ipDst, d.query!.maxRespMs, d.query!.len])).toEqual([
      [0, 'IGMPv2 query 239.1.1.1', G, 1000, 8],
      [1000, 'IGMPv2 query 239.1.1.1', G, 1000, 8],
    ]);
    expect(state(r)).toBe('none');
  });

  it('an IGMPv1 querier: v1 general queries (no Max Resp), no group-specific queries, leaves ignored', () => {
    const { L, wire, r, now } = querierLab(33, { generation: 1 });
    const gq = wire.select({ from: 'h1.em0', af: 4 })[0];
    expect(gq.e).toMatchObject({ msg: 'IGMPv1 query general', routerAlert: false });
    wire.sendIgmp({ kind: 'v1report', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    const t = now();
    wire.sendIgmp({ kind: 'leave', group: a(G) }, { src: '192.0.2.254' });
    L.run(0);
    L.run(3000);
    expect(gQueries(wire, t)).toEqual([]);
    expect(state(r)).toBe(`EXCLUDE ${GMI - 3} X{} Y{}`);
  });
});

describe('IGMPv3 querier: non-querier timer updates (§6.6.1)', () => {
  it('a group query with S clear lowers the non-querier\'s group timer to LMQT; with S set it does not', () => {
    const lab = mgmdLab(40, { n: 2 });
    const [h1, h2] = lab.hosts;
    const r1 = h1.igmp.enableQuerier(lab.ifs[0]);
    const r2 = h2.igmp.enableQuerier(lab.ifs[1]);
    lab.L.run(10);
    report(lab, [rec('IS_EX', G, [])]);
    lab.L.run(10_000);
    expect(state(r2)).toBe(`EXCLUDE ${GMI - 10} X{} Y{}`);
    report(lab, [rec('TO_IN', G, [])]); // h1 sends Q(G) with S clear
    lab.L.run(10);
    expect(state(r1)).toBe('EXCLUDE 2 X{} Y{}');
    expect(state(r2)).toBe('EXCLUDE 2 X{} Y{}');
    report(lab, [rec('IS_EX', G, [])], '192.0.2.253');
    lab.L.run(1500); // h1's retransmission carries S: h2 keeps GMI (raised at +10, read at +1510)
    expect(state(r2)).toBe(`EXCLUDE ${GMI - 1} X{} Y{}`);
  });
});

describe('IGMPv3 querier: taplab hosts as members', () => {
  it('learns ASM and SSM joins with their modes and sources, and forgets them after the leaves within LMQT', () => {
    const lab = querierLab(50);
    const h2 = lab.hosts[1];
    const so = h2.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: S1 });
    lab.L.run(5000);
    const v = lab.r.view();
    expect(v.groups.map((g) => [g.group, g.mode, g.sources.map((s) => s.addr), g.lastReporter, g.compat])).toEqual([
      ['232.1.1.1', 'include', [S1], '192.0.2.2', 3],
      [G, 'exclude', [], '192.0.2.2', 3],
    ]);
    // A general query is answered: timers go back up to GMI.
    lab.L.run(200_000);
    expect(lab.r.view().groups.every((g) => (g.mode === 'exclude' ? g.timer : g.sources[0].timer) > 100)).toBe(true);
    const t = lab.now();
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: '232.1.1.1', imr_sourceaddr: S1 });
    lab.L.run(2500);
    expect(state(lab.r)).toBe('none');
    expect(state(lab.r, '232.1.1.1')).toBe('none');
    expect(gQueries(lab.wire, t).length).toBeGreaterThanOrEqual(4);
  });

  it('SSM range: EXCLUDE records and v2 reports for 232/8 are ignored and counted', () => {
    const { L, wire, r } = querierLab(51);
    report({ wire, L }, [rec('IS_EX', '232.1.1.1', []), rec('TO_EX', '232.1.1.2', [S1])]);
    wire.sendIgmp({ kind: 'v2report', group: a('232.1.1.3') }, { src: '192.0.2.254' });
    L.run(0);
    expect(r.view().groups).toEqual([]);
    expect(r.stats.recordsIgnored).toBe(3);
  });
});

describe('IGMPv3 querier: bad input is counted and ignored without disturbing state', () => {
  it('unknown record types, non-multicast groups, truncated record lists, v2 reports with trailing data, v3 reports without Router Alert', () => {
    const { L, wire, r, h } = querierLab(60);
    report({ wire, L }, [rec('IS_EX', G, [S1])]);
    const before = state(r);
    report({ wire, L }, [{ type: 9, group: a('239.2.2.2'), sources: [] }, rec('IS_IN', '10.0.0.1', [S1]), rec('ALLOW', '239.3.3.3', [S2])]);
    expect(r.stats.badRecords).toBe(2);
    expect(state(r, '239.3.3.3')).toBe(`INCLUDE {s2:${GMI}}`);
    expect(state(r, '239.2.2.2')).toBe('none');
    const badreports = h.igmp.stat.igps_rcv_badreports;
    // Number of Group Records says 5, one is present.
    wire.sendIgmp(
      { kind: 'v3report', records: [rec('TO_IN', G, [])] },
      {
        src: '192.0.2.254',
        mangle: (b) => {
          const c = Uint8Array.from(b);
          c[7] = 5;
          c[2] = c[3] = 0;
          const sum = inetChecksum(c, 0, c.length);
          c[2] = sum >> 8;
          c[3] = sum & 0xff;
          return c;
        },
      },
    );
    L.run(0);
    expect(h.igmp.stat.igps_rcv_badreports).toBe(badreports + 1);
    expect(state(r)).toBe(before);
    // A v2 report with 4 octets of "sources" after it: counted; the group is still learnt (RFC 2236 §2.5).
    wire.sendIgmp(
      { kind: 'v2report', group: a('239.4.4.4') },
      {
        src: '192.0.2.254',
        mangle: (b) => {
          const c = new Uint8Array(b.length + 4);
          c.set(b);
          c.set(a(S1), b.length);
          c[2] = c[3] = 0;
          const sum = inetChecksum(c, 0, c.length);
          c[2] = sum >> 8;
          c[3] = sum & 0xff;
          return c;
        },
      },
    );
    L.run(0);
    expect(r.stats.reportsWithTrailingData).toBe(1);
    expect(r.view().groups.find((g) => g.group === '239.4.4.4')?.sources).toEqual([]);
    const nora = h.igmp.stat.igps_rcv_nora;
    wire.sendIgmp({ kind: 'v3report', records: [rec('TO_IN', G, [])] }, { src: '192.0.2.254', routerAlert: false });
    L.run(0);
    expect(h.igmp.stat.igps_rcv_nora).toBe(nora + 1);
    expect(state(r)).toBe(before);
  });
});
