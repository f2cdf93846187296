/**
 * Property tests of the RFC 3678 socket API and the RFC 3376 §3.2 merge:
 * random sequences of socket operations on several sockets for one group;
 * after every step, each socket's filter matches an executable model of the
 * API, the interface state equals the RFC formula computed from scratch, and
 * the state-change records take the committed state exactly to the pending one.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { vlab } from '../helpers/vlab.js';
import { KernError } from '../../src/kern/errno.js';
import { inParse } from '../../src/inet/in.js';
import { MCAST_EXCLUDE, MCAST_INCLUDE, MCAST_UNDEFINED, type FilterState, type GroupRecord } from '../../src/inet/in_mcast.js';
import {
  IPPROTO_IP,
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_BLOCK_SOURCE,
  IP_DROP_MEMBERSHIP,
  IP_DROP_SOURCE_MEMBERSHIP,
  IP_UNBLOCK_SOURCE,
  type UdpSocket,
} from '../../src/inet/socket.js';

const GROUP = '239.7.7.7';
const SOURCES = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'];
const NSOCK = 3;

type Op =
  | { k: 'join' | 'leave'; s: number }
  | { k: 'joinsrc' | 'leavesrc' | 'block' | 'unblock'; s: number; src: number }
  | { k: 'setfilter'; s: number; mode: 1 | 2; srcs: number[] }
  | { k: 'commit' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constantFrom('join' as const, 'leave' as const), s: fc.nat(NSOCK - 1) }),
  fc.record({
    k: fc.constantFrom('joinsrc' as const, 'leavesrc' as const, 'block' as const, 'unblock' as const),
    s: fc.nat(NSOCK - 1),
    src: fc.nat(SOURCES.length - 1),
  }),
  fc.record({
    k: fc.constant('setfilter' as const),
    s: fc.nat(NSOCK - 1),
    mode: fc.constantFrom(1 as const, 2 as const),
    srcs: fc.uniqueArray(fc.nat(SOURCES.length - 1), { maxLength: 4 }),
  }),
  fc.constant({ k: 'commit' as const }),
);

/** The API as FreeBSD documents it, as a plain model: per socket, a mode and a source set, or no membership. */
type Model = ({ mode: 1 | 2; srcs: Set<string> } | undefined)[];

function applyModel(m: Model, op: Op): string | undefined {
  if (op.k === 'commit') return undefined;
  const cur = m[op.s];
  const src = 'src' in op ? SOURCES[op.src] : '';
  switch (op.k) {
    case 'join':
      if (cur) return cur.mode === MCAST_EXCLUDE ? 'EADDRINUSE' : 'EINVAL';
      m[op.s] = { mode: MCAST_EXCLUDE, srcs: new Set() };
      return undefined;
    case 'leave':
      if (!cur) return 'EADDRNOTAVAIL';
      m[op.s] = undefined;
      return undefined;
    case 'joinsrc':
      if (!cur) {
        m[op.s] = { mode: MCAST_INCLUDE, srcs: new Set([src]) };
        return undefined;
      }
      if (cur.mode !== MCAST_INCLUDE) return 'EINVAL';
      if (cur.srcs.has(src)) return 'EADDRNOTAVAIL';
      cur.srcs.add(src);
      return undefined;
    case 'leavesrc':
      if (!cur || cur.mode !== MCAST_INCLUDE || !cur.srcs.has(src)) return 'EADDRNOTAVAIL';
      cur.srcs.delete(src);
      if (cur.srcs.size === 0) m[op.s] = undefined;
      return undefined;
    case 'block':
    case 'unblock':
      if (!cur) return 'EADDRNOTAVAIL';
      if (cur.mode !== MCAST_EXCLUDE) return 'EINVAL';
      if (cur.srcs.has(src) === (op.k === 'block')) return 'EADDRNOTAVAIL';
      if (op.k === 'block') cur.srcs.add(src);
      else cur.srcs.delete(src);
      return undefined;
    case 'setfilter':
      if (!cur) return 'EADDRNOTAVAIL';
      if (op.mode === MCAST_INCLUDE && op.srcs.length === 0) m[op.s] = undefined;
      else m[op.s] = { mode: op.mode, srcs: new Set(op.srcs.map((i) => SOURCES[i])) };
      return undefined;
  }
}

function applySocket(socks: UdpSocket[], ifindex: number, op: Op): string | undefined {
  if (op.k === 'commit') return undefined;
  const so = socks[op.s];
  const src = 'src' in op ? SOURCES[op.src] : '';
  try {
    switch (op.k) {
      case 'join':
        so.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: GROUP });
        break;
      case 'leave':
        so.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, { imr_multiaddr: GROUP });
        break;
      case 'joinsrc':
        so.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, { imr_multiaddr: GROUP, imr_sourceaddr: src });
        break;
      case 'leavesrc':
        so.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, { imr_multiaddr: GROUP, imr_sourceaddr: src });
        break;
      case 'block':
        so.setsockopt(IPPROTO_IP, IP_BLOCK_SOURCE, { imr_multiaddr: GROUP, imr_sourceaddr: src });
        break;
      case 'unblock':
        so.setsockopt(IPPROTO_IP, IP_UNBLOCK_SOURCE, { imr_multiaddr: GROUP, imr_sourceaddr: src });
        break;
      case 'setfilter':
        so.setsourcefilter(ifindex, GROUP, op.mode, op.srcs.map((i) => SOURCES[i]));
        break;
    }
  } catch (e) {
    if (e instanceof KernError) return e.code;
    throw e;
  }
  return undefined;
}

/** RFC 3376 §3.2, computed from scratch from the model. */
function rfcState(m: Model): { mode: number; srcs: Set<string> } {
  const members = m.filter((x): x is NonNullable<typeof x> => !!x);
  const ex = members.filter((x) => x.mode === MCAST_EXCLUDE);
  const inc = members.filter((x) => x.mode === MCAST_INCLUDE);
  if (ex.length) {
    const inter = [...ex[0].srcs].filter((s) => ex.every((x) => x.srcs.has(s)));
    const union = new Set(inc.flatMap((x) => [...x.srcs]));
    return { mode: MCAST_EXCLUDE, srcs: new Set(inter.filter((s) => !union.has(s))) };
  }
  const union = new Set(inc.flatMap((x) => [...x.srcs]));
  return { mode: union.size ? MCAST_INCLUDE : MCAST_UNDEFINED, srcs: union };
}

function text(st: FilterState): { mode: number; srcs: Set<string> } {
  return { mode: st.mode, srcs: new Set([...st.sources.values()].map((a) => a.join('.'))) };
}

/** What a record does to a host's reported state (RFC 3376 §5.1 read backwards). */
function applyRecords(from: { mode: number; srcs: Set<string> }, recs: GroupRecord[]): { mode: number; srcs: Set<string> } {
  let mode = from.mode === MCAST_EXCLUDE ? MCAST_EXCLUDE : MCAST_INCLUDE;
  let srcs = new Set(from.srcs);
  for (const r of recs) {
    const xs = r.sources.map((a) => a.join('.'));
    if (r.type === 'TO_IN' || r.type === 'TO_EX') {
      mode = r.type === 'TO_IN' ? MCAST_INCLUDE : MCAST_EXCLUDE;
      srcs = new Set(xs);
    } else {
      const add = (r.type === 'ALLOW') === (mode === MCAST_INCLUDE);
      for (const x of xs) add ? srcs.add(x) : srcs.delete(x);
    }
  }
  return { mode: mode === MCAST_INCLUDE && srcs.size === 0 ? MCAST_UNDEFINED : mode, srcs };
}

describe('RFC 3678 socket filters merged per RFC 3376 §3.2 (property)', () => {
  it('matches the model, the RFC formula, and the state-change records after every operation', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const L = vlab(9);
        const seg = L.segment();
        const h = L.host('h1', { mgmd: false }); // no IGMP: the test itself plays the protocol that commits t0
        const em0 = L.attach(h, seg, { name: 'em0' });
        h.inet.v4.addAddress(em0, '192.0.2.1/24');
        const socks = Array.from({ length: NSOCK }, () => h.inet.socket());
        const model: Model = Array(NSOCK).fill(undefined);
        let committed = { mode: MCAST_UNDEFINED as number, srcs: new Set<string>() };
        for (const op of ops) {
          const want = applyModel(model, op);
          const got = applySocket(socks, em0.if_index, op);
          expect(got).toBe(want);
          const inm = h.inet.v4.findGroup(em0, inParse(GROUP)!);
          for (let i = 0; i < NSOCK; i++) {
            const mm = model[i];
            if (!mm) continue;
            const f = socks[i].getsourcefilter(em0.if_index, GROUP);
            expect(f.mode).toBe(mm.mode);
            expect(new Set(f.sources)).toEqual(mm.srcs);
          }
          const expected = rfcState(model);
          if (!inm) {
            expect(expected.mode).toBe(MCAST_UNDEFINED);
            committed = { mode: MCAST_UNDEFINED, srcs: new Set() };
            continue;
          }
          const t1 = text(inm.st[1]);
          expect(t1).toEqual(expected);
          expect(text(inm.st[0])).toEqual(committed);
          const recs = inm.changes();
          // The records carry the reported state exactly to the pending one ...
          expect(applyRecords(committed, recs)).toEqual(t1);
          // ... with nothing to say when nothing changed, and never an empty ALLOW/BLOCK.
          const same = committed.mode === t1.mode && committed.srcs.size === t1.srcs.size && [...t1.srcs].every((s) => committed.srcs.has(s));
          if (same) expect(recs).toEqual([]);
          for (const r of recs) if (r.type === 'ALLOW' || r.type === 'BLOCK') expect(r.sources.length).toBeGreaterThan(0);
          if (op.k === 'commit') {
            inm.commit();
            committed = t1;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
