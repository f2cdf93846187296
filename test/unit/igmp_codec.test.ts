import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALLOW_NEW_SOURCES,
  BLOCK_OLD_SOURCES,
  CHANGE_TO_EXCLUDE_MODE,
  CHANGE_TO_INCLUDE_MODE,
  IGMP_HOST_LEAVE_MESSAGE,
  IGMP_HOST_MEMBERSHIP_QUERY,
  IGMP_v1_HOST_MEMBERSHIP_REPORT,
  IGMP_v2_HOST_MEMBERSHIP_REPORT,
  IGMP_v3_HOST_MEMBERSHIP_REPORT,
  MODE_IS_EXCLUDE,
  MODE_IS_INCLUDE,
  type IgmpGroupRecord,
  type IgmpMessage,
  decodeFloatCode,
  decodeMaxRespCode,
  decodeQqic,
  encodeFloatCode,
  encodeMaxRespCode,
  encodeQqic,
  igmpEmit,
  igmpParse,
  igmpQuery,
  recordTypeName,
  v3RecordSize,
  v3ReportSize,
  v3SourcesThatFit,
} from '../../src/igmp/codec.js';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16)));
const ip = (s: string) => Uint8Array.from(s.split('.').map(Number));
const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 });

/**
 * Independent reference for the Internet checksum (RFC 1071 §1): add the
 * 16-bit words one bit at a time with end-around carry, then complement.
 * Shares no code with cksum.ts.
 */
function refChecksum(bytes: Uint8Array): number {
  const b = [...bytes];
  if (b.length & 1) b.push(0);
  const acc = new Array<number>(16).fill(0);
  const add = (w: number) => {
    let carry = 0;
    for (let i = 0; i < 16; i++) {
      const s = acc[i] + ((w >> i) & 1) + carry;
      acc[i] = s & 1;
      carry = s >> 1;
    }
    for (let i = 0; carry && i < 16; i++) {
      const s = acc[i] + carry;
      acc[i] = s & 1;
      carry = s >> 1;
    }
  };
  for (let i = 0; i < b.length; i += 2) add((b[i] << 8) | b[i + 1]);
  let v = 0;
  for (let i = 0; i < 16; i++) v |= (acc[i] ^ 1) << i;
  return v;
}

/** What a sender puts in the checksum field: the reference over the message with the field zeroed. */
function senderChecksum(msg: Uint8Array): number {
  const m = Uint8Array.from(msg);
  m[2] = 0;
  m[3] = 0;
  return refChecksum(m);
}

/** A copy of `msg` with a correct checksum, computed by the reference. */
function withSum(msg: Uint8Array): Uint8Array {
  const m = Uint8Array.from(msg);
  const s = senderChecksum(m);
  m[2] = s >> 8;
  m[3] = s & 0xff;
  return m;
}

function ok<T extends object>(r: T): Exclude<T, { error: string }> {
  if ('error' in r) throw new Error(`unexpected ${String(r.error)}: ${String((r as { detail?: string }).detail)}`);
  return r as Exclude<T, { error: string }>;
}

const parseAll = (b: Uint8Array) => igmpParse(b, 0, b.length);

// ---------------------------------------------------------------- float codes

describe('Max Resp Code and QQIC (RFC 9776 §4.1.1, §4.1.7)', () => {
  it('decodes literal codes below 128 and the float form above', () => {
    expect(decodeMaxRespCode(0)).toBe(0);
    expect(decodeMaxRespCode(100)).toBe(100);
    expect(decodeMaxRespCode(127)).toBe(127);
    expect(decodeMaxRespCode(0x80)).toBe(128); // exp 0, mant 0: 16 << 3
    expect(decodeMaxRespCode(0b10001001)).toBe(200); // the RFC 6636 §4.2 example: 20.0 s
    expect(decodeMaxRespCode(0x90)).toBe(256); // exp 1
    expect(decodeMaxRespCode(0xff)).toBe(31 << 10); // 31744: 3174.4 s
    expect(decodeQqic(125)).toBe(125);
    expect(decodeQqic(0xff)).toBe(31744);
  });

  it('is canonical: encode(decode(c)) === c for all 256 codes', () => {
    for (let c = 0; c < 256; c++) {
      expect(encodeMaxRespCode(decodeMaxRespCode(c))).toBe(c);
      expect(encodeQqic(decodeQqic(c))).toBe(c);
    }
  });

  it('decode is strictly increasing', () => {
    for (let c = 1; c < 256; c++) expect(decodeMaxRespCode(c)).toBeGreaterThan(decodeMaxRespCode(c - 1));
  });

  it('rounds down, by less than 1/16 of the value, within the range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 31744 }), (x) => {
        const d = decodeMaxRespCode(encodeMaxRespCode(x));
        expect(d).toBeLessThanOrEqual(x);
        if (x < 128) expect(d).toBe(x);
        else expect(x - d).toBeLessThan(x / 16);
        // and it is the largest code not above x
        const c = encodeMaxRespCode(x);
        if (c < 255) expect(decodeMaxRespCode(c + 1)).toBeGreaterThan(x);
        expect(decodeQqic(encodeQqic(x))).toBe(d);
      }),
    );
  });

  it('clamps what is out of range', () => {
    expect(encodeMaxRespCode(31745)).toBe(255);
    expect(encodeMaxRespCode(1e9)).toBe(255);
    expect(encodeMaxRespCode(Infinity)).toBe(255);
    expect(encodeMaxRespCode(-5)).toBe(0);
    expect(encodeMaxRespCode(NaN)).toBe(0);
    expect(encodeMaxRespCode(127.9)).toBe(127);
    expect(encodeMaxRespCode(135.5)).toBe(0x80); // 128 <= 135.5 < 136
    expect(encodeMaxRespCode(136)).toBe(0x81);
  });

  it('the generic form with mantBits 4 is the 8-bit code', () => {
    for (let c = 0; c < 256; c++) expect(decodeFloatCode(c, 4)).toBe(decodeMaxRespCode(c));
    expect(encodeFloatCode(200, 4)).toBe(0b10001001);
  });
});

describe('record types (RFC 9776 §4.2.12)', () => {
  it('have their RFC values and short names', () => {
    expect([MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE_MODE, CHANGE_TO_EXCLUDE_MODE, ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES]).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    expect([1, 2, 3, 4, 5, 6].map(recordTypeName)).toEqual(['IS_IN', 'IS_EX', 'TO_IN', 'TO_EX', 'ALLOW', 'BLOCK']);
    expect(recordTypeName(0)).toBe('#0');
    expect(recordTypeName(7)).toBe('#7');
  });

  it('message types have the FreeBSD values', () => {
    expect([
      IGMP_HOST_MEMBERSHIP_QUERY,
      IGMP_v1_HOST_MEMBERSHIP_REPORT,
      IGMP_v2_HOST_MEMBERSHIP_REPORT,
      IGMP_HOST_LEAVE_MESSAGE,
      IGMP_v3_HOST_MEMBERSHIP_REPORT,
    ]).toEqual([0x11, 0x12, 0x16, 0x17, 0x22]);
  });
});

// ---------------------------------------------------------------- known vectors

describe('known vectors', () => {
  // IGMPv2 general query, Max Resp Time 10 s: 0x1164 + 0 + 0 + 0 -> ~0x1164 = 0xee9b.
  const v2Query = hex('11 64 ee9b 00000000');
  // IGMPv3 general query, Max Resp Code 100, QRV 2, QQIC 125, no sources:
  // 0x1164 + 0x027d = 0x13e1 -> ~ = 0xec1e.
  const v3Query = hex('11 64 ec1e 00000000 02 7d 0000');
  // IGMPv3 report, one record TO_EX 224.0.0.251 without sources (a join):
  // 0x2200 + 0x0001 + 0x0400 + 0xe000 + 0x00fb = 0x106fc -> 0x06fd -> ~ = 0xf902.
  const v3Join = hex('22 00 f902 0000 0001  04 00 0000 e00000fb');

  /*
   * An IGMPv3 report laid out field by field from RFC 9776 §4.2, two records:
   *   ALLOW 232.1.1.1 with sources 10.0.0.1, 10.0.0.2 and one word of aux data;
   *   BLOCK 239.2.3.4 with source 192.168.1.9.
   */
  const v3Report = (() => {
    const bytes = [
      0x22, 0x00, 0x00, 0x00, // Type, Reserved, Checksum (filled below)
      0x00, 0x00, 0x00, 0x02, // Flags/Reserved, Number of Group Records = 2
      0x05, 0x01, 0x00, 0x02, // Record Type ALLOW, Aux Data Len 1 word, Number of Sources 2
      232, 1, 1, 1, //           Multicast Address
      10, 0, 0, 1, //            Source Address [1]
      10, 0, 0, 2, //            Source Address [2]
      0xde, 0xad, 0xbe, 0xef, // Auxiliary Data
      0x06, 0x00, 0x00, 0x01, // Record Type BLOCK, Aux Data Len 0, Number of Sources 1
      239, 2, 3, 4, //           Multicast Address
      192, 168, 1, 9, //         Source Address [1]
    ];
    const m = Uint8Array.from(bytes);
    const s = refChecksum(m); // over a zero checksum field
    m[2] = s >> 8;
    m[3] = s & 0xff;
    return m;
  })();

  it('the bit-by-bit reference agrees with the hand-computed sums', () => {
    expect(senderChecksum(v2Query)).toBe(0xee9b);
    expect(senderChecksum(v3Query)).toBe(0xec1e);
    expect(senderChecksum(v3Join)).toBe(0xf902);
    expect(refChecksum(v3Report)).toBe(0); // a correct message sums to zero
  });

  it('parses the queries by their version', () => {
    expect(ok(parseAll(v2Query))).toEqual({
      kind: 'query',
      version: 2,
      maxResp: 100,
      maxRespTenths: 100,
      group: ip('0.0.0.0'),
      sFlag: false,
      qrv: 0,
      qqic: 0,
      qqiSeconds: 0,
      sources: [],
    });
    expect(ok(parseAll(v3Query))).toEqual({
      kind: 'query',
      version: 3,
      maxResp: 100,
      maxRespTenths: 100,
      group: ip('0.0.0.0'),
      sFlag: false,
      qrv: 2,
      qqic: 125,
      qqiSeconds: 125,
      sources: [],
    });
  });

  it('parses the reports', () => {
    expect(ok(parseAll(v3Join))).toEqual({ kind: 'v3report', records: [{ type: CHANGE_TO_EXCLUDE_MODE, group: ip('224.0.0.251'), sources: [] }] });
    expect(ok(parseAll(v3Report))).toEqual({
      kind: 'v3report',
      records: [
        { type: ALLOW_NEW_SOURCES, group: ip('232.1.1.1'), sources: [ip('10.0.0.1'), ip('10.0.0.2')], aux: hex('deadbeef') },
        { type: BLOCK_OLD_SOURCES, group: ip('239.2.3.4'), sources: [ip('192.168.1.9')] },
      ],
    });
  });

  it('igmpEmit rebuilds every vector byte for byte', () => {
    for (const v of [v2Query, v3Query, v3Join, v3Report]) expect(igmpEmit(ok(parseAll(v)))).toEqual(v);
  });

  it('igmpQuery builds the same v3 query from times', () => {
    const q = igmpQuery({ version: 3, group: ip('0.0.0.0'), maxRespTenths: 100, qrv: 2, qqiSeconds: 125 });
    expect(igmpEmit(q)).toEqual(v3Query);
  });

  it('v1 and v2 reports and leave', () => {
    const g = ip('239.1.2.3');
    for (const [kind, type] of [
      ['v1report', 0x12],
      ['v2report', 0x16],
      ['leave', 0x17],
    ] as const) {
      const b = igmpEmit({ kind, group: g });
      expect(b.length).toBe(8);
      expect(b[0]).toBe(type);
      expect(b[1]).toBe(0);
      expect(senderChecksum(b)).toBe((b[2] << 8) | b[3]);
      expect(ok(parseAll(b))).toEqual({ kind, group: g });
    }
  });
});

// ---------------------------------------------------------------- versions

describe('query version distinction (RFC 9776 §7.1)', () => {
  it('8 octets with a zero code is v1, taken as 10 s', () => {
    const q = ok(parseAll(withSum(hex('11 00 0000 e0010203'))));
    expect(q).toMatchObject({ kind: 'query', version: 1, maxResp: 0, maxRespTenths: 100, group: ip('224.1.2.3') });
  });

  it('8 octets with a non-zero code is v2, whose field is a plain number even above 127', () => {
    const q = ok(parseAll(withSum(hex('11 c8 0000 00000000'))));
    expect(q).toMatchObject({ kind: 'query', version: 2, maxResp: 200, maxRespTenths: 200 });
  });

  it('12 octets or more is v3, whose code is a float', () => {
    const q = ok(parseAll(withSum(hex('11 89 0000 e0010203 0a 8f 0001 0a000001'))));
    expect(q).toEqual({
      kind: 'query',
      version: 3,
      maxResp: 0x89,
      maxRespTenths: 200,
      group: ip('224.1.2.3'),
      sFlag: true,
      qrv: 2,
      qqic: 0x8f,
      qqiSeconds: 31 << 3,
      sources: [ip('10.0.0.1')],
    });
  });

  it('9 to 11 octets is no query at all', () => {
    for (const n of [9, 10, 11]) {
      const b = withSum(Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x11 : i === 1 ? 100 : 0)));
      expect(parseAll(b)).toMatchObject({ error: 'igps_rcv_badqueries' });
    }
  });

  it('octets past the defined fields are covered by the checksum and otherwise ignored', () => {
    const v3 = withSum(hex('11 64 0000 00000000 02 7d 0000 01020304 05'));
    expect(ok(parseAll(v3))).toMatchObject({ version: 3, sources: [] });
    const rep = withSum(hex('16 00 0000 e0010203 ffff'));
    expect(ok(parseAll(rep))).toEqual({ kind: 'v2report', group: ip('224.1.2.3') });
    const r3 = withSum(hex('22 00 0000 0000 0000 aabbccdd'));
    expect(ok(parseAll(r3))).toEqual({ kind: 'v3report', records: [] });
  });
});

// ---------------------------------------------------------------- errors

describe('error paths', () => {
  it('fewer than 8 octets is tooshort', () => {
    for (let n = 0; n < 8; n++) expect(parseAll(new Uint8Array(n))).toMatchObject({ error: 'igps_rcv_tooshort' });
  });

  it('a checksum that does not verify is badsum, for every type', () => {
    for (const m of [
      hex('11 64 ee9b 00000000'),
      igmpEmit({ kind: 'v1report', group: ip('224.1.1.1') }),
      igmpEmit({ kind: 'v3report', records: [{ type: 1, group: ip('232.0.0.1'), sources: [ip('1.2.3.4')] }] }),
    ]) {
      for (let i = 0; i < m.length; i++) {
        const bad = Uint8Array.from(m);
        bad[i] ^= 0x10;
        expect(parseAll(bad)).toMatchObject({ error: 'igps_rcv_badsum' });
      }
    }
  });

  it('a v3 query whose sources overrun is tooshort', () => {
    const b = withSum(hex('11 64 0000 e0010203 02 7d 0002 0a000001'));
    expect(parseAll(b)).toMatchObject({ error: 'igps_rcv_tooshort' });
  });

  it('a v3 report whose records overrun is badreports', () => {
    // two records announced, one present
    expect(parseAll(withSum(hex('22 00 0000 0000 0002 01 00 0000 e8000001')))).toMatchObject({ error: 'igps_rcv_badreports' });
    // a record header cut short
    expect(parseAll(withSum(hex('22 00 0000 0000 0001 01 00 0000 e800')))).toMatchObject({ error: 'igps_rcv_badreports' });
    // sources overrun
    expect(parseAll(withSum(hex('22 00 0000 0000 0001 01 00 0002 e8000001 0a000001')))).toMatchObject({ error: 'igps_rcv_badreports' });
    // aux data overruns
    expect(parseAll(withSum(hex('22 00 0000 0000 0001 01 02 0000 e8000001 00000000')))).toMatchObject({ error: 'igps_rcv_badreports' });
  });

  it('an unknown type is unknown-type', () => {
    expect(parseAll(withSum(hex('13 00 0000 00000000')))).toMatchObject({ error: 'unknown-type' });
  });

  it('a length past the buffer is cut to the buffer', () => {
    const b = hex('11 64 ee9b 00000000');
    expect(igmpParse(b, 0, 100)).toMatchObject({ kind: 'query', version: 2 });
    expect(igmpParse(b, 1, 100)).toMatchObject({ error: 'igps_rcv_tooshort' });
  });

  it('emit refuses what cannot be encoded', () => {
    expect(() => igmpEmit({ kind: 'leave', group: new Uint8Array(16) })).toThrow(RangeError);
    expect(() => igmpEmit({ kind: 'v3report', records: [{ type: 1, group: ip('232.0.0.1'), sources: [new Uint8Array(3)] }] })).toThrow(
      RangeError,
    );
    expect(() => igmpEmit({ kind: 'v3report', records: [{ type: 1, group: ip('232.0.0.1'), sources: [], aux: new Uint8Array(1024) }] })).toThrow(
      RangeError,
    );
  });
});

// ---------------------------------------------------------------- round trips

const auxArb = fc.option(
  fc.integer({ min: 1, max: 8 }).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
  { nil: undefined },
);
const recordArb: fc.Arbitrary<IgmpGroupRecord> = fc
  .record({ type: fc.integer({ min: 0, max: 255 }), group: addr4, sources: fc.array(addr4, { maxLength: 10 }), aux: auxArb })
  .map((r) => {
    const { aux, ...rest } = r;
    return aux === undefined ? rest : { ...rest, aux };
  });

const messageArb: fc.Arbitrary<IgmpMessage> = fc.oneof(
  fc
    .record({
      version: fc.constantFrom(1 as const, 2 as const, 3 as const),
      group: addr4,
      maxRespTenths: fc.integer({ min: 0, max: 40000 }),
      sFlag: fc.boolean(),
      qrv: fc.integer({ min: 0, max: 7 }),
      qqiSeconds: fc.integer({ min: 0, max: 40000 }),
      sources: fc.array(addr4, { maxLength: 20 }),
    })
    .map((q) => igmpQuery(q)),
  addr4.map((group) => ({ kind: 'v1report' as const, group })),
  addr4.map((group) => ({ kind: 'v2report' as const, group })),
  addr4.map((group) => ({ kind: 'leave' as const, group })),
  fc.array(recordArb, { maxLength: 6 }).map((records) => ({ kind: 'v3report' as const, records })),
);

describe('round trips', () => {
  it('parse(emit(m)) equals m for every kind, at any offset', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(7), fc.nat(7), (m, pre, post) => {
        const b = igmpEmit(m);
        expect(senderChecksum(b)).toBe((b[2] << 8) | b[3]);
        const buf = new Uint8Array(pre + b.length + post).fill(0xa5);
        buf.set(b, pre);
        expect(igmpParse(buf, pre, b.length)).toEqual(m);
        if (m.kind === 'v3report') expect(b.length).toBe(v3ReportSize(m.records));
      }),
    );
  });

  it('emit(parse(b)) equals b for valid messages', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const b = igmpEmit(m);
        expect(igmpEmit(ok(parseAll(b)))).toEqual(b);
      }),
    );
  });
});

// ---------------------------------------------------------------- sizes

describe('report sizes for the packer', () => {
  it('header 8, each record 8 + 4 per source + aux', () => {
    expect(v3ReportSize([])).toBe(8);
    expect(v3RecordSize({ sources: [1, 2, 3] })).toBe(20);
    expect(v3RecordSize({ sources: [], aux: new Uint8Array(8) })).toBe(16);
    expect(v3ReportSize([{ sources: [1] }, { sources: [], aux: new Uint8Array(4) }])).toBe(8 + 12 + 12);
  });

  it('v3SourcesThatFit gives the most sources a budget holds', () => {
    expect(v3SourcesThatFit(7)).toBe(-1);
    expect(v3SourcesThatFit(8)).toBe(0);
    expect(v3SourcesThatFit(11)).toBe(0);
    expect(v3SourcesThatFit(12)).toBe(1);
    expect(v3SourcesThatFit(12, 4)).toBe(0);
    expect(v3SourcesThatFit(1e9)).toBe(65535);
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 3000 }), fc.integer({ min: 0, max: 4 }).map((w) => 4 * w), (budget, aux) => {
        const n = v3SourcesThatFit(budget, aux);
        if (budget < 8 + aux) {
          expect(n).toBe(-1);
          return;
        }
        const a = aux ? new Uint8Array(aux) : undefined;
        expect(v3RecordSize({ sources: new Array(n), aux: a })).toBeLessThanOrEqual(budget);
        expect(v3RecordSize({ sources: new Array(n + 1), aux: a })).toBeGreaterThan(budget);
      }),
    );
    // e.g. an Ethernet MTU less IPv4 with Router Alert (24) and the report header (8)
    expect(v3SourcesThatFit(1500 - 24 - 8)).toBe(365);
  });
});

// ---------------------------------------------------------------- fuzz

describe('wire bytes never throw', () => {
  it('random bytes, offsets and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -4, max: 90 }), fc.integer({ min: -4, max: 90 }), (b, off, len) => {
        const r = igmpParse(b, off, len);
        expect(typeof r).toBe('object');
      }),
      { numRuns: 2000 },
    );
  });

  it('random bodies with a correct checksum parse to an error or to a message that re-encodes', () => {
    const typed = fc
      .tuple(fc.constantFrom(0x11, 0x12, 0x16, 0x17, 0x22, 0x13), fc.uint8Array({ minLength: 7, maxLength: 60 }))
      .map(([t, rest]) => {
        const b = new Uint8Array(1 + rest.length);
        b[0] = t;
        b.set(rest, 1);
        // keep counts small so that some records fit
        if (t === 0x22 || t === 0x11) {
          if (b.length > 6) b[6] = 0;
          if (b.length > 10) b[10] = 0;
        }
        return withSum(b);
      });
    fc.assert(
      fc.property(typed, (b) => {
        const r = parseAll(b);
        if ('error' in r) {
          expect(r.error).not.toBe('igps_rcv_badsum');
          return;
        }
        const again = parseAll(igmpEmit(r));
        expect(again).toEqual(r);
      }),
      { numRuns: 3000 },
    );
  });
});
