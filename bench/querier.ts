/**
 * The IGMPv3 querier at scale: one querier interface on a simulated segment
 * (virtual time) takes the reports of 10,000 member hosts, one report per
 * host with one record: 70% any-source IS_EX({}) and 30% source-specific
 * IS_IN with 1 to 4 sources, spread over 3,000 groups (2,100 any-source in
 * 239/8, 900 source-specific in 232/8). Each host has its own source
 * address in 198.18.0.0/15 (RFC 2544's benchmarking range).
 *
 * Measured:
 *  - reports processed per second through the whole receive path (segment
 *    -> ether_input -> ip_input -> igmp_input -> router): the first pass on
 *    a fresh querier (which creates the state; the code was compiled on a
 *    throwaway querier before) and refresh passes (median);
 *  - the router core alone (MgmdRouterIf.report with decoded records);
 *  - memory per group (from the any-source phase: groups without sources)
 *    and per source (the source-specific phase, less its groups), from the
 *    V8 heap after gc (run with --expose-gc; otherwise not reported);
 *  - the reference: the host side building the same number of records (one
 *    host with 10,000 memberships of the same mix answering a general
 *    query, as bench/mgmd-gq.ts measures), in the same run.
 */
import { VirtualScheduler } from '../src/kern/clock.js';
import { Random } from '../src/kern/random.js';
import { Segment } from '../src/driver/segment.js';
import { Host } from '../src/host.js';
import { etherEmit, etherMapIpMulticast, ETHERTYPE_IP } from '../src/l2/ether.js';
import { ipEmit, IPPROTO_IGMP } from '../src/inet/ip_codec.js';
import { igmpEmit } from '../src/igmp/codec.js';
import type { McRecord } from '../src/mgmd/types.js';
import { MCAST_EXCLUDE, MCAST_INCLUDE } from '../src/inet/in_mcast.js';
import { mgmdGeneralQuery } from './mgmd-gq.js';

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number | undefined {
  if (!gc) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export interface QuerierBenchResult {
  hosts: number;
  groups: number;
  asmGroups: number;
  ssmGroups: number;
  /** Distinct (group, source) pairs in the table. */
  sources: number;
  /** First pass on a fresh querier (code already compiled), creating every group and source: reports per second through the receive path. */
  coldReportsPerSec: number;
  /** Refresh passes (the same reports again), median: reports per second through the receive path. */
  warmReportsPerSec: number;
  /** The router core alone, refresh, median: records per second. */
  coreRecordsPerSec: number;
  /** Host side: records built per second answering a general query (median warm answer). */
  hostRecordsPerSec: number;
  hostBuildMs: number;
  bytesPerGroup: number | undefined;
  bytesPerSource: number | undefined;
  /** The table holds exactly the expected groups, modes and sources, and every report was processed. */
  tableOk: boolean;
  problems: string[];
}

interface Member {
  src: Uint8Array;
  record: McRecord;
  frame: Uint8Array;
}

const ip4 = (a: number, b: number, c: number, d: number) => Uint8Array.of(a, b, c, d);

/** The member hosts and their report frames (built before any measurement). */
function members(n: number, asmGroups: number, ssmGroups: number): Member[] {
  const out: Member[] = [];
  const mac = Uint8Array.of(0x02, 0, 0, 0, 0, 0);
  const dst = ip4(224, 0, 0, 22);
  let nAsm = 0;
  let nSsm = 0;
  for (let i = 0; i < n; i++) {
    const h = i + 2; // 198.18.0.2 onwards
    const src = ip4(198, 18 + (h >> 16), (h >> 8) & 0xff, h & 0xff);
    let record: McRecord;
    // Hosts are spread over the groups of their kind with a prime stride (every group gets 3-4 members).
    if (i % 10 < 7) {
      const k = (nAsm++ * 7919) % asmGroups;
      record = { type: 'IS_EX', group: ip4(239, 1, k >> 8, k & 0xff), sources: [] };
    } else {
      const k = (nSsm++ * 7919) % ssmGroups;
      const sources: Uint8Array[] = [];
      for (let s = 0; s <= i % 4; s++) sources.push(ip4(198, 51, 100, 1 + ((i + 37 * s) % 200)));
      record = { type: 'IS_IN', group: ip4(232, 1, k >> 8, k & 0xff), sources };
    }
    const igmp = igmpEmit({ kind: 'v3report', records: [record] });
    const ip = ipEmit({ id: i & 0xffff, ttl: 1, p: IPPROTO_IGMP, src, dst, routerAlert: true }, igmp);
    mac[3] = (h >> 16) & 0xff;
    mac[4] = (h >> 8) & 0xff;
    mac[5] = h & 0xff;
    out.push({ src, record, frame: etherEmit({ dst: etherMapIpMulticast(dst), src: mac, type: ETHERTYPE_IP }, ip) });
  }
  return out;
}

const BATCH = 64;

/** Put the members' frames on the segment in batches of 64 (as a TAP read delivers them) and let virtual time deliver them. */
function inject(sched: VirtualScheduler, seg: Segment, list: Member[]): number {
  const port = seg.port('members');
  const slot = 1514;
  const buf = new Uint8Array(slot * BATCH);
  const lengths = new Uint32Array(BATCH);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < list.length; i += BATCH) {
    const count = Math.min(BATCH, list.length - i);
    for (let k = 0; k < count; k++) {
      const f = list[i + k].frame;
      buf.set(f, k * slot);
      lengths[k] = f.length;
    }
    port.transmit(buf, slot, 0, lengths, count);
    // One millisecond of virtual time per batch: refreshed timers move, as they would on a live link.
    sched.advance(1);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  port.close();
  return ms;
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];

/** A querier host on its own segment, in its own virtual time. */
function querierLab() {
  const sched = new VirtualScheduler();
  const seg = new Segment(sched, new Random(9776));
  const host = new Host('querier', sched, { seed: 9777 });
  const em0 = host.addEther(seg.port('querier.em0'), { name: 'em0', mac: '02:00:00:00:00:01' });
  host.inet.v4.addAddress(em0, '198.18.0.1/15');
  const router = host.igmp.enableQuerier(em0);
  sched.advance(0);
  return { sched, seg, host, router };
}

export function querierBench(n = 10_000, asmGroups = 2100, ssmGroups = 900, rounds = 5): QuerierBenchResult {
  const all = members(n, asmGroups, ssmGroups);
  const asm = all.filter((m) => m.record.type === 'IS_EX');
  const ssm = all.filter((m) => m.record.type === 'IS_IN');
  const expectSources = new Map<string, Set<string>>();
  for (const m of ssm) {
    const g = m.record.group.join('.');
    let s = expectSources.get(g);
    if (!s) expectSources.set(g, (s = new Set()));
    for (const a of m.record.sources) s.add(a.join('.'));
  }
  const sourceCount = [...expectSources.values()].reduce((x, s) => x + s.size, 0);
  const asmDistinct = new Set(asm.map((m) => m.record.group.join('.'))).size;

  // Warm-up on a throwaway querier: the code is compiled before anything is measured (compiled code and
  // type feedback live on the same heap, and would otherwise be counted as table memory).
  {
    const w = querierLab();
    for (let r = 0; r < 3; r++) inject(w.sched, w.seg, all);
    for (const m of all) w.router.report(m.src, [m.record]);
    w.host.destroy();
  }

  // First passes on fresh queriers, in two phases for the memory split: groups without sources, then
  // groups with sources. Three tables, all kept alive, medians taken (the heap figures are noisy).
  const labs: ReturnType<typeof querierLab>[] = [];
  const cold: number[] = [];
  const perGroup: number[] = [];
  const perSource: number[] = [];
  for (let t = 0; t < 3; t++) {
    const lab = querierLab();
    labs.push(lab);
    gc?.();
    const h0 = heapUsed();
    const msAsm = inject(lab.sched, lab.seg, asm);
    const h1 = heapUsed();
    const msSsm = inject(lab.sched, lab.seg, ssm);
    const h2 = heapUsed();
    cold.push(msAsm + msSsm);
    if (h0 !== undefined && h1 !== undefined && h2 !== undefined) {
      const g = (h1 - h0) / asmDistinct;
      perGroup.push(g);
      perSource.push((h2 - h1 - g * expectSources.size) / sourceCount);
    }
  }
  const { sched, seg, router } = labs[0];

  const problems: string[] = [];
  if (router.stats.recordsProcessed !== n) problems.push(`${router.stats.recordsProcessed} records processed, not ${n}`);
  if (router.stats.badRecords || router.stats.recordsIgnored) problems.push(`${router.stats.badRecords} bad and ${router.stats.recordsIgnored} ignored records`);
  if (router.groups.size !== asmDistinct + expectSources.size) problems.push(`${router.groups.size} groups, not ${asmDistinct + expectSources.size}`);
  let tableSources = 0;
  for (const g of router.groups.values()) {
    tableSources += g.sources.size;
    const key = g.group.join('.');
    const want = expectSources.get(key);
    if (want ? g.mode !== MCAST_INCLUDE || g.sources.size !== want.size : g.mode !== MCAST_EXCLUDE || g.sources.size !== 0) problems.push(`group ${key} has mode ${g.mode} with ${g.sources.size} sources`);
  }
  if (tableSources !== sourceCount) problems.push(`${tableSources} sources in the table, not ${sourceCount}`);
  for (const l of labs.slice(1)) l.host.destroy();

  // Rounds, interleaved so that a busy machine slows all three alike: the same reports again through the
  // receive path (each refreshes its group or sources), the router core alone with the records decoded
  // already, and the reference (one host answering a general query, median of its five warm answers).
  const warm: number[] = [];
  const core: number[] = [];
  const ref: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // A collection before each timed part, so that none pays for the garbage of another (the reference's
    // set-up, 10,000 sockets joining, leaves a lot).
    gc?.();
    warm.push(inject(sched, seg, all));
    gc?.();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < all.length; i++) {
      router.report(all[i].src, [all[i].record]);
      if (i % BATCH === BATCH - 1) sched.advance(1);
    }
    core.push(Number(process.hrtime.bigint() - t0) / 1e6);
    ref.push(mgmdGeneralQuery(n).buildMs);
  }
  if (router.stats.recordsProcessed !== n * (1 + 2 * rounds)) problems.push(`records processed after the warm passes: ${router.stats.recordsProcessed}`);
  if (router.groups.size !== asmDistinct + expectSources.size) problems.push(`${router.groups.size} groups after the warm passes`);
  labs[0].host.destroy();
  const hostBuildMs = median(ref);
  return {
    hosts: n,
    groups: asmDistinct + expectSources.size,
    asmGroups: asmDistinct,
    ssmGroups: expectSources.size,
    sources: sourceCount,
    coldReportsPerSec: (n / median(cold)) * 1000,
    warmReportsPerSec: (n / median(warm)) * 1000,
    coreRecordsPerSec: (n / median(core)) * 1000,
    hostRecordsPerSec: (n / hostBuildMs) * 1000,
    hostBuildMs,
    bytesPerGroup: perGroup.length ? median(perGroup) : undefined,
    bytesPerSource: perSource.length ? median(perSource) : undefined,
    tableOk: problems.length === 0,
    problems,
  };
}

const fmtRate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`);

/** The lines bench/run.ts prints for `--only querier`. */
export function querierLines(r: QuerierBenchResult): string[] {
  const mem = (b: number | undefined) => (b === undefined ? '? (run with --expose-gc)' : `${Math.round(b)} bytes`);
  return [
    `querier  IGMPv3 querier, ${r.hosts.toLocaleString('en')} member hosts' reports (70% ASM IS_EX({}), 30% SSM IS_IN with 1-4 sources) ` +
      `over ${r.groups.toLocaleString('en')} groups (${r.asmGroups} ASM, ${r.ssmGroups} SSM, ${r.sources} sources), simulated segment, virtual time: ` +
      `${fmtRate(r.warmReportsPerSec)} reports/s through the receive path (median of refresh passes; the first pass on a fresh querier, creating the state, ${fmtRate(r.coldReportsPerSec)}/s); ` +
      `router core alone ${fmtRate(r.coreRecordsPerSec)} records/s`,
    `         against the host side building the same ${r.hosts.toLocaleString('en')} records (one host answering a general query, as mgmd measures, median ${r.hostBuildMs.toFixed(1)} ms, ` +
      `${fmtRate(r.hostRecordsPerSec)} records/s): ratio ${(r.warmReportsPerSec / r.hostRecordsPerSec).toFixed(3)}x (receive path), ` +
      `${(r.coreRecordsPerSec / r.hostRecordsPerSec).toFixed(3)}x (core); memory ${mem(r.bytesPerGroup)} per group, ${mem(r.bytesPerSource)} per source; ` +
      `table ${r.tableOk ? 'ok' : `WRONG: ${r.problems.join('; ')}`}`,
  ];
}

if (process.argv[1]?.endsWith('querier.js') || process.argv[1]?.endsWith('querier.ts')) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const r = querierBench(Number(args[0] ?? 10_000), 2100, 900, Number(args[1] ?? 5));
  console.log(process.argv.includes('--lines') ? querierLines(r).join('\n') : JSON.stringify(r));
}
