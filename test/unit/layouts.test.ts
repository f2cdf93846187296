// The FreeBSD LP64 layouts of src/stats/layouts.ts, checked against the
// reference (shared/reference/freebsd-formats.md §3.2, §3.3, §3.5, §4.1,
// §4.3, §4.5) byte by byte, and round-tripped with real and random values.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { vlab } from '../helpers/vlab.js';
import { Dot3Stats, IfData, type Ifnet } from '../../src/driver/ifnet.js';
import { IgmpStat } from '../../src/stats/igmp_stats.js';
import type { IgmpIfinfo } from '../../src/igmp/igmp.js';
import type { MldIfinfo } from '../../src/mld/mld.js';
import { IP_ADD_MEMBERSHIP, IPPROTO_IP, IPPROTO_IPV6, IPV6_JOIN_GROUP } from '../../src/inet/socket.js';
import {
  decodeDot3,
  decodeIfData,
  decodeIfmibdata,
  decodeIgmpIfinfo,
  decodeIgmpstat,
  decodeMldIfinfo,
  encodeDot3,
  encodeIfData,
  encodeIfmibdata,
  encodeIgmpIfinfo,
  encodeIgmpstat,
  encodeMldIfinfo,
  IF_DATA_OFF,
  IF_DATA_SIZE,
  IFMIB_ISO_8802_3_OFF,
  IFMIB_ISO_8802_3_SIZE,
  IFMIBDATA_OFF,
  IFMIBDATA_SIZE,
  IGMP_IFINFO_OFF,
  IGMP_IFINFO_SIZE,
  IGMPSTAT_OFF,
  IGMPSTAT_SIZE,
  isLayoutError,
  MLD_IFINFO_OFF,
  MLD_IFINFO_SIZE,
  type IfmibData,
} from '../../src/stats/layouts.js';

// ---------------------------------------------------------------------------
// Helpers

/** Little-endian bytes of a value of `width` bytes (two's complement for negatives). */
function le(value: number | bigint, width: number): number[] {
  let v = BigInt.asUintN(width * 8, BigInt(value));
  const out: number[] = [];
  for (let i = 0; i < width; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

/** Indices where two equal-length buffers differ. */
function diff(a: Uint8Array, b: Uint8Array): number[] {
  expect(a.length).toBe(b.length);
  const at: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) at.push(i);
  return at;
}

/**
 * Encode `base` and `changed` (base with one field set to a pattern); the
 * pattern must appear little-endian at exactly [off, off+width) and nothing
 * else in the buffer may move.
 */
function expectLandsAt(before: Uint8Array, after: Uint8Array, off: number, value: number | bigint, width: number): void {
  expect(Array.from(after.subarray(off, off + width))).toEqual(le(value, width));
  for (const i of diff(before, after)) {
    expect(i, `byte ${i} changed outside [${off}, ${off + width})`).toBeGreaterThanOrEqual(off);
    expect(i).toBeLessThan(off + width);
  }
}

/** Offsets a C compiler gives fields of these sizes (each aligned to its own size) on LP64. */
function cOffsets(fields: [string, number, number?][]): Record<string, number> {
  const out: Record<string, number> = {};
  let off = 0;
  for (const [name, size, count = 1] of fields) {
    off = Math.ceil(off / size) * size;
    out[name] = off;
    off += size * count;
  }
  return out;
}

function ok<T>(r: T | { error: string }): T {
  if (isLayoutError(r)) throw new Error(`unexpected decode error: ${r.error}`);
  return r;
}

// Distinctive patterns: every byte differs, the 64-bit one uses 53 bits.
const P8 = 0xa5;
const P16 = 0xbeef;
const P32 = 0xdeadbeef;
const P64 = 0x1f2e3d4c5b6a79;

// The fields of each structure in the reference's order with C sizes (the independent oracle for the tables).
const IF_DATA_FIELDS: [string, number, number?][] = [
  ['ifi_type', 1],
  ['ifi_physical', 1],
  ['ifi_addrlen', 1],
  ['ifi_hdrlen', 1],
  ['ifi_link_state', 1],
  ['ifi_vhid', 1],
  ['ifi_datalen', 2],
  ['ifi_mtu', 4],
  ['ifi_metric', 4],
  ['ifi_baudrate', 8],
  ['ifi_ipackets', 8],
  ['ifi_ierrors', 8],
  ['ifi_opackets', 8],
  ['ifi_oerrors', 8],
  ['ifi_collisions', 8],
  ['ifi_ibytes', 8],
  ['ifi_obytes', 8],
  ['ifi_imcasts', 8],
  ['ifi_omcasts', 8],
  ['ifi_iqdrops', 8],
  ['ifi_oqdrops', 8],
  ['ifi_noproto', 8],
  ['ifi_hwassist', 8],
  ['ifi_epoch', 8],
  ['ifi_lastchange', 8, 2],
];

const IGMPSTAT_COUNTER_NAMES = [
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
] as const;

const DOT3_SCALAR_NAMES = [
  'dot3StatsAlignmentErrors',
  'dot3StatsFCSErrors',
  'dot3StatsSingleCollisionFrames',
  'dot3StatsMultipleCollisionFrames',
  'dot3StatsSQETestErrors',
  'dot3StatsDeferredTransmissions',
  'dot3StatsLateCollisions',
  'dot3StatsExcessiveCollisions',
  'dot3StatsInternalMacTransmitErrors',
  'dot3StatsCarrierSenseErrors',
  'dot3StatsFrameTooLongs',
  'dot3StatsInternalMacReceiveErrors',
  'dot3StatsEtherChipSet',
  'dot3StatsMissedFrames',
] as const;

const IGMP_IFINFO_NAMES = ['igi_version', 'igi_v1_timer', 'igi_v2_timer', 'igi_v3_timer', 'igi_flags', 'igi_rv', 'igi_qi', 'igi_qri', 'igi_uri'] as const;
const MLD_IFINFO_NAMES = ['mli_version', 'mli_v1_timer', 'mli_v2_timer', 'mli_flags', 'mli_rv', 'mli_qi', 'mli_qri', 'mli_uri'] as const;

function ifmibOf(ifp: Ifnet): IfmibData {
  // What IFDATA_GENERAL fills in (§3.4).
  return {
    name: ifp.if_xname,
    pcount: ifp.if_pcount,
    flags: ifp.if_flags | ifp.if_drv_flags,
    snd_len: ifp.if_snd.ifq_len,
    snd_maxlen: ifp.if_snd.ifq_maxlen,
    snd_drops: ifp.if_data.ifi_oqdrops,
    data: ifp.snapshot(),
  };
}

/** Two hosts on a segment after IGMP and MLD joins and some multicast UDP. */
function busyLan() {
  const L = vlab(11);
  const seg = L.segment();
  const a = L.host('a');
  const b = L.host('b');
  const ea = L.attach(a, seg, { name: 'em0', mac: '02:00:00:00:00:01' });
  const eb = L.attach(b, seg, { name: 'em0', mac: '02:00:00:00:00:02' });
  a.inet.v4.addAddress(ea, '192.0.2.1/24');
  b.inet.v4.addAddress(eb, '192.0.2.2/24');
  L.run(3000); // DAD
  const rx = b.inet.socket().bind(undefined, 7000);
  rx.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, { imr_multiaddr: '239.1.1.1', imr_interface: '192.0.2.2' });
  const rx6 = b.inet.socket('inet6').bind(undefined, 8000);
  rx6.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, { ipv6mr_multiaddr: 'ff12::1234', ipv6mr_interface: eb.if_index });
  const tx = a.inet.socket();
  for (let i = 0; i < 5; i++) tx.send(`datagram ${i}`, '239.1.1.1', 7000);
  L.run(5000);
  return { a, b, ea, eb };
}

// ---------------------------------------------------------------------------

describe('sizes (sizeof on FreeBSD amd64)', () => {
  it('the constants are the reference sizes', () => {
    expect([IF_DATA_SIZE, IFMIBDATA_SIZE, IFMIB_ISO_8802_3_SIZE, IGMPSTAT_SIZE, IGMP_IFINFO_SIZE, MLD_IFINFO_SIZE]).toEqual([
      152, 208, 124, 168, 36, 32,
    ]);
  });

  it('every encoder returns exactly its size', () => {
    const data = new IfData();
    expect(encodeIfData(data).length).toBe(152);
    expect(encodeIfmibdata({ name: 'em0', pcount: 0, flags: 0, snd_len: 0, snd_maxlen: 50, snd_drops: 0, data }).length).toBe(208);
    expect(encodeDot3(new Dot3Stats()).length).toBe(124);
    expect(encodeIgmpstat(new IgmpStat()).length).toBe(168);
    const igi = Object.fromEntries(IGMP_IFINFO_NAMES.map((k) => [k, 0])) as unknown as IgmpIfinfo;
    const mli = Object.fromEntries(MLD_IFINFO_NAMES.map((k) => [k, 0])) as unknown as MldIfinfo;
    expect(encodeIgmpIfinfo(igi).length).toBe(36);
    expect(encodeMldIfinfo(mli).length).toBe(32);
  });
});

describe('offset tables agree with C layout rules applied to the reference field lists', () => {
  it('struct if_data (§3.3)', () => {
    expect(IF_DATA_OFF).toEqual(cOffsets(IF_DATA_FIELDS));
    expect(IF_DATA_OFF.ifi_lastchange + 16).toBe(IF_DATA_SIZE);
  });

  it('struct ifmibdata (§3.2): if_data aligned to 8 after the filler', () => {
    expect(IFMIBDATA_OFF).toEqual(
      cOffsets([
        ['ifmd_name', 1, 16],
        ['ifmd_pcount', 4],
        ['ifmd_flags', 4],
        ['ifmd_snd_len', 4],
        ['ifmd_snd_maxlen', 4],
        ['ifmd_snd_drops', 4],
        ['ifmd_filler', 4, 4],
        ['ifmd_data', 8, IF_DATA_SIZE / 8],
      ]),
    );
    expect(IFMIBDATA_OFF.ifmd_data + IF_DATA_SIZE).toBe(IFMIBDATA_SIZE);
  });

  it('struct ifmib_iso_8802_3 (§3.5)', () => {
    expect(IFMIB_ISO_8802_3_OFF).toEqual(
      cOffsets([...DOT3_SCALAR_NAMES.map((n): [string, number] => [n, 4]), ['dot3StatsCollFrequencies', 4, 16], ['dot3Compliance', 4]]),
    );
  });

  it('struct igmpstat (§4.1)', () => {
    expect(IGMPSTAT_OFF).toEqual(
      cOffsets([['igps_version', 4], ['igps_len', 4], ...IGMPSTAT_COUNTER_NAMES.map((n): [string, number] => [n, 8])]),
    );
    // 16 counters end at 136; __igps_pad[4] fills the rest.
    expect(IGMPSTAT_OFF.igps_snd_reports + 8 + 4 * 8).toBe(IGMPSTAT_SIZE);
  });

  it('struct igmp_ifinfo (§4.3) and struct mld_ifinfo (§4.5)', () => {
    expect(IGMP_IFINFO_OFF).toEqual(cOffsets(IGMP_IFINFO_NAMES.map((n): [string, number] => [n, 4])));
    expect(MLD_IFINFO_OFF).toEqual(cOffsets(MLD_IFINFO_NAMES.map((n): [string, number] => [n, 4])));
  });
});

describe('struct if_data bytes', () => {
  it('ifi_ipackets lands at 24 and nowhere else', () => {
    const d = new IfData();
    const before = encodeIfData(d);
    d.ifi_ipackets = P64;
    expectLandsAt(before, encodeIfData(d), 24, P64, 8);
  });

  it('ifi_lastchange: tv_sec at 136, tv_usec at 144', () => {
    const d = new IfData();
    const before = encodeIfData(d);
    d.ifi_lastchange = { tv_sec: 0, tv_usec: 987654 };
    const withUsec = encodeIfData(d);
    expectLandsAt(before, withUsec, 144, 987654, 8);
    d.ifi_lastchange = { tv_sec: 1700000000, tv_usec: 987654 };
    expectLandsAt(withUsec, encodeIfData(d), 136, 1700000000, 8);
  });

  it('every field lands at its own offset with its own width', () => {
    const widths = Object.fromEntries(IF_DATA_FIELDS.map(([n, w]) => [n, w]));
    const pattern: Record<number, number> = { 1: P8, 2: P16, 4: P32, 8: P64 };
    for (const [name, off] of Object.entries(IF_DATA_OFF)) {
      if (name === 'ifi_lastchange') continue;
      const d = new IfData();
      const before = encodeIfData(d);
      (d as unknown as Record<string, number>)[name] = pattern[widths[name]];
      expectLandsAt(before, encodeIfData(d), off, pattern[widths[name]], widths[name]);
    }
  });

  it('small fields and the header of a fresh if_data', () => {
    const d = new IfData();
    d.ifi_type = 6; // IFT_ETHER
    d.ifi_addrlen = 6;
    d.ifi_hdrlen = 14;
    d.ifi_link_state = 2; // LINK_STATE_UP
    d.ifi_mtu = 1500;
    const b = encodeIfData(d);
    expect(Array.from(b.subarray(0, 12))).toEqual([6, 0, 6, 14, 2, 0, ...le(152, 2), ...le(1500, 4)]);
  });

  it('writes integers as C converts them', () => {
    const d = new IfData();
    d.ifi_mtu = -1;
    d.ifi_ierrors = -1;
    d.ifi_opackets = Number.NaN;
    d.ifi_oerrors = 7.9;
    d.ifi_epoch = -2;
    const b = encodeIfData(d);
    expect(Array.from(b.subarray(8, 12))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(Array.from(b.subarray(32, 40))).toEqual(new Array(8).fill(0xff));
    expect(Array.from(b.subarray(40, 48))).toEqual(new Array(8).fill(0));
    expect(Array.from(b.subarray(48, 56))).toEqual(le(7, 8));
    expect(Array.from(b.subarray(128, 136))).toEqual(le(-2, 8));
    const back = ok(decodeIfData(b));
    expect(back.ifi_mtu).toBe(0xffffffff);
    expect(back.ifi_ierrors).toBe(2 ** 64); // nearest double to 2^64 - 1
    expect(back.ifi_epoch).toBe(-2); // time_t is signed
  });
});

describe('struct ifmibdata bytes', () => {
  const base = (): IfmibData => ({ name: 'em0', pcount: 0, flags: 0, snd_len: 0, snd_maxlen: 0, snd_drops: 0, data: new IfData() });

  it('ifmd_snd_drops at 32 and ifi_ipackets at 56 + 24', () => {
    const x = base();
    const before = encodeIfmibdata(x);
    x.snd_drops = P32 | 0;
    expectLandsAt(before, encodeIfmibdata(x), 32, P32, 4);
    const y = base();
    y.data.ifi_ipackets = P64;
    expectLandsAt(before, encodeIfmibdata(y), 56 + 24, P64, 8);
  });

  it('each int at its offset: pcount 16, flags 20, snd_len 24, snd_maxlen 28', () => {
    for (const [key, off] of [
      ['pcount', 16],
      ['flags', 20],
      ['snd_len', 24],
      ['snd_maxlen', 28],
    ] as const) {
      const x = base();
      const before = encodeIfmibdata(x);
      x[key] = 0x1234abcd;
      expectLandsAt(before, encodeIfmibdata(x), off, 0x1234abcd, 4);
    }
  });

  it('filler (36..51) and alignment padding (52..55) stay zero whatever the fields hold', () => {
    const d = new IfData();
    for (const k of Object.keys(IF_DATA_OFF)) if (k !== 'ifi_lastchange') (d as unknown as Record<string, number>)[k] = -1;
    const b = encodeIfmibdata({ name: 'x'.repeat(40), pcount: -1, flags: -1, snd_len: -1, snd_maxlen: -1, snd_drops: -1, data: d });
    expect(Array.from(b.subarray(36, 56))).toEqual(new Array(20).fill(0));
  });

  it('the name is NUL-padded, and cut to 15 bytes plus NUL', () => {
    const short = encodeIfmibdata({ ...base(), name: 'em0' });
    expect(Array.from(short.subarray(0, 16))).toEqual([0x65, 0x6d, 0x30, ...new Array(13).fill(0)]);
    const long = encodeIfmibdata({ ...base(), name: 'abcdefghijklmnopqrstuvwxyz' });
    expect(new TextDecoder().decode(long.subarray(0, 15))).toBe('abcdefghijklmno');
    expect(long[15]).toBe(0);
    expect(ok(decodeIfmibdata(long)).name).toBe('abcdefghijklmno');
    // A name field with no NUL at all (not something a kernel writes) reads as all 16 bytes.
    long.set(new TextEncoder().encode('p'), 15);
    expect(ok(decodeIfmibdata(long)).name).toBe('abcdefghijklmnop');
  });

  it('the int fields decode as signed C ints', () => {
    const b = encodeIfmibdata({ ...base(), pcount: -3, flags: 0x8843 });
    const x = ok(decodeIfmibdata(b));
    expect([x.pcount, x.flags]).toEqual([-3, 0x8843]);
  });
});

describe('struct ifmib_iso_8802_3 bytes', () => {
  it('dot3Compliance at 120, the collision histogram at 56 + 4i', () => {
    const s = new Dot3Stats();
    s.dot3Compliance = 0;
    const before = encodeDot3(s);
    s.dot3Compliance = P32;
    expectLandsAt(before, encodeDot3(s), 120, P32, 4);
    // The default is DOT3COMPLIANCE_STATS (1).
    expect(Array.from(encodeDot3(new Dot3Stats()).subarray(120, 124))).toEqual([1, 0, 0, 0]);
    for (let i = 0; i < 16; i++) {
      const t = new Dot3Stats();
      const b0 = encodeDot3(t);
      t.dot3StatsCollFrequencies[i] = P32;
      expectLandsAt(b0, encodeDot3(t), 56 + 4 * i, P32, 4);
    }
  });

  it('the fourteen scalars at 0, 4, ..., 52 in the reference order', () => {
    DOT3_SCALAR_NAMES.forEach((name, i) => {
      const s = new Dot3Stats();
      const before = encodeDot3(s);
      s[name] = P32;
      expectLandsAt(before, encodeDot3(s), 4 * i, P32, 4);
    });
  });
});

describe('struct igmpstat bytes', () => {
  it('starts with igps_version 3 and igps_len 168, and ends with 32 zero bytes of pad', () => {
    const s = new IgmpStat();
    for (const k of IGMPSTAT_COUNTER_NAMES) s[k] = Number.MAX_SAFE_INTEGER;
    const b = encodeIgmpstat(s);
    expect(Array.from(b.subarray(0, 8))).toEqual([3, 0, 0, 0, 168, 0, 0, 0]);
    expect(Array.from(b.subarray(136, 168))).toEqual(new Array(32).fill(0));
  });

  it('igps_rcv_nora at 8 + 14 * 8, and every counter at 8 + 8i', () => {
    const s = new IgmpStat();
    const before = encodeIgmpstat(s);
    s.igps_rcv_nora = P64;
    expectLandsAt(before, encodeIgmpstat(s), 8 + 14 * 8, P64, 8);
    IGMPSTAT_COUNTER_NAMES.forEach((name, i) => {
      const t = new IgmpStat();
      t[name] = P64;
      expectLandsAt(before, encodeIgmpstat(t), 8 + 8 * i, P64, 8);
    });
  });

  it('decoding a zeroed struct (what netstat -z writes) gives zero counters', () => {
    const s = ok(decodeIgmpstat(new Uint8Array(168)));
    expect(s).toEqual(new IgmpStat());
  });
});

describe('struct igmp_ifinfo and struct mld_ifinfo bytes', () => {
  it('each igmp_ifinfo field at 4i in the reference order', () => {
    const zero = Object.fromEntries(IGMP_IFINFO_NAMES.map((k) => [k, 0])) as unknown as IgmpIfinfo;
    const before = encodeIgmpIfinfo(zero);
    IGMP_IFINFO_NAMES.forEach((name, i) => {
      expectLandsAt(before, encodeIgmpIfinfo({ ...zero, [name]: P32 }), 4 * i, P32, 4);
    });
  });

  it('each mld_ifinfo field at 4i in the reference order', () => {
    const zero = Object.fromEntries(MLD_IFINFO_NAMES.map((k) => [k, 0])) as unknown as MldIfinfo;
    const before = encodeMldIfinfo(zero);
    MLD_IFINFO_NAMES.forEach((name, i) => {
      expectLandsAt(before, encodeMldIfinfo({ ...zero, [name]: P32 }), 4 * i, P32, 4);
    });
  });
});

describe('real objects from a host after traffic', () => {
  it('round-trip what the stack holds, with the counters where FreeBSD puts them', () => {
    const { a, b, ea, eb } = busyLan();

    // if_data and ifmibdata of both interfaces.
    for (const ifp of [ea, eb]) {
      const snap = ifp.snapshot();
      expect(snap.ifi_opackets).toBeGreaterThan(0);
      const bytes = encodeIfData(snap);
      expect(ok(decodeIfData(bytes))).toEqual(snap);
      expect(Array.from(bytes.subarray(40, 48))).toEqual(le(snap.ifi_opackets, 8));
      const mib = ifmibOf(ifp);
      const mb = encodeIfmibdata(mib);
      expect(ok(decodeIfmibdata(mb))).toEqual(mib);
      expect(Array.from(mb.subarray(20, 24))).toEqual(le(mib.flags, 4));
      expect(Array.from(mb.subarray(56, 56 + IF_DATA_SIZE))).toEqual(Array.from(bytes));
    }
    // b received the five datagrams as multicast.
    const sb = eb.snapshot();
    expect(sb.ifi_imcasts).toBeGreaterThanOrEqual(5);
    expect(Array.from(encodeIfData(sb).subarray(80, 88))).toEqual(le(sb.ifi_imcasts, 8));
    expect(Array.from(encodeIfData(sb).subarray(24, 32))).toEqual(le(sb.ifi_ipackets, 8));

    // The Ethernet link MIB.
    const linkmib = eb.if_linkmib!;
    expect(linkmib).toBeInstanceOf(Dot3Stats);
    expect(ok(decodeDot3(encodeDot3(linkmib)))).toEqual(linkmib);

    // IGMP: b sent reports for 239.1.1.1.
    for (const h of [a, b]) expect(ok(decodeIgmpstat(encodeIgmpstat(h.igmp.stat)))).toEqual(h.igmp.stat);
    const st = b.igmp.stat;
    expect(st.igps_snd_reports).toBeGreaterThan(0);
    expect(Array.from(encodeIgmpstat(st).subarray(128, 136))).toEqual(le(st.igps_snd_reports, 8));

    // igmp_ifinfo and mld_ifinfo.
    const igi = b.igmp.ifinfoView(eb);
    expect(igi.igi_version).toBe(3);
    const igiBytes = encodeIgmpIfinfo(igi);
    expect(Array.from(igiBytes.subarray(0, 4))).toEqual([3, 0, 0, 0]);
    expect(Array.from(igiBytes.subarray(20, 24))).toEqual(le(igi.igi_rv, 4));
    expect(ok(decodeIgmpIfinfo(igiBytes))).toEqual(igi);
    const mli = b.mld.ifinfoView(eb);
    const mliBytes = encodeMldIfinfo(mli);
    expect(Array.from(mliBytes.subarray(0, 4))).toEqual(le(mli.mli_version, 4));
    expect(ok(decodeMldIfinfo(mliBytes))).toEqual(mli);
  });
});

describe('round trips over random values', () => {
  const u8 = fc.integer({ min: 0, max: 0xff });
  const u16 = fc.integer({ min: 0, max: 0xffff });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const u64 = fc.maxSafeNat();
  const i64 = fc.maxSafeInteger();

  const ifData = fc
    .record({
      u8s: fc.array(u8, { minLength: 6, maxLength: 6 }),
      datalen: u16,
      u32s: fc.array(u32, { minLength: 2, maxLength: 2 }),
      u64s: fc.array(u64, { minLength: 14, maxLength: 14 }),
      epoch: i64,
      sec: i64,
      usec: i64,
    })
    .map(({ u8s, datalen, u32s, u64s, epoch, sec, usec }) => {
      const d = new IfData();
      [d.ifi_type, d.ifi_physical, d.ifi_addrlen, d.ifi_hdrlen, d.ifi_link_state, d.ifi_vhid] = u8s;
      d.ifi_datalen = datalen;
      [d.ifi_mtu, d.ifi_metric] = u32s;
      [
        d.ifi_baudrate,
        d.ifi_ipackets,
        d.ifi_ierrors,
        d.ifi_opackets,
        d.ifi_oerrors,
        d.ifi_collisions,
        d.ifi_ibytes,
        d.ifi_obytes,
        d.ifi_imcasts,
        d.ifi_omcasts,
        d.ifi_iqdrops,
        d.ifi_oqdrops,
        d.ifi_noproto,
        d.ifi_hwassist,
      ] = u64s;
      d.ifi_epoch = epoch;
      d.ifi_lastchange = { tv_sec: sec, tv_usec: usec };
      return d;
    });

  it('struct if_data', () => {
    fc.assert(fc.property(ifData, (d) => {
      expect(ok(decodeIfData(encodeIfData(d)))).toEqual(d);
    }), { numRuns: 500 });
  });

  it('struct ifmibdata', () => {
    const mib = fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9_.]{0,14}$/),
      pcount: i32,
      flags: i32,
      snd_len: i32,
      snd_maxlen: i32,
      snd_drops: i32,
      data: ifData,
    });
    fc.assert(fc.property(mib, (x) => {
      expect(ok(decodeIfmibdata(encodeIfmibdata(x)))).toEqual(x);
    }), { numRuns: 500 });
  });

  it('struct ifmib_iso_8802_3, and bytes -> struct -> the same bytes', () => {
    const dot3 = fc.record({ scalars: fc.array(u32, { minLength: 14, maxLength: 14 }), freq: fc.array(u32, { minLength: 16, maxLength: 16 }), compliance: u32 }).map(
      ({ scalars, freq, compliance }) => {
        const s = new Dot3Stats();
        DOT3_SCALAR_NAMES.forEach((k, i) => (s[k] = scalars[i]));
        s.dot3StatsCollFrequencies = freq;
        s.dot3Compliance = compliance;
        return s;
      },
    );
    fc.assert(fc.property(dot3, (s) => {
      expect(ok(decodeDot3(encodeDot3(s)))).toEqual(s);
    }), { numRuns: 500 });
    // Every bit of this struct is a field, so any 124 bytes survive decode + encode.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 124, maxLength: 124 }), (b) => {
        expect(encodeDot3(ok(decodeDot3(b)))).toEqual(b);
      }),
    );
  });

  it('struct igmpstat', () => {
    const stat = fc.array(u64, { minLength: 16, maxLength: 16 }).map((vals) => {
      const s = new IgmpStat();
      IGMPSTAT_COUNTER_NAMES.forEach((k, i) => (s[k] = vals[i]));
      return s;
    });
    fc.assert(fc.property(stat, (s) => {
      expect(ok(decodeIgmpstat(encodeIgmpstat(s)))).toEqual(s);
    }), { numRuns: 500 });
  });

  it('struct igmp_ifinfo and struct mld_ifinfo, both ways', () => {
    const igi = fc.array(u32, { minLength: 9, maxLength: 9 }).map((v) => Object.fromEntries(IGMP_IFINFO_NAMES.map((k, i) => [k, v[i]])) as unknown as IgmpIfinfo);
    const mli = fc.array(u32, { minLength: 8, maxLength: 8 }).map((v) => Object.fromEntries(MLD_IFINFO_NAMES.map((k, i) => [k, v[i]])) as unknown as MldIfinfo);
    fc.assert(fc.property(igi, (x) => {
      expect(ok(decodeIgmpIfinfo(encodeIgmpIfinfo(x)))).toEqual(x);
    }));
    fc.assert(fc.property(mli, (x) => {
      expect(ok(decodeMldIfinfo(encodeMldIfinfo(x)))).toEqual(x);
    }));
    fc.assert(fc.property(fc.uint8Array({ minLength: 36, maxLength: 36 }), (b) => {
      expect(encodeIgmpIfinfo(ok(decodeIgmpIfinfo(b)))).toEqual(b);
    }));
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
      expect(encodeMldIfinfo(ok(decodeMldIfinfo(b)))).toEqual(b);
    }));
  });
});

describe('decoders refuse what is not the structure', () => {
  const decoders: [string, (b: Uint8Array) => unknown, number][] = [
    ['if_data', decodeIfData, 152],
    ['ifmibdata', decodeIfmibdata, 208],
    ['ifmib_iso_8802_3', decodeDot3, 124],
    ['igmpstat', decodeIgmpstat, 168],
    ['igmp_ifinfo', decodeIgmpIfinfo, 36],
    ['mld_ifinfo', decodeMldIfinfo, 32],
  ];

  it.each(decoders)('struct %s: wrong lengths give an error object naming both sizes', (name, decode, size) => {
    for (const len of [0, 1, size - 1, size + 1, 2 * size]) {
      const r = decode(new Uint8Array(len));
      expect(isLayoutError(r), `${name} with ${len} bytes`).toBe(true);
      expect((r as { error: string }).error).toContain(`struct ${name}`);
      expect((r as { error: string }).error).toContain(String(size));
      expect((r as { error: string }).error).toContain(String(len));
    }
    expect(isLayoutError(decode(new Uint8Array(size)))).toBe(false);
    // Not bytes at all.
    for (const junk of [undefined, null, 'abc', [1, 2, 3], new ArrayBuffer(size)]) expect(isLayoutError(decode(junk as unknown as Uint8Array))).toBe(true);
  });

  it.each(decoders)('struct %s: never throws on any bytes', (_name, decode) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 260 }), (b) => {
      decode(b);
    }));
  });

  it('reads a structure inside a larger buffer (a subarray with a byte offset)', () => {
    const d = new IfData();
    d.ifi_ipackets = P64;
    d.ifi_lastchange = { tv_sec: 5, tv_usec: 6 };
    const big = new Uint8Array(3 + IF_DATA_SIZE + 5);
    big.set(encodeIfData(d), 3);
    expect(ok(decodeIfData(big.subarray(3, 3 + IF_DATA_SIZE)))).toEqual(d);
  });
});
