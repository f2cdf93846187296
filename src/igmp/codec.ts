/**
 * IGMP wire codec, versions 1 (RFC 1112 App. I), 2 (RFC 2236 §2) and 3
 * (RFC 9776 §4), pure: `igmpParse` checks length and checksum, tells the
 * query versions apart (RFC 9776 §7.1) and names the igmpstat counter of the
 * first fault; `igmpEmit` builds a message with its checksum.
 *
 * The codec knows layouts only. What a message means (which group may be
 * reported, what to do with a v1 query on a v3 host, whether a query's group
 * must be multicast) belongs to the IGMP binding of the core.
 *
 * Also here: the 8-bit floating-point codes of RFC 9776 §4.1.1 (Max Resp
 * Code) and §4.1.7 (QQIC), and the size arithmetic the report packer needs.
 */
import { packetBytes } from '../kern/bytes.js';
import { inetChecksum } from '../inet/cksum.js';

// ---------------------------------------------------------------- constants

/** Membership Query, all versions (RFC 9776 §4.1; RFC 2236 §2.1; RFC 1112 App. I). */
export const IGMP_HOST_MEMBERSHIP_QUERY = 0x11;
/** Version 1 Membership Report (RFC 1112 App. I). */
export const IGMP_v1_HOST_MEMBERSHIP_REPORT = 0x12;
/** Version 2 Membership Report (RFC 2236 §2.1). */
export const IGMP_v2_HOST_MEMBERSHIP_REPORT = 0x16;
/** Leave Group (RFC 2236 §2.1). */
export const IGMP_HOST_LEAVE_MESSAGE = 0x17;
/** Version 3 Membership Report (RFC 9776 §4.2). */
export const IGMP_v3_HOST_MEMBERSHIP_REPORT = 0x22;

/** Every IGMP message is at least 8 octets (FreeBSD's IGMP_MINLEN). */
export const IGMP_MINLEN = 8;
/** A version 3 query without sources (FreeBSD's IGMP_V3_QUERY_MINLEN; RFC 9776 §4.1). */
export const IGMP_V3_QUERY_MINLEN = 12;
/** Fixed part of a version 3 report, before the first group record (RFC 9776 §4.2). */
export const IGMP_V3_REPORT_HDRLEN = 8;
/** Fixed part of a group record, before its sources (RFC 9776 §4.2.4). */
export const IGMP_V3_GROUP_RECORD_HDRLEN = 8;
/** An IPv4 address in a message. */
export const IGMP_ADDR_LEN = 4;

// Group Record Types (RFC 9776 §4.2.12).
/** Current-State Record: the filter mode is INCLUDE. */
export const MODE_IS_INCLUDE = 1;
/** Current-State Record: the filter mode is EXCLUDE. */
export const MODE_IS_EXCLUDE = 2;
/** Filter-Mode-Change Record: the filter mode changed to INCLUDE. */
export const CHANGE_TO_INCLUDE_MODE = 3;
/** Filter-Mode-Change Record: the filter mode changed to EXCLUDE. */
export const CHANGE_TO_EXCLUDE_MODE = 4;
/** Source-List-Change Record: sources newly wanted. */
export const ALLOW_NEW_SOURCES = 5;
/** Source-List-Change Record: sources no longer wanted. */
export const BLOCK_OLD_SOURCES = 6;

const RECORD_TYPE_NAMES: Record<number, string> = {
  [MODE_IS_INCLUDE]: 'IS_IN',
  [MODE_IS_EXCLUDE]: 'IS_EX',
  [CHANGE_TO_INCLUDE_MODE]: 'TO_IN',
  [CHANGE_TO_EXCLUDE_MODE]: 'TO_EX',
  [ALLOW_NEW_SOURCES]: 'ALLOW',
  [BLOCK_OLD_SOURCES]: 'BLOCK',
};

/**
 * The short name RFC 9776 §6 uses for a record type ('IS_IN', 'IS_EX',
 * 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK'); other values print as "#<n>". The same
 * numbering and names serve MLDv2 (RFC 9777 §5.2.12).
 */
export function recordTypeName(type: number | string): string {
  if (typeof type === 'string') return type;
  return RECORD_TYPE_NAMES[type] ?? `#${type}`;
}

// ---------------------------------------------------------------- float codes

/**
 * Decode a floating-point code of the form RFC 9776 §4.1.1 and §4.1.7 and
 * RFC 9777 §5.1.3 and §5.1.9 share: a code with its top bit clear (below
 * 2^(mantBits+3)) is the value itself; otherwise the bits are
 * `1 | exp (3 bits) | mant (mantBits bits)` and the value is
 * `(mant | 1 << mantBits) << (exp + 3)`.
 *
 * `mantBits` is 4 for the 8-bit codes (Max Resp Code, QQIC) and 12 for the
 * 16-bit MLDv2 Maximum Response Code.
 */
export function decodeFloatCode(code: number, mantBits: number): number {
  const top = 1 << (mantBits + 3); // 128 or 32768
  const c = code & (2 * top - 1);
  if (c < top) return c;
  const exp = (c >> mantBits) & 7;
  const mant = c & ((1 << mantBits) - 1);
  return (mant | (1 << mantBits)) * 2 ** (exp + 3);
}

/**
 * The code whose value is the largest representable value not above `value`
 * (rounding down). Values at or above the largest representable value give
 * the all-ones code; negative values and NaN give 0; fractions are dropped.
 *
 * Rounding down is the safe direction for both uses: a host told a shorter
 * Max Resp Time answers a little early, never after the querier has given up
 * on it; a shorter QQI only makes a non-querier expect the next query sooner.
 *
 * Properties (tested): decodeFloatCode(encodeFloatCode(x)) <= x, within a
 * factor 1/2^mantBits of x in the representable range, and
 * encodeFloatCode(decodeFloatCode(c)) === c for every code (the encoding is
 * canonical: decode is strictly increasing, so each value has one code).
 */
export function encodeFloatCode(value: number, mantBits: number): number {
  const top = 1 << (mantBits + 3);
  const v = Math.floor(value);
  if (!(v > 0)) return 0; // also NaN
  if (v < top) return v;
  // The exponent is the position of the leading bit, less mantBits + 3.
  let exp = 0;
  while (exp < 7 && v >= (1 << mantBits) * 2 ** (exp + 4)) exp++;
  const mant = Math.floor(v / 2 ** (exp + 3)) - (1 << mantBits);
  if (mant >= 1 << mantBits) return 2 * top - 1; // beyond the largest value
  return top | (exp << mantBits) | mant;
}

/** Max Resp Code (RFC 9776 §4.1.1) to Max Resp Time in tenths of a second. */
export function decodeMaxRespCode(code: number): number {
  return decodeFloatCode(code, 4);
}

/**
 * Max Resp Time in tenths of a second to the Max Resp Code whose time is the
 * largest representable one not above it (see encodeFloatCode). Largest
 * time: 31744 (3174.4 s).
 */
export function encodeMaxRespCode(tenths: number): number {
  return encodeFloatCode(tenths, 4);
}

/** QQIC (RFC 9776 §4.1.7) to the Querier's Query Interval in seconds. */
export function decodeQqic(code: number): number {
  return decodeFloatCode(code, 4);
}

/** Query interval in seconds to the QQIC that rounds it down (see encodeFloatCode). */
export function encodeQqic(seconds: number): number {
  return encodeFloatCode(seconds, 4);
}

// ---------------------------------------------------------------- messages

/**
 * A Membership Query of any version. Versions 1 and 2 carry only the Max Resp
 * field and the group; for them `sFlag` is false, `qrv`, `qqic` and
 * `qqiSeconds` are 0 and `sources` is empty.
 */
export interface IgmpQuery {
  kind: 'query';
  /** Told apart by length and Max Resp Code (RFC 9776 §7.1). */
  version: 1 | 2 | 3;
  /** The second octet as on the wire: 0 in v1, Max Resp Time in v2, Max Resp Code in v3. */
  maxResp: number;
  /**
   * The time it means, in tenths of a second: 100 (10 s) for v1 (RFC 2236
   * §4: a v1 query is taken to have a Max Response Time of 100), the field
   * itself for v2 (RFC 2236 §2.2), the decoded float for v3 (RFC 9776 §4.1.1).
   */
  maxRespTenths: number;
  /** 0.0.0.0 in a general query. */
  group: Uint8Array;
  /** Suppress Router-Side Processing (RFC 9776 §4.1.5). */
  sFlag: boolean;
  /** Querier's Robustness Variable, 0..7 (RFC 9776 §4.1.6). */
  qrv: number;
  /** Querier's Query Interval Code as on the wire (RFC 9776 §4.1.7). */
  qqic: number;
  /** The interval it means, in seconds. */
  qqiSeconds: number;
  /** Source addresses of a group-and-source-specific query (RFC 9776 §4.1.9). */
  sources: Uint8Array[];
}

/** Version 1 Membership Report (RFC 1112 App. I). */
export interface IgmpV1Report {
  kind: 'v1report';
  group: Uint8Array;
}

/** Version 2 Membership Report (RFC 2236 §2). */
export interface IgmpV2Report {
  kind: 'v2report';
  group: Uint8Array;
}

/** Leave Group (RFC 2236 §2). */
export interface IgmpLeave {
  kind: 'leave';
  group: Uint8Array;
}

/** A group record of a version 3 report (RFC 9776 §4.2.4). */
export interface IgmpGroupRecord {
  /**
   * A record type, MODE_IS_INCLUDE..BLOCK_OLD_SOURCES; other values are kept
   * as received. Emit also takes the names the group-membership core uses
   * ('IS_IN' ... 'BLOCK'), so its records go out without being copied.
   */
  type: number | RecordName;
  group: Uint8Array;
  sources: Uint8Array[];
  /**
   * Auxiliary Data (RFC 9776 §4.2.10), a multiple of 4 bytes. IGMPv3 defines
   * none and receivers ignore it; kept so that a parse/emit round trip is exact.
   * Absent when the record has none.
   */
  aux?: Uint8Array;
}

/** Version 3 Membership Report (RFC 9776 §4.2). */
export interface IgmpV3Report {
  kind: 'v3report';
  records: IgmpGroupRecord[];
}

export type IgmpMessage = IgmpQuery | IgmpV1Report | IgmpV2Report | IgmpLeave | IgmpV3Report;

/**
 * Why igmpParse refused a message, named after the igmpstat counter it feeds:
 *  - 'igps_rcv_tooshort': fewer than 8 octets, or a v3 query whose Number of
 *    Sources runs past the end (as FreeBSD's igmp_input counts it);
 *  - 'igps_rcv_badsum': the checksum does not verify;
 *  - 'igps_rcv_badqueries': a query of 9 to 11 octets, which is no version
 *    (RFC 9776 §7.1: silently ignored);
 *  - 'igps_rcv_badreports': a v3 report whose group records run past the end;
 *  - 'unknown-type': a type this codec does not know (FreeBSD hands those to
 *    raw sockets; mrouted's DVMRP, type 0x13, is one).
 */
export type IgmpParseError =
  | 'igps_rcv_tooshort'
  | 'igps_rcv_badsum'
  | 'igps_rcv_badqueries'
  | 'igps_rcv_badreports'
  | 'unknown-type';

export interface IgmpParseFailure {
  error: IgmpParseError;
  detail: string;
}

function fail(error: IgmpParseError, detail: string): IgmpParseFailure {
  return { error, detail };
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/**
 * Parse the IGMP message of `len` bytes at `off` in `buf` (the IP payload,
 * as the IP header's total length delimits it). Never throws; a `len` that
 * runs past the buffer is cut to the buffer.
 *
 * The checksum covers the whole message, including octets past the fields a
 * version defines, which are otherwise ignored (RFC 2236 §2.5, RFC 9776
 * §4.1.10 and §4.2.11).
 */
export function igmpParse(buf: Uint8Array, off: number, len: number): IgmpMessage | IgmpParseFailure {
  off = Math.max(0, Math.min(Math.floor(off) || 0, buf.length));
  len = Math.max(0, Math.min(Math.floor(len) || 0, buf.length - off));
  if (len < IGMP_MINLEN) return fail('igps_rcv_tooshort', `IGMP message of ${len} bytes, the minimum is ${IGMP_MINLEN}`);
  if (inetChecksum(buf, off, len) !== 0)
    return fail('igps_rcv_badsum', `IGMP checksum 0x${u16(buf, off + 2).toString(16).padStart(4, '0')} does not verify`);
  const type = buf[off];
  const code = buf[off + 1];
  const group = buf.slice(off + 4, off + 8);
  switch (type) {
    case IGMP_HOST_MEMBERSHIP_QUERY:
      return parseQuery(buf, off, len, code, group);
    case IGMP_v1_HOST_MEMBERSHIP_REPORT:
      return { kind: 'v1report', group };
    case IGMP_v2_HOST_MEMBERSHIP_REPORT:
      return { kind: 'v2report', group };
    case IGMP_HOST_LEAVE_MESSAGE:
      return { kind: 'leave', group };
    case IGMP_v3_HOST_MEMBERSHIP_REPORT:
      return parseV3Report(buf, off, len);
    default:
      return fail('unknown-type', `IGMP type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

/**
 * RFC 9776 §7.1: the version of a query follows from its length and Max Resp Code.
 *
 * Every query is built by one object literal with the fields in one order (one
 * object shape): V8 builds `{ ...base, version }` through a slow generic copy,
 * several microseconds a query, and each host parses every query it hears.
 */
function parseQuery(buf: Uint8Array, off: number, len: number, code: number, group: Uint8Array): IgmpQuery | IgmpParseFailure {
  if (len === IGMP_MINLEN) {
    // v1: the field is unused (zero); RFC 2236 §4 treats it as 10 s.
    if (code === 0) return query(1, code, 100, group, false, 0, 0, 0, []);
    return query(2, code, code, group, false, 0, 0, 0, []);
  }
  if (len < IGMP_V3_QUERY_MINLEN)
    return fail('igps_rcv_badqueries', `query of ${len} bytes is neither 8 (v1, v2) nor at least ${IGMP_V3_QUERY_MINLEN} (v3)`);
  const nsrc = u16(buf, off + 10);
  const need = IGMP_V3_QUERY_MINLEN + IGMP_ADDR_LEN * nsrc;
  if (need > len) return fail('igps_rcv_tooshort', `v3 query with ${nsrc} sources needs ${need} bytes, has ${len}`);
  const sources: Uint8Array[] = [];
  for (let i = 0, p = off + IGMP_V3_QUERY_MINLEN; i < nsrc; i++, p += IGMP_ADDR_LEN) sources.push(buf.slice(p, p + IGMP_ADDR_LEN));
  const flags = buf[off + 8];
  const qqic = buf[off + 9];
  return query(3, code, decodeMaxRespCode(code), group, (flags & 0x08) !== 0, flags & 0x07, qqic, decodeQqic(qqic), sources);
}

function query(
  version: 1 | 2 | 3,
  maxResp: number,
  maxRespTenths: number,
  group: Uint8Array,
  sFlag: boolean,
  qrv: number,
  qqic: number,
  qqiSeconds: number,
  sources: Uint8Array[],
): IgmpQuery {
  // The key order the codec has always produced (JSON of a parsed query, as timelines print it).
  return { kind: 'query', maxResp, group, sFlag, qrv, qqic, qqiSeconds, sources, version, maxRespTenths };
}

/** RFC 9776 §4.2: 8-byte header, then Number of Group Records records. */
function parseV3Report(buf: Uint8Array, off: number, len: number): IgmpV3Report | IgmpParseFailure {
  const nrec = u16(buf, off + 6);
  const end = off + len;
  const records: IgmpGroupRecord[] = [];
  let p = off + IGMP_V3_REPORT_HDRLEN;
  for (let r = 0; r < nrec; r++) {
    if (end - p < IGMP_V3_GROUP_RECORD_HDRLEN)
      return fail('igps_rcv_badreports', `v3 report: record ${r + 1} of ${nrec} starts past the end of ${len} bytes`);
    const type = buf[p];
    const auxLen = buf[p + 1] * 4; // in 32-bit words (RFC 9776 §4.2.6)
    const nsrc = u16(buf, p + 2);
    const size = IGMP_V3_GROUP_RECORD_HDRLEN + IGMP_ADDR_LEN * nsrc + auxLen;
    if (size > end - p)
      return fail('igps_rcv_badreports', `v3 report: record ${r + 1} of ${nrec} (${nsrc} sources, ${auxLen} bytes of aux data) runs past the end of ${len} bytes`);
    const rec: IgmpGroupRecord = { type, group: buf.slice(p + 4, p + 8), sources: [] };
    let q = p + IGMP_V3_GROUP_RECORD_HDRLEN;
    for (let i = 0; i < nsrc; i++, q += IGMP_ADDR_LEN) rec.sources.push(buf.slice(q, q + IGMP_ADDR_LEN));
    if (auxLen > 0) rec.aux = buf.slice(q, q + auxLen);
    records.push(rec);
    p += size;
  }
  return { kind: 'v3report', records };
}

// ---------------------------------------------------------------- emit

/**
 * Build a query whose derived fields agree with its wire fields: the codes
 * are computed from the times (rounding down, see encodeFloatCode). For v2
 * the Max Resp Time is an integer field (clamped to 1..255: 0 would make it a
 * v1 query); for v1 it is always 0 on the wire.
 */
export function igmpQuery(q: {
  version: 1 | 2 | 3;
  group: Uint8Array;
  maxRespTenths?: number;
  sFlag?: boolean;
  qrv?: number;
  qqiSeconds?: number;
  sources?: Uint8Array[];
}): IgmpQuery {
  const group = Uint8Array.from(q.group);
  const none = { sFlag: false, qrv: 0, qqic: 0, qqiSeconds: 0, sources: [] };
  if (q.version === 1) return { kind: 'query', version: 1, maxResp: 0, maxRespTenths: 100, group, ...none };
  if (q.version === 2) {
    const t = Math.min(255, Math.max(1, Math.floor(q.maxRespTenths ?? 100) || 1));
    return { kind: 'query', version: 2, maxResp: t, maxRespTenths: t, group, ...none };
  }
  const maxResp = encodeMaxRespCode(q.maxRespTenths ?? 100);
  const qqic = encodeQqic(q.qqiSeconds ?? 125);
  return {
    kind: 'query',
    version: 3,
    maxResp,
    maxRespTenths: decodeMaxRespCode(maxResp),
    group,
    sFlag: q.sFlag ?? false,
    qrv: (q.qrv ?? 2) & 7,
    qqic,
    qqiSeconds: decodeQqic(qqic),
    sources: (q.sources ?? []).map((s) => Uint8Array.from(s)),
  };
}

export type RecordName = 'IS_IN' | 'IS_EX' | 'TO_IN' | 'TO_EX' | 'ALLOW' | 'BLOCK';

/** A record type by name (as the group-membership core names them) to its code on the wire. */
export function recordTypeCode(name: RecordName | number): number {
  if (typeof name === 'number') return name & 0xff;
  switch (name) {
    case 'IS_IN':
      return MODE_IS_INCLUDE;
    case 'IS_EX':
      return MODE_IS_EXCLUDE;
    case 'TO_IN':
      return CHANGE_TO_INCLUDE_MODE;
    case 'TO_EX':
      return CHANGE_TO_EXCLUDE_MODE;
    case 'ALLOW':
      return ALLOW_NEW_SOURCES;
    case 'BLOCK':
      return BLOCK_OLD_SOURCES;
  }
}

/** A core record ({ type: name, group, sources }) as a wire record (IGMPv3 and MLDv2 alike). */
export function toWireRecord(r: { type: number | RecordName; group: Uint8Array; sources: Uint8Array[]; aux?: Uint8Array }): IgmpGroupRecord & { type: number } {
  const rec: IgmpGroupRecord & { type: number } = { type: recordTypeCode(r.type), group: r.group, sources: r.sources };
  if (r.aux) rec.aux = r.aux;
  return rec;
}

/*
 * Sizes of v3-style reports, shared with MLDv2 (src/mld/codec.ts), whose
 * records differ only in their header length and address size.
 */

/** Bytes a group record takes: its header, the sources, its aux data padded to 4. */
export function groupRecordSize(rec: { sources: readonly unknown[]; aux?: Uint8Array }, recHdr: number, addrLen: number): number {
  return recHdr + addrLen * rec.sources.length + auxPadded(rec.aux);
}

/** Bytes a report takes: its header and the records. */
export function groupReportSize(records: readonly { sources: readonly unknown[]; aux?: Uint8Array }[], reportHdr: number, recHdr: number, addrLen: number): number {
  let n = reportHdr;
  for (const r of records) n += groupRecordSize(r, recHdr, addrLen);
  return n;
}

/**
 * How many sources a record can carry in `budget` bytes (its header and
 * `auxLen` bytes of aux data included), at most 65535; -1 when not even a
 * record without sources fits.
 */
export function sourcesThatFit(budget: number, recHdr: number, addrLen: number, auxLen = 0): number {
  const room = Math.floor(budget) - recHdr - auxLen;
  if (!(room >= 0)) return -1;
  return Math.min(0xffff, Math.floor(room / addrLen));
}

/** Bytes a group record takes: 8 + 4 per source + its aux data (RFC 9776 §4.2.4). */
export function v3RecordSize(rec: { sources: readonly unknown[]; aux?: Uint8Array }): number {
  return groupRecordSize(rec, IGMP_V3_GROUP_RECORD_HDRLEN, IGMP_ADDR_LEN);
}

/** Bytes a version 3 report with these records takes: 8 + the records. */
export function v3ReportSize(records: readonly { sources: readonly unknown[]; aux?: Uint8Array }[]): number {
  return groupReportSize(records, IGMP_V3_REPORT_HDRLEN, IGMP_V3_GROUP_RECORD_HDRLEN, IGMP_ADDR_LEN);
}

/** How many sources an IGMPv3 group record can carry in `budget` bytes. */
export function v3SourcesThatFit(budget: number, auxLen = 0): number {
  return sourcesThatFit(budget, IGMP_V3_GROUP_RECORD_HDRLEN, IGMP_ADDR_LEN, auxLen);
}

export function auxPadded(aux: Uint8Array | undefined): number {
  return aux ? (aux.length + 3) & ~3 : 0;
}

function putAddr(out: Uint8Array, at: number, a: Uint8Array, what: string): void {
  if (a.length !== IGMP_ADDR_LEN) throw new RangeError(`${what}: an IPv4 address is 4 bytes, got ${a.length}`);
  // Four stores beat TypedArray.set, whose call costs more than the copy.
  out[at] = a[0];
  out[at + 1] = a[1];
  out[at + 2] = a[2];
  out[at + 3] = a[3];
}

/**
 * Encode a message and fill in its checksum. The wire fields are written as
 * given (`maxResp`, `qqic`, not the derived times; build queries with
 * igmpQuery to keep them in agreement); a v1 query has a zero Max Resp field,
 * and a v2 query with a zero one would read back as v1 (RFC 9776 §7.1).
 * Reserved fields are zero. Aux data is padded with zeros to 4 bytes.
 *
 * Throws RangeError for what cannot be encoded (a programming error, not
 * wire input): an address that is not 4 bytes, more than 65535 sources or
 * records, more than 1020 bytes of aux data.
 */
export function igmpEmit(m: IgmpMessage): Uint8Array {
  let out: Uint8Array;
  switch (m.kind) {
    case 'query': {
      if (m.version !== 3) {
        out = new Uint8Array(IGMP_MINLEN);
        out[0] = IGMP_HOST_MEMBERSHIP_QUERY;
        out[1] = m.version === 1 ? 0 : m.maxResp & 0xff;
        putAddr(out, 4, m.group, 'query group');
        break;
      }
      if (m.sources.length > 0xffff) throw new RangeError(`query with ${m.sources.length} sources, the most is 65535`);
      out = new Uint8Array(IGMP_V3_QUERY_MINLEN + IGMP_ADDR_LEN * m.sources.length);
      out[0] = IGMP_HOST_MEMBERSHIP_QUERY;
      out[1] = m.maxResp & 0xff;
      putAddr(out, 4, m.group, 'query group');
      out[8] = (m.sFlag ? 0x08 : 0) | (m.qrv & 0x07);
      out[9] = m.qqic & 0xff;
      out[10] = m.sources.length >> 8;
      out[11] = m.sources.length & 0xff;
      m.sources.forEach((s, i) => putAddr(out, IGMP_V3_QUERY_MINLEN + IGMP_ADDR_LEN * i, s, 'query source'));
      break;
    }
    case 'v1report':
    case 'v2report':
    case 'leave':
      out = new Uint8Array(IGMP_MINLEN);
      out[0] =
        m.kind === 'v1report' ? IGMP_v1_HOST_MEMBERSHIP_REPORT : m.kind === 'v2report' ? IGMP_v2_HOST_MEMBERSHIP_REPORT : IGMP_HOST_LEAVE_MESSAGE;
      putAddr(out, 4, m.group, `${m.kind} group`);
      break;
    case 'v3report': {
      if (m.records.length > 0xffff) throw new RangeError(`v3 report with ${m.records.length} records, the most is 65535`);
      out = packetBytes(v3ReportSize(m.records));
      out[0] = IGMP_v3_HOST_MEMBERSHIP_REPORT;
      out[6] = m.records.length >> 8;
      out[7] = m.records.length & 0xff;
      let p = IGMP_V3_REPORT_HDRLEN;
      // Indexed loops: a general-query answer writes every group's record through here.
      const recs = m.records;
      for (let i = 0; i < recs.length; i++) {
        const r = recs[i];
        const srcs = r.sources;
        const aux = auxPadded(r.aux);
        if (aux > 255 * 4) throw new RangeError(`group record with ${r.aux!.length} bytes of aux data, the most is 1020`);
        if (srcs.length > 0xffff) throw new RangeError(`group record with ${srcs.length} sources, the most is 65535`);
        out[p] = recordTypeCode(r.type);
        out[p + 1] = aux / 4;
        out[p + 2] = srcs.length >> 8;
        out[p + 3] = srcs.length & 0xff;
        putAddr(out, p + 4, r.group, 'record group');
        p += IGMP_V3_GROUP_RECORD_HDRLEN;
        for (let j = 0; j < srcs.length; j++, p += IGMP_ADDR_LEN) putAddr(out, p, srcs[j], 'record source');
        if (r.aux) out.set(r.aux, p);
        p += aux;
      }
      break;
    }
  }
  const sum = inetChecksum(out, 0, out.length);
  out[2] = sum >> 8;
  out[3] = sum & 0xff;
  return out;
}
