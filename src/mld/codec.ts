/**
 * MLD wire codec, versions 1 (RFC 2710 §3) and 2 (RFC 9777 §5), pure. MLD
 * messages are ICMPv6 messages (RFC 4443), so their checksum covers the IPv6
 * pseudo-header (RFC 8200 §8.1) and parsing and emitting take the source and
 * destination addresses.
 *
 * Two entry points for parsing, as in icmp6_input: `mldParse` checks length
 * and checksum itself; `mldParseBody` takes a message icmp6Parse already
 * checked. Query versions are told apart by length (RFC 9777 §8.1). Errors
 * are named after the mldstat counters they feed.
 *
 * The codec knows layouts only; link-local source, hop limit 1, Router Alert
 * and what a message means belong to the MLD binding of the core.
 */
import { packetBytes } from '../kern/bytes.js';
import {
  type Icmp6Message,
  MLD_LISTENER_DONE,
  MLD_LISTENER_QUERY,
  MLD_LISTENER_REPORT,
  MLDV2_LISTENER_REPORT,
  icmp6Emit,
  icmp6Parse,
} from '../inet/icmp6_codec.js';
export { toWireRecord } from '../igmp/codec.js';
import { type RecordName, recordTypeCode, auxPadded, decodeFloatCode, decodeQqic, encodeFloatCode, encodeQqic, groupRecordSize, groupReportSize, sourcesThatFit } from '../igmp/codec.js';

export { MLD_LISTENER_DONE, MLD_LISTENER_QUERY, MLD_LISTENER_REPORT, MLDV2_LISTENER_REPORT };
// The record types and names, and QQIC, are those of IGMPv3 (RFC 9777 §5.2.12, §5.1.9).
export {
  ALLOW_NEW_SOURCES,
  BLOCK_OLD_SOURCES,
  CHANGE_TO_EXCLUDE_MODE,
  CHANGE_TO_INCLUDE_MODE,
  MODE_IS_EXCLUDE,
  MODE_IS_INCLUDE,
  decodeQqic,
  encodeQqic,
  recordTypeName,
} from '../igmp/codec.js';

/** An MLDv1 message, and an MLDv2 query without its v2 fields (struct mld_hdr; RFC 2710 §3). */
export const MLD_MINLEN = 24;
/** An MLDv2 query without sources (struct mldv2_query; RFC 9777 §5.1). */
export const MLD_V2_QUERY_MINLEN = 28;
/** Fixed part of an MLDv2 report, before the first record (RFC 9777 §5.2). */
export const MLD_V2_REPORT_HDRLEN = 8;
/** Fixed part of a Multicast Address Record, before its sources (RFC 9777 §5.2.4). */
export const MLD_V2_RECORD_HDRLEN = 20;
/** An IPv6 address in a message. */
export const MLD_ADDR_LEN = 16;

/** Offset of the bytes icmp6Parse calls the body: after type, code and checksum. */
const BODY = 4;

// ---------------------------------------------------------------- float code

/**
 * Maximum Response Code (RFC 9777 §5.1.3) to Maximum Response Delay in
 * milliseconds: below 32768 the code itself, otherwise
 * `(mant | 0x1000) << (exp + 3)` from `1 | exp (3) | mant (12)`.
 */
export function decodeMldMaxRespCode(code: number): number {
  return decodeFloatCode(code, 12);
}

/**
 * Maximum Response Delay in milliseconds to the code whose delay is the
 * largest representable one not above it (rounding down; see
 * encodeFloatCode in src/igmp/codec.ts). Largest delay: 8387584 ms.
 */
export function encodeMldMaxRespCode(ms: number): number {
  return encodeFloatCode(ms, 12);
}

// ---------------------------------------------------------------- messages

/**
 * A Multicast Listener Query of either version. For version 1 `sFlag` is
 * false, `qrv`, `qqic` and `qqiSeconds` are 0 and `sources` is empty.
 */
export interface MldQuery {
  kind: 'query';
  /** Told apart by length (RFC 9777 §8.1). */
  version: 1 | 2;
  /** The Maximum Response field as on the wire: a delay in v1, a code in v2. */
  maxResp: number;
  /** The delay it means, in milliseconds (RFC 2710 §3.4; RFC 9777 §5.1.3). */
  maxRespMs: number;
  /** :: in a general query. */
  group: Uint8Array;
  /** Suppress Router-Side Processing (RFC 9777 §5.1.7). */
  sFlag: boolean;
  /** Querier's Robustness Variable, 0..7 (RFC 9777 §5.1.8). */
  qrv: number;
  /** Querier's Query Interval Code as on the wire (RFC 9777 §5.1.9). */
  qqic: number;
  /** The interval it means, in seconds. */
  qqiSeconds: number;
  /** Sources of a multicast-address-and-source-specific query (RFC 9777 §5.1.11). */
  sources: Uint8Array[];
}

/** MLDv1 Multicast Listener Report (RFC 2710 §3). */
export interface MldV1Report {
  kind: 'v1report';
  group: Uint8Array;
}

/** MLDv1 Multicast Listener Done (RFC 2710 §3). */
export interface MldDone {
  kind: 'done';
  group: Uint8Array;
}

/** A Multicast Address Record of an MLDv2 report (RFC 9777 §5.2.4). */
export interface MldAddressRecord {
  /** MODE_IS_INCLUDE..BLOCK_OLD_SOURCES; other values are kept as received. */
  /** The record type; emit also takes its name ('IS_IN' ... 'BLOCK'). */
  type: number | RecordName;
  group: Uint8Array;
  sources: Uint8Array[];
  /** Auxiliary Data (RFC 9777 §5.2.10), a multiple of 4 bytes; absent when none. */
  aux?: Uint8Array;
}

/** MLDv2 Multicast Listener Report (RFC 9777 §5.2). */
export interface MldV2Report {
  kind: 'v2report';
  records: MldAddressRecord[];
}

export type MldMessage = MldQuery | MldV1Report | MldDone | MldV2Report;

/**
 * Why a message was refused:
 *  - 'tooshort': shorter than its type's fixed part (8 bytes for any ICMPv6
 *    message, 24 for a query or an MLDv1 message), or a v2 query whose Number
 *    of Sources runs past the end;
 *  - 'badsum': the ICMPv6 checksum does not verify (mldParse only);
 *  - 'badquery': a query of 25 to 27 bytes, which is no version (RFC 9777
 *    §8.1: silently ignored);
 *  - 'badreport': an MLDv2 report whose records run past the end;
 *  - 'unknown-type': not an MLD message type.
 */
export type MldParseError = 'tooshort' | 'badsum' | 'badquery' | 'badreport' | 'unknown-type';

export interface MldParseFailure {
  error: MldParseError;
  detail: string;
}

function fail(error: MldParseError, detail: string): MldParseFailure {
  return { error, detail };
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/**
 * Parse an MLD message: `msg` is exactly the ICMPv6 message (the upper-layer
 * bytes of the datagram), sent from `src` to `dst`. Never throws.
 */
export function mldParse(msg: Uint8Array, src: Uint8Array, dst: Uint8Array): MldMessage | MldParseFailure {
  const m = icmp6Parse(msg, src, dst);
  if ('error' in m) return m;
  return mldParseBody(m);
}

/**
 * Parse an ICMPv6 message whose length and checksum icmp6Parse already
 * checked. The Code field is ignored (RFC 2710 §3.2, RFC 9777 §5.1.2), as are
 * octets after the fields a message defines (RFC 9777 §5.1.12, §5.2.11).
 */
export function mldParseBody(m: Icmp6Message): MldMessage | MldParseFailure {
  const b = m.body;
  const len = BODY + b.length;
  switch (m.type) {
    case MLD_LISTENER_QUERY:
      return parseQuery(b, len);
    case MLD_LISTENER_REPORT:
    case MLD_LISTENER_DONE: {
      const name = m.type === MLD_LISTENER_REPORT ? 'MLDv1 report' : 'MLDv1 done';
      if (len < MLD_MINLEN) return fail('tooshort', `${name} of ${len} bytes, the minimum is ${MLD_MINLEN}`);
      const group = b.slice(4, 20);
      return m.type === MLD_LISTENER_REPORT ? { kind: 'v1report', group } : { kind: 'done', group };
    }
    case MLDV2_LISTENER_REPORT:
      return parseV2Report(b, len);
    default:
      return fail('unknown-type', `ICMPv6 type ${m.type} is not an MLD message`);
  }
}

/** RFC 9777 §8.1: 24 bytes is MLDv1, 28 or more MLDv2, anything else no query. Offsets are body-relative. */
function parseQuery(b: Uint8Array, len: number): MldQuery | MldParseFailure {
  if (len < MLD_MINLEN) return fail('tooshort', `query of ${len} bytes, the minimum is ${MLD_MINLEN}`);
  const maxResp = u16(b, 0);
  const group = b.slice(4, 20);
  if (len === MLD_MINLEN)
    return { kind: 'query', version: 1, maxResp, maxRespMs: maxResp, group, sFlag: false, qrv: 0, qqic: 0, qqiSeconds: 0, sources: [] };
  if (len < MLD_V2_QUERY_MINLEN)
    return fail('badquery', `query of ${len} bytes is neither ${MLD_MINLEN} (v1) nor at least ${MLD_V2_QUERY_MINLEN} (v2)`);
  const nsrc = u16(b, 22);
  const need = MLD_V2_QUERY_MINLEN + MLD_ADDR_LEN * nsrc;
  if (need > len) return fail('tooshort', `v2 query with ${nsrc} sources needs ${need} bytes, has ${len}`);
  const sources: Uint8Array[] = [];
  for (let i = 0, p = MLD_V2_QUERY_MINLEN - BODY; i < nsrc; i++, p += MLD_ADDR_LEN) sources.push(b.slice(p, p + MLD_ADDR_LEN));
  const qqic = b[21];
  return {
    kind: 'query',
    version: 2,
    maxResp,
    maxRespMs: decodeMldMaxRespCode(maxResp),
    group,
    sFlag: (b[20] & 0x08) !== 0,
    qrv: b[20] & 0x07,
    qqic,
    qqiSeconds: decodeQqic(qqic),
    sources,
  };
}

/** RFC 9777 §5.2: reserved (2), Nr of Mcast Address Records (2), the records. Offsets are body-relative. */
function parseV2Report(b: Uint8Array, len: number): MldV2Report | MldParseFailure {
  // icmp6Parse guarantees 8 bytes, the fixed part; mldParseBody's caller may not have.
  if (len < MLD_V2_REPORT_HDRLEN) return fail('tooshort', `MLDv2 report of ${len} bytes, the minimum is ${MLD_V2_REPORT_HDRLEN}`);
  const nrec = u16(b, 2);
  const records: MldAddressRecord[] = [];
  let p = MLD_V2_REPORT_HDRLEN - BODY;
  for (let r = 0; r < nrec; r++) {
    if (b.length - p < MLD_V2_RECORD_HDRLEN)
      return fail('badreport', `MLDv2 report: record ${r + 1} of ${nrec} starts past the end of ${len} bytes`);
    const auxLen = b[p + 1] * 4; // in 32-bit words (RFC 9777 §5.2.6)
    const nsrc = u16(b, p + 2);
    const size = MLD_V2_RECORD_HDRLEN + MLD_ADDR_LEN * nsrc + auxLen;
    if (size > b.length - p)
      return fail('badreport', `MLDv2 report: record ${r + 1} of ${nrec} (${nsrc} sources, ${auxLen} bytes of aux data) runs past the end of ${len} bytes`);
    const rec: MldAddressRecord = { type: b[p], group: b.slice(p + 4, p + 20), sources: [] };
    let q = p + MLD_V2_RECORD_HDRLEN;
    for (let i = 0; i < nsrc; i++, q += MLD_ADDR_LEN) rec.sources.push(b.slice(q, q + MLD_ADDR_LEN));
    if (auxLen > 0) rec.aux = b.slice(q, q + auxLen);
    records.push(rec);
    p += size;
  }
  return { kind: 'v2report', records };
}

// ---------------------------------------------------------------- emit

/**
 * Build a query whose derived fields agree with its wire fields. v1: the
 * delay is an integer field, clamped to 0..65535 ms. v2: the codes are
 * computed from the times, rounding down.
 */
export function mldQuery(q: {
  version: 1 | 2;
  group: Uint8Array;
  maxRespMs?: number;
  sFlag?: boolean;
  qrv?: number;
  qqiSeconds?: number;
  sources?: Uint8Array[];
}): MldQuery {
  const group = Uint8Array.from(q.group);
  if (q.version === 1) {
    const ms = Math.min(0xffff, Math.max(0, Math.floor(q.maxRespMs ?? 10000) || 0));
    return { kind: 'query', version: 1, maxResp: ms, maxRespMs: ms, group, sFlag: false, qrv: 0, qqic: 0, qqiSeconds: 0, sources: [] };
  }
  const maxResp = encodeMldMaxRespCode(q.maxRespMs ?? 10000);
  const qqic = encodeQqic(q.qqiSeconds ?? 125);
  return {
    kind: 'query',
    version: 2,
    maxResp,
    maxRespMs: decodeMldMaxRespCode(maxResp),
    group,
    sFlag: q.sFlag ?? false,
    qrv: (q.qrv ?? 2) & 7,
    qqic,
    qqiSeconds: decodeQqic(qqic),
    sources: (q.sources ?? []).map((s) => Uint8Array.from(s)),
  };
}

/** Bytes an address record takes: 20 + 16 per source + its aux data (RFC 9777 §5.2.4). */
export function mldV2RecordSize(rec: { sources: readonly unknown[]; aux?: Uint8Array }): number {
  return groupRecordSize(rec, MLD_V2_RECORD_HDRLEN, MLD_ADDR_LEN);
}

/** Bytes an MLDv2 report with these records takes (the ICMPv6 message): 8 + the records. */
export function mldV2ReportSize(records: readonly { sources: readonly unknown[]; aux?: Uint8Array }[]): number {
  return groupReportSize(records, MLD_V2_REPORT_HDRLEN, MLD_V2_RECORD_HDRLEN, MLD_ADDR_LEN);
}

/** How many sources an MLDv2 address record can carry in `budget` bytes. */
export function mldV2SourcesThatFit(budget: number, auxLen = 0): number {
  return sourcesThatFit(budget, MLD_V2_RECORD_HDRLEN, MLD_ADDR_LEN, auxLen);
}

function putAddr(out: Uint8Array, at: number, a: Uint8Array, what: string): void {
  if (a.length !== MLD_ADDR_LEN) throw new RangeError(`${what}: an IPv6 address is 16 bytes, got ${a.length}`);
  out.set(a, at);
}

/**
 * The ICMPv6 type and body (the bytes after the checksum) of a message, for
 * callers that build the ICMPv6 message themselves. Same rules as mldEmit.
 */
export function mldEmitBody(m: MldMessage): { type: number; body: Uint8Array } {
  switch (m.kind) {
    case 'query': {
      const v2 = m.version === 2;
      if (v2 && m.sources.length > 0xffff) throw new RangeError(`query with ${m.sources.length} sources, the most is 65535`);
      const b = new Uint8Array(v2 ? MLD_V2_QUERY_MINLEN - BODY + MLD_ADDR_LEN * m.sources.length : MLD_MINLEN - BODY);
      b[0] = (m.maxResp >> 8) & 0xff;
      b[1] = m.maxResp & 0xff;
      putAddr(b, 4, m.group, 'query group');
      if (v2) {
        b[20] = (m.sFlag ? 0x08 : 0) | (m.qrv & 0x07);
        b[21] = m.qqic & 0xff;
        b[22] = m.sources.length >> 8;
        b[23] = m.sources.length & 0xff;
        m.sources.forEach((s, i) => putAddr(b, MLD_V2_QUERY_MINLEN - BODY + MLD_ADDR_LEN * i, s, 'query source'));
      }
      return { type: MLD_LISTENER_QUERY, body: b };
    }
    case 'v1report':
    case 'done': {
      const b = new Uint8Array(MLD_MINLEN - BODY);
      putAddr(b, 4, m.group, `${m.kind} group`);
      return { type: m.kind === 'v1report' ? MLD_LISTENER_REPORT : MLD_LISTENER_DONE, body: b };
    }
    case 'v2report': {
      if (m.records.length > 0xffff) throw new RangeError(`MLDv2 report with ${m.records.length} records, the most is 65535`);
      const b = packetBytes(mldV2ReportSize(m.records) - BODY);
      b[2] = m.records.length >> 8;
      b[3] = m.records.length & 0xff;
      let p = MLD_V2_REPORT_HDRLEN - BODY;
      for (const r of m.records) {
        const aux = auxPadded(r.aux);
        if (aux > 255 * 4) throw new RangeError(`address record with ${r.aux!.length} bytes of aux data, the most is 1020`);
        if (r.sources.length > 0xffff) throw new RangeError(`address record with ${r.sources.length} sources, the most is 65535`);
        b[p] = recordTypeCode(r.type);
        b[p + 1] = aux / 4;
        b[p + 2] = r.sources.length >> 8;
        b[p + 3] = r.sources.length & 0xff;
        putAddr(b, p + 4, r.group, 'record group');
        p += MLD_V2_RECORD_HDRLEN;
        for (const s of r.sources) {
          putAddr(b, p, s, 'record source');
          p += MLD_ADDR_LEN;
        }
        if (r.aux) b.set(r.aux, p);
        p += aux;
      }
      return { type: MLDV2_LISTENER_REPORT, body: b };
    }
  }
}

/**
 * Encode a message as an ICMPv6 message from `src` to `dst`, checksum filled
 * in. Wire fields are written as given (`maxResp`, `qqic`; build queries with
 * mldQuery to keep the times in agreement); Code and reserved fields are
 * zero; aux data is padded with zeros to 4 bytes. Throws RangeError for what
 * cannot be encoded (an address that is not 16 bytes, more than 65535
 * sources or records, more than 1020 bytes of aux data).
 */
export function mldEmit(m: MldMessage, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const { type, body } = mldEmitBody(m);
  return icmp6Emit(type, 0, body, src, dst);
}
