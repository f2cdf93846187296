/**
 * Binary layouts of the FreeBSD structures that the sysctl tree hands out,
 * as an LP64 little-endian kernel (amd64) lays them out, so that a program
 * written against FreeBSD's headers can read what taplab exports:
 *
 *   struct if_data           152 bytes  (freebsd-formats.md §3.3, sys/net/if.h)
 *   struct ifmibdata         208 bytes  (§3.2, sys/net/if_mib.h; IFDATA_GENERAL)
 *   struct ifmib_iso_8802_3  124 bytes  (§3.5; IFDATA_LINKSPECIFIC of an Ethernet)
 *   struct igmpstat          168 bytes  (§4.1, netinet/igmp_var.h; net.inet.igmp.stats)
 *   struct igmp_ifinfo        36 bytes  (§4.3; net.inet.igmp.ifinfo.<ifindex>)
 *   struct mld_ifinfo         32 bytes  (§4.5; net.inet6.mld.ifinfo.<ifindex>)
 *
 * Every function here is pure. Encoders take the typed objects the stack
 * keeps and return a fresh, zero-filled buffer (so fillers, padding and
 * __igps_pad are zero, as the kernel's zero-filled copies are). Decoders take
 * bytes and return the typed object, or `{ error }` when the length is not
 * the structure's size; they never throw on bad input.
 *
 * Integer conversion follows C's: a value is truncated toward zero and
 * reduced modulo 2^bits, so -1 written as a uint32 reads back 4294967295 and
 * NaN or an infinity is written as 0. 64-bit counters are exact up to
 * Number.MAX_SAFE_INTEGER (2^53 - 1); a decoded counter above that is the
 * nearest double.
 */
import { Dot3Stats, IfData } from '../driver/ifnet.js';
import { IFNAMSIZ } from '../driver/if_var.js';
import type { IgmpIfinfo } from '../igmp/igmp.js';
import type { MldIfinfo } from '../mld/mld.js';
import { IgmpStat } from './igmp_stats.js';

// ---------------------------------------------------------------------------
// Sizes (sizeof on FreeBSD amd64).

export const IF_DATA_SIZE = 152;
export const IFMIBDATA_SIZE = 208;
export const IFMIB_ISO_8802_3_SIZE = 124;
export const IGMPSTAT_SIZE = 168;
export const IGMP_IFINFO_SIZE = 36;
export const MLD_IFINFO_SIZE = 32;
/** struct timeval on LP64: time_t tv_sec and suseconds_t (long) tv_usec, 8 bytes each. */
export const TIMEVAL_SIZE = 16;

/** A decoder's answer for bytes that are not the structure (wrong length, not bytes at all). */
export interface LayoutError {
  error: string;
}

export function isLayoutError(x: unknown): x is LayoutError {
  return typeof x === 'object' && x !== null && typeof (x as { error?: unknown }).error === 'string';
}

// ---------------------------------------------------------------------------
// Field offsets. Each table is checked by the compiler to name every field of
// the TypeScript type exactly once, so a field added to the type without a
// place in the layout does not compile.

/** struct if_data (§3.3). `ifi_lastchange` is the start of its struct timeval. */
export const IF_DATA_OFF = {
  ifi_type: 0,
  ifi_physical: 1,
  ifi_addrlen: 2,
  ifi_hdrlen: 3,
  ifi_link_state: 4,
  ifi_vhid: 5,
  ifi_datalen: 6,
  ifi_mtu: 8,
  ifi_metric: 12,
  ifi_baudrate: 16,
  ifi_ipackets: 24,
  ifi_ierrors: 32,
  ifi_opackets: 40,
  ifi_oerrors: 48,
  ifi_collisions: 56,
  ifi_ibytes: 64,
  ifi_obytes: 72,
  ifi_imcasts: 80,
  ifi_omcasts: 88,
  ifi_iqdrops: 96,
  ifi_oqdrops: 104,
  ifi_noproto: 112,
  ifi_hwassist: 120,
  ifi_epoch: 128,
  ifi_lastchange: 136,
} as const satisfies Record<keyof IfData, number>;

/** Offsets inside struct timeval (LP64). */
export const TIMEVAL_OFF = { tv_sec: 0, tv_usec: 8 } as const;

/** struct ifmibdata (§3.2). ifmd_filler is int[4] at 36..51; 52..55 pad if_data to 8-byte alignment. */
export const IFMIBDATA_OFF = {
  ifmd_name: 0,
  ifmd_pcount: 16,
  ifmd_flags: 20,
  ifmd_snd_len: 24,
  ifmd_snd_maxlen: 28,
  ifmd_snd_drops: 32,
  ifmd_filler: 36,
  ifmd_data: 56,
} as const;

/** struct ifmib_iso_8802_3 (§3.5): 31 u_int32_t in this order. */
export const IFMIB_ISO_8802_3_OFF = {
  dot3StatsAlignmentErrors: 0,
  dot3StatsFCSErrors: 4,
  dot3StatsSingleCollisionFrames: 8,
  dot3StatsMultipleCollisionFrames: 12,
  dot3StatsSQETestErrors: 16,
  dot3StatsDeferredTransmissions: 20,
  dot3StatsLateCollisions: 24,
  dot3StatsExcessiveCollisions: 28,
  dot3StatsInternalMacTransmitErrors: 32,
  dot3StatsCarrierSenseErrors: 36,
  dot3StatsFrameTooLongs: 40,
  dot3StatsInternalMacReceiveErrors: 44,
  dot3StatsEtherChipSet: 48,
  dot3StatsMissedFrames: 52,
  /** u_int32_t[16] */
  dot3StatsCollFrequencies: 56,
  dot3Compliance: 120,
} as const satisfies Record<keyof Dot3Stats, number>;

/** Number of entries in dot3StatsCollFrequencies. */
export const DOT3_COLL_FREQUENCIES = 16;

/** struct igmpstat (§4.1): two uint32 header words, then uint64 counters. */
export const IGMPSTAT_OFF = {
  igps_version: 0,
  igps_len: 4,
  igps_rcv_total: 8,
  igps_rcv_tooshort: 16,
  igps_rcv_badttl: 24,
  igps_rcv_badsum: 32,
  igps_rcv_v1v2_queries: 40,
  igps_rcv_v3_queries: 48,
  igps_rcv_badqueries: 56,
  igps_rcv_gen_queries: 64,
  igps_rcv_group_queries: 72,
  igps_rcv_gsr_queries: 80,
  igps_drop_gsr_queries: 88,
  igps_rcv_reports: 96,
  igps_rcv_badreports: 104,
  igps_rcv_ourreports: 112,
  igps_rcv_nora: 120,
  igps_snd_reports: 128,
} as const satisfies Record<keyof IgmpStat, number>;

/** uint64_t __igps_pad[4] closes struct igmpstat (always zero here). */
export const IGMPSTAT_PAD_OFF = 136;
/** IGPS_VERSION_3 and IGPS_VERSION3_LEN, the header the kernel writes on every read. */
export const IGPS_VERSION_3 = 3;
export const IGPS_VERSION3_LEN = IGMPSTAT_SIZE;

/** struct igmp_ifinfo (§4.3): nine uint32 in this order. */
export const IGMP_IFINFO_OFF = {
  igi_version: 0,
  igi_v1_timer: 4,
  igi_v2_timer: 8,
  igi_v3_timer: 12,
  igi_flags: 16,
  igi_rv: 20,
  igi_qi: 24,
  igi_qri: 28,
  igi_uri: 32,
} as const satisfies Record<keyof IgmpIfinfo, number>;

/** struct mld_ifinfo (§4.5): eight uint32 in this order. */
export const MLD_IFINFO_OFF = {
  mli_version: 0,
  mli_v1_timer: 4,
  mli_v2_timer: 8,
  mli_flags: 12,
  mli_rv: 16,
  mli_qi: 20,
  mli_qri: 24,
  mli_uri: 28,
} as const satisfies Record<keyof MldIfinfo, number>;

// ---------------------------------------------------------------------------
// Fields grouped by C type, in layout order, for the encode/decode loops.

const IF_DATA_U8 = ['ifi_type', 'ifi_physical', 'ifi_addrlen', 'ifi_hdrlen', 'ifi_link_state', 'ifi_vhid'] as const;
const IF_DATA_U32 = ['ifi_mtu', 'ifi_metric'] as const;
const IF_DATA_U64 = [
  'ifi_baudrate',
  'ifi_ipackets',
  'ifi_ierrors',
  'ifi_opackets',
  'ifi_oerrors',
  'ifi_collisions',
  'ifi_ibytes',
  'ifi_obytes',
  'ifi_imcasts',
  'ifi_omcasts',
  'ifi_iqdrops',
  'ifi_oqdrops',
  'ifi_noproto',
  'ifi_hwassist',
] as const;

/** The scalar u_int32_t fields of struct ifmib_iso_8802_3 (everything but the array and dot3Compliance). */
const DOT3_SCALARS = [
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

/** The uint64 counters of struct igmpstat (the header words are constants of IgmpStat). */
const IGMPSTAT_COUNTERS = [
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

const IGMP_IFINFO_FIELDS = Object.keys(IGMP_IFINFO_OFF) as (keyof IgmpIfinfo)[];
const MLD_IFINFO_FIELDS = Object.keys(MLD_IFINFO_OFF) as (keyof MldIfinfo)[];

// ---------------------------------------------------------------------------
// Primitive access. All multi-byte values are little-endian.

const TWO_32 = 2 ** 32;

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** C's conversion of a double to an integer type before reduction: truncate; NaN and infinities become 0. */
function toBigInt(n: number): bigint {
  return Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
}

/** uint64_t: the hi/lo split is exact for 0..2^53-1, the common case; anything else goes through BigInt. */
function putU64(dv: DataView, off: number, n: number): void {
  if (Number.isSafeInteger(n) && n >= 0) {
    dv.setUint32(off, n >>> 0, true);
    dv.setUint32(off + 4, Math.floor(n / TWO_32), true);
  } else {
    dv.setBigUint64(off, BigInt.asUintN(64, toBigInt(n)), true);
  }
}

function getU64(dv: DataView, off: number): number {
  return dv.getUint32(off + 4, true) * TWO_32 + dv.getUint32(off, true);
}

/** int64_t (time_t, suseconds_t on LP64). */
function putI64(dv: DataView, off: number, n: number): void {
  dv.setBigInt64(off, BigInt.asIntN(64, toBigInt(n)), true);
}

function getI64(dv: DataView, off: number): number {
  return dv.getInt32(off + 4, true) * TWO_32 + dv.getUint32(off, true);
}

// DataView's setUint8/16/32 and setInt32 already reduce modulo 2^bits (ToUint32 and friends).

/** The length check every decoder starts with. */
function checkSize(bytes: unknown, size: number, what: string): DataView | LayoutError {
  if (!(bytes instanceof Uint8Array)) return { error: `${what}: expected a Uint8Array of ${size} bytes` };
  if (bytes.byteLength !== size)
    return { error: `${what} is ${size} bytes on FreeBSD amd64, but ${bytes.byteLength} bytes were given` };
  return viewOf(bytes);
}

// ---------------------------------------------------------------------------
// struct if_data (§3.3)

function writeIfData(dv: DataView, base: number, d: IfData): void {
  for (const k of IF_DATA_U8) dv.setUint8(base + IF_DATA_OFF[k], d[k]);
  dv.setUint16(base + IF_DATA_OFF.ifi_datalen, d.ifi_datalen, true);
  for (const k of IF_DATA_U32) dv.setUint32(base + IF_DATA_OFF[k], d[k], true);
  for (const k of IF_DATA_U64) putU64(dv, base + IF_DATA_OFF[k], d[k]);
  // __ifi_epoch is a union of time_t and uint64_t; time_t is signed.
  putI64(dv, base + IF_DATA_OFF.ifi_epoch, d.ifi_epoch);
  const tv = base + IF_DATA_OFF.ifi_lastchange;
  putI64(dv, tv + TIMEVAL_OFF.tv_sec, d.ifi_lastchange.tv_sec);
  putI64(dv, tv + TIMEVAL_OFF.tv_usec, d.ifi_lastchange.tv_usec);
}

function readIfData(dv: DataView, base: number): IfData {
  const d = new IfData();
  for (const k of IF_DATA_U8) d[k] = dv.getUint8(base + IF_DATA_OFF[k]);
  d.ifi_datalen = dv.getUint16(base + IF_DATA_OFF.ifi_datalen, true);
  for (const k of IF_DATA_U32) d[k] = dv.getUint32(base + IF_DATA_OFF[k], true);
  for (const k of IF_DATA_U64) d[k] = getU64(dv, base + IF_DATA_OFF[k]);
  d.ifi_epoch = getI64(dv, base + IF_DATA_OFF.ifi_epoch);
  const tv = base + IF_DATA_OFF.ifi_lastchange;
  d.ifi_lastchange = { tv_sec: getI64(dv, tv + TIMEVAL_OFF.tv_sec), tv_usec: getI64(dv, tv + TIMEVAL_OFF.tv_usec) };
  return d;
}

/** struct if_data as the kernel copies it out (the values are written as given; see Ifnet.snapshot()). */
export function encodeIfData(d: IfData): Uint8Array {
  const out = new Uint8Array(IF_DATA_SIZE);
  writeIfData(viewOf(out), 0, d);
  return out;
}

export function decodeIfData(bytes: Uint8Array): IfData | LayoutError {
  const dv = checkSize(bytes, IF_DATA_SIZE, 'struct if_data');
  return dv instanceof DataView ? readIfData(dv, 0) : dv;
}

// ---------------------------------------------------------------------------
// struct ifmibdata (§3.2)

/** The contents of struct ifmibdata, with the ifmd_ prefix dropped. */
export interface IfmibData {
  /** ifmd_name: at most IFNAMSIZ - 1 = 15 bytes survive encoding. */
  name: string;
  /** ifmd_pcount: promiscuous listeners. */
  pcount: number;
  /** ifmd_flags: if_flags | if_drv_flags. */
  flags: number;
  /** ifmd_snd_len: frames on if_snd now. */
  snd_len: number;
  /** ifmd_snd_maxlen: the if_snd limit. */
  snd_maxlen: number;
  /** ifmd_snd_drops: frames if_snd refused (the OQDROPS counter on modern kernels). */
  snd_drops: number;
  data: IfData;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

export function encodeIfmibdata(x: IfmibData): Uint8Array {
  const out = new Uint8Array(IFMIBDATA_SIZE);
  const dv = viewOf(out);
  // char ifmd_name[IFNAMSIZ]: NUL-terminated, so at most 15 bytes of name; the rest stays zero.
  const name = utf8Encoder.encode(x.name).subarray(0, IFNAMSIZ - 1);
  out.set(name, IFMIBDATA_OFF.ifmd_name);
  dv.setInt32(IFMIBDATA_OFF.ifmd_pcount, x.pcount, true);
  dv.setInt32(IFMIBDATA_OFF.ifmd_flags, x.flags, true);
  dv.setInt32(IFMIBDATA_OFF.ifmd_snd_len, x.snd_len, true);
  dv.setInt32(IFMIBDATA_OFF.ifmd_snd_maxlen, x.snd_maxlen, true);
  dv.setInt32(IFMIBDATA_OFF.ifmd_snd_drops, x.snd_drops, true);
  // ifmd_filler[4] and the alignment pad before ifmd_data stay zero.
  writeIfData(dv, IFMIBDATA_OFF.ifmd_data, x.data);
  return out;
}

/** The int fields decode as C int (signed 32-bit). The name ends at the first NUL, or after 16 bytes if there is none. */
export function decodeIfmibdata(bytes: Uint8Array): IfmibData | LayoutError {
  const dv = checkSize(bytes, IFMIBDATA_SIZE, 'struct ifmibdata');
  if (!(dv instanceof DataView)) return dv;
  const field = bytes.subarray(IFMIBDATA_OFF.ifmd_name, IFMIBDATA_OFF.ifmd_name + IFNAMSIZ);
  const nul = field.indexOf(0);
  return {
    name: utf8Decoder.decode(nul < 0 ? field : field.subarray(0, nul)),
    pcount: dv.getInt32(IFMIBDATA_OFF.ifmd_pcount, true),
    flags: dv.getInt32(IFMIBDATA_OFF.ifmd_flags, true),
    snd_len: dv.getInt32(IFMIBDATA_OFF.ifmd_snd_len, true),
    snd_maxlen: dv.getInt32(IFMIBDATA_OFF.ifmd_snd_maxlen, true),
    snd_drops: dv.getInt32(IFMIBDATA_OFF.ifmd_snd_drops, true),
    data: readIfData(dv, IFMIBDATA_OFF.ifmd_data),
  };
}

// ---------------------------------------------------------------------------
// struct ifmib_iso_8802_3 (§3.5)

/** A dot3StatsCollFrequencies shorter than 16 is written with zeros after it; entries past 16 are ignored. */
export function encodeDot3(s: Dot3Stats): Uint8Array {
  const out = new Uint8Array(IFMIB_ISO_8802_3_SIZE);
  const dv = viewOf(out);
  for (const k of DOT3_SCALARS) dv.setUint32(IFMIB_ISO_8802_3_OFF[k], s[k], true);
  const freq = s.dot3StatsCollFrequencies;
  const n = Math.min(freq.length, DOT3_COLL_FREQUENCIES);
  for (let i = 0; i < n; i++) dv.setUint32(IFMIB_ISO_8802_3_OFF.dot3StatsCollFrequencies + 4 * i, freq[i], true);
  dv.setUint32(IFMIB_ISO_8802_3_OFF.dot3Compliance, s.dot3Compliance, true);
  return out;
}

export function decodeDot3(bytes: Uint8Array): Dot3Stats | LayoutError {
  const dv = checkSize(bytes, IFMIB_ISO_8802_3_SIZE, 'struct ifmib_iso_8802_3');
  if (!(dv instanceof DataView)) return dv;
  const s = new Dot3Stats();
  for (const k of DOT3_SCALARS) s[k] = dv.getUint32(IFMIB_ISO_8802_3_OFF[k], true);
  for (let i = 0; i < DOT3_COLL_FREQUENCIES; i++)
    s.dot3StatsCollFrequencies[i] = dv.getUint32(IFMIB_ISO_8802_3_OFF.dot3StatsCollFrequencies + 4 * i, true);
  s.dot3Compliance = dv.getUint32(IFMIB_ISO_8802_3_OFF.dot3Compliance, true);
  return s;
}

// ---------------------------------------------------------------------------
// struct igmpstat (§4.1)

/** The header is always IGPS_VERSION_3 / IGPS_VERSION3_LEN, as the kernel's sysctl handler writes it. */
export function encodeIgmpstat(s: IgmpStat): Uint8Array {
  const out = new Uint8Array(IGMPSTAT_SIZE);
  const dv = viewOf(out);
  dv.setUint32(IGMPSTAT_OFF.igps_version, IGPS_VERSION_3, true);
  dv.setUint32(IGMPSTAT_OFF.igps_len, IGPS_VERSION3_LEN, true);
  for (const k of IGMPSTAT_COUNTERS) putU64(dv, IGMPSTAT_OFF[k], s[k]);
  // __igps_pad[4] stays zero.
  return out;
}

/**
 * Only the length is checked, not the igps_version/igps_len header: the
 * zeroed struct that `netstat -z` writes has a zero header too. Read the
 * header at IGMPSTAT_OFF if it matters. __igps_pad is ignored.
 */
export function decodeIgmpstat(bytes: Uint8Array): IgmpStat | LayoutError {
  const dv = checkSize(bytes, IGMPSTAT_SIZE, 'struct igmpstat');
  if (!(dv instanceof DataView)) return dv;
  const s = new IgmpStat();
  for (const k of IGMPSTAT_COUNTERS) s[k] = getU64(dv, IGMPSTAT_OFF[k]);
  return s;
}

// ---------------------------------------------------------------------------
// struct igmp_ifinfo (§4.3) and struct mld_ifinfo (§4.5): all uint32_t

export function encodeIgmpIfinfo(i: IgmpIfinfo): Uint8Array {
  const out = new Uint8Array(IGMP_IFINFO_SIZE);
  const dv = viewOf(out);
  for (const k of IGMP_IFINFO_FIELDS) dv.setUint32(IGMP_IFINFO_OFF[k], i[k], true);
  return out;
}

export function decodeIgmpIfinfo(bytes: Uint8Array): IgmpIfinfo | LayoutError {
  const dv = checkSize(bytes, IGMP_IFINFO_SIZE, 'struct igmp_ifinfo');
  if (!(dv instanceof DataView)) return dv;
  const o = IGMP_IFINFO_OFF;
  return {
    igi_version: dv.getUint32(o.igi_version, true),
    igi_v1_timer: dv.getUint32(o.igi_v1_timer, true),
    igi_v2_timer: dv.getUint32(o.igi_v2_timer, true),
    igi_v3_timer: dv.getUint32(o.igi_v3_timer, true),
    igi_flags: dv.getUint32(o.igi_flags, true),
    igi_rv: dv.getUint32(o.igi_rv, true),
    igi_qi: dv.getUint32(o.igi_qi, true),
    igi_qri: dv.getUint32(o.igi_qri, true),
    igi_uri: dv.getUint32(o.igi_uri, true),
  };
}

export function encodeMldIfinfo(i: MldIfinfo): Uint8Array {
  const out = new Uint8Array(MLD_IFINFO_SIZE);
  const dv = viewOf(out);
  for (const k of MLD_IFINFO_FIELDS) dv.setUint32(MLD_IFINFO_OFF[k], i[k], true);
  return out;
}

export function decodeMldIfinfo(bytes: Uint8Array): MldIfinfo | LayoutError {
  const dv = checkSize(bytes, MLD_IFINFO_SIZE, 'struct mld_ifinfo');
  if (!(dv instanceof DataView)) return dv;
  const o = MLD_IFINFO_OFF;
  return {
    mli_version: dv.getUint32(o.mli_version, true),
    mli_v1_timer: dv.getUint32(o.mli_v1_timer, true),
    mli_v2_timer: dv.getUint32(o.mli_v2_timer, true),
    mli_flags: dv.getUint32(o.mli_flags, true),
    mli_rv: dv.getUint32(o.mli_rv, true),
    mli_qi: dv.getUint32(o.mli_qi, true),
    mli_qri: dv.getUint32(o.mli_qri, true),
    mli_uri: dv.getUint32(o.mli_uri, true),
  };
}

// ---------------------------------------------------------------------------
// Counter structures (struct ipstat, icmpstat, udpstat, ip6stat, icmp6stat,
// in6_ifstat, icmp6_ifstat). On FreeBSD these are all 64-bit counters
// (uint64_t, or u_long on LP64 for icmpstat), laid out in declaration
// order with no padding; the classes in inet_stats.ts declare their fields
// in that order, arrays and nested structures in place. So one walk over a
// counters object gives the layout.

type Counters = { [k: string]: number | number[] | Counters };

function walkCounters(obj: object, visit: (get: () => number, set: (n: number) => void) => void): void {
  const o = obj as Counters;
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (typeof v === 'number') visit(() => o[key] as number, (n) => void (o[key] = n));
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) visit(() => v[i], (n) => void (v[i] = n));
    else if (v && typeof v === 'object') walkCounters(v, visit);
  }
}

/** The size in bytes of a counters structure: 8 per counter. */
export function countersSize(obj: object): number {
  let n = 0;
  walkCounters(obj, () => n++);
  return n * 8;
}

/** A counters structure as a little-endian array of uint64. */
export function encodeCounters(obj: object): Uint8Array {
  const out = new Uint8Array(countersSize(obj));
  const dv = new DataView(out.buffer);
  let off = 0;
  walkCounters(obj, (get) => {
    dv.setBigUint64(off, BigInt(Math.max(0, Math.trunc(get()))), true);
    off += 8;
  });
  return out;
}

/** Fill `into` (a fresh counters object, which gives the shape) from bytes; a LayoutError if the length differs. */
export function decodeCounters<T extends object>(into: T, bytes: Uint8Array, what: string): T | LayoutError {
  const size = countersSize(into);
  if (bytes.byteLength !== size) return { error: `struct ${what} is ${size} bytes, not ${bytes.byteLength}` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  walkCounters(into, (_get, set) => {
    set(Number(dv.getBigUint64(off, true)));
    off += 8;
  });
  return into;
}
