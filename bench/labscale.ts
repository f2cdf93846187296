/**
 * A day in a big lab: 1,000 taplab hosts on 40 in-memory segments of 25
 * hosts, in virtual time, for 24 hours of protocol time with the default
 * timers (Query Interval 125 s, Query Response Interval 10 s, Robustness 2).
 * On each segment one host is the IGMPv3 and MLDv2 querier; every host has
 * an IPv4 address, its link-local IPv6 address (DAD, solicited-node group)
 * and joins one any-source group and one source-specific channel. So every
 * general query of every querier is answered by 24 hosts, every report
 * crosses its segment, and every host's Ethernet filter sees it.
 *
 * Printed: the wall time for the day (target < 60 s, as a ratio to it), the
 * speed-up over real time, the messages sent, and the heap in use at the end
 * (after gc when run with --expose-gc). Checked: every querier knows every
 * group of its segment at the end of the day.
 *
 * Usage: node bench/out/js/bench/labscale.js [hosts] [hoursOfProtocolTime]
 */
import { VirtualScheduler } from '../src/kern/clock.js';
import { Random } from '../src/kern/random.js';
import { Segment } from '../src/driver/segment.js';
import { Host } from '../src/host.js';
import { IPPROTO_IP, MCAST_JOIN_GROUP, MCAST_JOIN_SOURCE_GROUP } from '../src/inet/socket.js';

export interface LabScaleResult {
  hosts: number;
  segments: number;
  hours: number;
  wallMs: number;
  /** Protocol seconds per wall second. */
  speedup: number;
  igmpReportsSent: number;
  mldReportsSent: number;
  queriesSent: number;
  heapBytes: number | undefined;
  /** Resident set size at the end (V8 heap, buffers and everything else). */
  rssBytes: number;
  /** Every querier ends the day knowing every group of its segment. */
  tablesOk: boolean;
}

const gc = (globalThis as { gc?: () => void }).gc;

export function labScale(nHosts = 1000, hours = 24, perSegment = 25): LabScaleResult {
  const sched = new VirtualScheduler();
  const random = new Random(1);
  const hosts: Host[] = [];
  const queriers: { host: Host; seg: number }[] = [];
  const nSeg = Math.ceil(nHosts / perSegment);
  for (let s = 0; s < nSeg; s++) {
    const seg = new Segment(sched, random.fork(), {});
    for (let i = 0; i < perSegment && hosts.length < nHosts; i++) {
      const n = hosts.length;
      const h = new Host(`h${n}`, sched, { seed: random.u32() });
      const mac = `02:00:${((s >> 8) & 0xff).toString(16).padStart(2, '0')}:${(s & 0xff).toString(16).padStart(2, '0')}:00:${(i + 1).toString(16).padStart(2, '0')}`;
      const ifp = h.addEther(seg.port(`h${n}.em0`), { name: 'em0', mac });
      // 198.18.0.0/15: RFC 2544's benchmarking range; the lab stays inside this process.
      h.inet.v4.addAddress(ifp, `198.18.${s}.${i + 1}/24`);
      if (i === 0) {
        h.igmp.enableQuerier(ifp);
        h.mld.enableQuerier(ifp);
        queriers.push({ host: h, seg: s });
      } else {
        const so = h.inet.socket();
        so.setsockopt(IPPROTO_IP, MCAST_JOIN_GROUP, { gr_interface: ifp.if_index, gr_group: `239.1.${s}.${i}` });
        so.setsockopt(IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, { gsr_interface: ifp.if_index, gsr_group: `232.1.${s}.1`, gsr_source: '198.51.100.7' });
      }
      hosts.push(h);
    }
  }
  const t0 = process.hrtime.bigint();
  const end = hours * 3_600_000;
  while (sched.now() < end) sched.advance(Math.min(60_000, end - sched.now()));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;

  let igmpReportsSent = 0;
  let mldReportsSent = 0;
  for (const h of hosts) {
    igmpReportsSent += h.igmp.stat.igps_snd_reports;
    mldReportsSent += h.mld.stat.mlds_snd_reports;
  }
  let queriesSent = 0;
  let tablesOk = true;
  for (const { host, seg } of queriers) {
    const ifp = host.ifunit('em0')!;
    for (const r of [host.igmp.routers.active(ifp)!, host.mld.routers.active(ifp)!]) {
      queriesSent += r.stats.generalQueriesSent + r.stats.groupQueriesSent + r.stats.groupSourceQueriesSent;
    }
    const groups = new Set(host.igmp.routers.active(ifp)!.view().groups.map((g) => g.group));
    const members = Math.min(perSegment, nHosts - seg * perSegment) - 1;
    for (let i = 1; i <= members; i++) if (!groups.has(`239.1.${seg}.${i}`)) tablesOk = false;
    if (members > 0 && !groups.has(`232.1.${seg}.1`)) tablesOk = false;
  }
  let heapBytes: number | undefined;
  if (gc) {
    gc();
    heapBytes = process.memoryUsage().heapUsed;
  }
  const rssBytes = process.memoryUsage().rss;
  return { hosts: hosts.length, segments: nSeg, hours, wallMs, speedup: end / wallMs, igmpReportsSent, mldReportsSent, queriesSent, heapBytes, rssBytes, tablesOk };
}

export function labScaleLine(r: LabScaleResult): string {
  const ok = (b: boolean) => (b ? 'ok' : 'MISSED');
  const mib = r.heapBytes === undefined ? '?' : `${(r.heapBytes / 2 ** 20).toFixed(0)} MiB`;
  return (
    `labscale ${r.hosts.toLocaleString('en')} taplab hosts on ${r.segments} in-memory segments (one IGMPv3+MLDv2 querier each, default timers), ` +
    `${r.hours} h of protocol time in virtual time: ${(r.wallMs / 1000).toFixed(1)} s wall, ` +
    (r.hours === 24 ? `${(r.wallMs / 60_000).toFixed(3)}x the 60 s target ${ok(r.wallMs < 60_000)}; ` : `(the 60 s target is for 24 h: not judged); `) +
    `${Math.round(r.speedup).toLocaleString('en')}x real time; ${r.queriesSent.toLocaleString('en')} queries, ` +
    `${r.igmpReportsSent.toLocaleString('en')} IGMP and ${r.mldReportsSent.toLocaleString('en')} MLD reports sent; memory: heap ${mib} ` +
    `(${r.heapBytes === undefined ? '?' : Math.round(r.heapBytes / r.hosts / 1024)} KiB per host), resident ${(r.rssBytes / 2 ** 20).toFixed(0)} MiB; tables ${r.tablesOk ? 'ok' : 'WRONG'}`
  );
}

if (process.argv[1]?.endsWith('labscale.js') || process.argv[1]?.endsWith('labscale.ts')) {
  const n = Number(process.argv[2] ?? 1000);
  const hours = Number(process.argv[3] ?? 24);
  process.stdout.write(labScaleLine(labScale(n, hours)) + '\n');
}
