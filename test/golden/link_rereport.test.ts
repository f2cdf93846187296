// After the link goes down and comes back, the host reports its groups again, as after a fresh join.
import { describe, expect, it } from 'vitest';
import { mgmdLab } from '../helpers/mgmd_lab.js';
import { gaps, untimed } from '../helpers/mgmd_trace.js';
import { IP_ADD_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_MEMBERSHIP, IPPROTO_IP } from '../../src/inet/socket.js';
import type { SegmentPort } from '../../src/driver/segment.js';
import { inParse } from '../../src/inet/in.js';
import type { MgmdLab } from '../helpers/mgmd_lab.js';

const G = '239.1.1.1';
const SSM = '232.1.1.1';
const S1 = '198.51.100.1';

const v3 = (msg: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: '224.0.0.22', ttl: 1, routerAlert: true, msg: `IGMPv3 report ${msg}` });
const rep2 = (group: string) => ({ from: 'h1.em0', ipSrc: '192.0.2.1', ipDst: group, ttl: 1, routerAlert: true, msg: `IGMPv2 report ${group}` });

function cable(lab: MgmdLab): SegmentPort {
  return lab.wire.seg.attached.find((p) => p.name === 'h1.em0')!;
}

describe('link down and up: the groups are reported again', () => {
  it('IGMPv3: TO_EX {} for ASM and ALLOW {S} for SSM, RV times each, in (0, URI] steps', () => {
    const lab = mgmdLab(100);
    const { L, wire, h, now } = lab;
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: SSM, imr_sourceaddr: S1 });
    L.run(30_000);
    wire.clear();
    cable(lab).setLink(false);
    L.run(5000);
    expect(wire.sent('h1.em0', 4)).toEqual([]);
    const t0 = now();
    cable(lab).setLink(true);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    const asm = rows.filter((r) => r.msg.includes(G));
    const ssm = rows.filter((r) => r.msg.includes(SSM));
    expect(asm.length + ssm.length).toBe(rows.length);
    expect(untimed(asm)).toEqual([v3(`TO_EX(${G} {})`), v3(`TO_EX(${G} {})`)]);
    expect(untimed(ssm)).toEqual([v3(`ALLOW(${SSM} {${S1}})`), v3(`ALLOW(${SSM} {${S1}})`)]);
    for (const list of [asm, ssm]) {
      const d = gaps(list, t0);
      expect(d[0]).toBe(0);
      expect(d[1]).toBeGreaterThan(0);
      expect(d[1]).toBeLessThanOrEqual(1000);
    }
  });

  it('IGMPv2: an unsolicited report at once and its repeat in (0, 10 s]', () => {
    const lab = mgmdLab(101);
    const { L, wire, h, em0, now } = lab;
    h.igmp.forceVersion(em0, 2);
    h.inet.socket().setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    L.run(60_000);
    wire.clear();
    cable(lab).setLink(false);
    L.run(5000);
    const t0 = now();
    cable(lab).setLink(true);
    L.run(60_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([rep2(G), rep2(G)]);
    expect(rows[0].t).toBe(t0);
    expect(rows[1].t - t0).toBeGreaterThan(0);
    expect(rows[1].t - t0).toBeLessThanOrEqual(10_000);
  });

  it('a join while the link is down is reported when it comes up; a leave while down is not', () => {
    const lab = mgmdLab(102);
    const { L, wire, h, em0, now } = lab;
    const so = h.inet.socket();
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.3.3.3' });
    L.run(30_000);
    cable(lab).setLink(false);
    L.run(1000);
    so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: G });
    so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: '239.3.3.3' });
    expect(h.inet.v4.findGroup(em0, inParse('239.3.3.3')!)).toBeUndefined();
    wire.clear();
    const t0 = now();
    cable(lab).setLink(true);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 4);
    expect(untimed(rows)).toEqual([v3(`TO_EX(${G} {})`), v3(`TO_EX(${G} {})`)]);
    expect(rows[0].t).toBe(t0);
  });

  it('MLDv2: the solicited-node group is reported again', () => {
    const lab = mgmdLab(103, { v4: false });
    const { L, wire, now } = lab;
    cable(lab).setLink(false);
    L.run(5000);
    const t0 = now();
    cable(lab).setLink(true);
    L.run(30_000);
    const rows = wire.sent('h1.em0', 6);
    expect(rows.map((r) => r.msg)).toEqual(['MLDv2 report TO_EX(ff02::1:ff00:1 {})', 'MLDv2 report TO_EX(ff02::1:ff00:1 {})']);
    expect(rows[0].t).toBe(t0);
    expect(rows.every((r) => r.ipDst === 'ff02::16' && r.ttl === 1 && r.routerAlert)).toBe(true);
  });
});
