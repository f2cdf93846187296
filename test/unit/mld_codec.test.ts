import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALLOW_NEW_SOURCES,
  BLOCK_OLD_SOURCES,
  CHANGE_TO_EXCLUDE_MODE,
  MLDV2_LISTENER_REPORT,
  MLD_LISTENER_DONE,
  MLD_LISTENER_QUERY,
  MLD_LISTENER_REPORT,
  type MldAddressRecord,
  type MldMessage,
  decodeMldMaxRespCode,
  decodeQqic,
  encodeMldMaxRespCode,
  encodeQqic,
  mldEmit,
  mldEmitBody,
  mldParse,
  mldParseBody,
  mldQuery,
  mldV2RecordSize,
  mldV2ReportSize,
  mldV2SourcesThatFit,
  recordTypeName,
} from '../../src/mld/codec.js';
import { in6Parse } from '../../src/inet/in6.js';

const A = (t: string) => in6Parse(t)!;
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16)));
const addr16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

const SRC = A('fe80::1');
const ALL_NODES = A('ff02::1');
const ALL_MLDV2_ROUTERS = A('ff02::16');

/**
 * Independent reference for the ICMPv6 checksum: the RFC 8200 §8.1
 * pseudo-header and the message laid out as bytes and added one bit at a
 * time with end-around carry (RFC 1071 §1), then complemented. Shares no code
 * with cksum.ts.
 */
function refChecksum(src: Uint8Array, dst: Uint8Array, msg: Uint8Array): number {
  const n = msg.length;
  const bytes = [...src, ...dst, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0, 0, 0, 58, ...msg];
  if (bytes.length & 1) bytes.push(0);
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
  for (let i = 0; i < bytes.length; i += 2) add((bytes[i] << 8) | bytes[i + 1]);
  let v = 0;
  for (let i = 0; i < 16; i++) v |= (acc[i] ^ 1) << i;
  return v;
}

function senderChecksum(src: Uint8Array, dst: Uint8Array, msg: Uint8Array): number {
  const m = Uint8Array.from(msg);
  m[2] = 0;
  m[3] = 0;
  return refChecksum(src, dst, m);
}

function withSum(msg: Uint8Array, src = SRC, dst = ALL_NODES): Uint8Array {
  const m = Uint8Array.from(msg);
  const s = senderChecksum(src, dst, m);
  m[2] = s >> 8;
  m[3] = s & 0xff;
  return m;
}

function ok<T extends object>(r: T): Exclude<T, { error: string }> {
  if ('error' in r) throw new Error(`unexpected ${String(r.error)}: ${String((r as { detail?: string }).detail)}`);
  return r as Exclude<T, { error: string }>;
}

// ---------------------------------------------------------------- float codes

describe('Maximum Response Code (RFC 9777 §5.1.3) and QQIC (§5.1.9)', () => {
  it('decodes literal codes below 32768 and the float form above', () => {
    expect(decodeMldMaxRespCode(0)).toBe(0);
    expect(decodeMldMaxRespCode(10000)).toBe(10000);
    expect(decodeMldMaxRespCode(0x7fff)).toBe(32767);
    expect(decodeMldMaxRespCode(0x8000)).toBe(0x1000 << 3); // 32768
    expect(decodeMldMaxRespCode(0x8001)).toBe(0x1001 << 3);
    expect(decodeMldMaxRespCode(0x9000)).toBe(0x1000 << 4);
    expect(decodeMldMaxRespCode(0xffff)).toBe(0x1fff << 10); // 8387584 ms
  });

  it('is canonical: encode(decode(c)) === c for all 65536 codes, and decode increases', () => {
    let prev = -1;
    for (let c = 0; c < 0x10000; c++) {
      const d = decodeMldMaxRespCode(c);
      expect(d > prev).toBe(true);
      prev = d;
      if (encodeMldMaxRespCode(d) !== c) expect(encodeMldMaxRespCode(d)).toBe(c);
    }
  });

  it('rounds down, by less than 1/4096 of the value, within the range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x1fff << 10 }), (x) => {
        const c = encodeMldMaxRespCode(x);
        const d = decodeMldMaxRespCode(c);
        expect(d).toBeLessThanOrEqual(x);
        if (x < 32768) expect(d).toBe(x);
        else expect(x - d).toBeLessThan(x / 4096);
        if (c < 0xffff) expect(decodeMldMaxRespCode(c + 1)).toBeGreaterThan(x);
      }),
    );
    expect(encodeMldMaxRespCode(1e12)).toBe(0xffff);
    expect(encodeMldMaxRespCode(-1)).toBe(0);
  });

  it('QQIC is the IGMP one', () => {
    for (let c = 0; c < 256; c++) expect(encodeQqic(decodeQqic(c))).toBe(c);
    expect(decodeQqic(0x8f)).toBe(31 << 3);
    expect(recordTypeName(CHANGE_TO_EXCLUDE_MODE)).toBe('TO_EX');
  });
});

// ---------------------------------------------------------------- known vectors

describe('known vectors', () => {
  /*
   * MLDv2 report from fe80::1 to ff02::16 joining ff02::fb (one TO_EX record
   * without sources). By hand: pseudo-header fe80 + 0001 + ff02 + 0016 +
   * length 001c + next header 003a, message 8f00 + 0001 + 0400 + ff02 + 00fb:
   * 0x390ed -> 0x90f0 -> ~ = 0x6f0f.
   */
  const join = hex('8f 00 6f0f 0000 0001  04 00 0000 ff0200000000000000000000000000fb');

  /*
   * An MLDv2 report laid out field by field from RFC 9777 §5.2, two records:
   *   ALLOW ff3e::1234 with sources 2001:db8::1, 2001:db8::2 and one word of aux data;
   *   BLOCK ff15::9 with source fd00::9.
   */
  const report = (() => {
    const bytes = [
      0x8f, 0x00, 0x00, 0x00, // Type 143, Reserved, Checksum (filled below)
      0x00, 0x00, 0x00, 0x02, // Reserved, Nr of Mcast Address Records = 2
      0x05, 0x01, 0x00, 0x02, // Record Type ALLOW, Aux Data Len 1, Number of Sources 2
      ...A('ff3e::1234'), //     Multicast Address
      ...A('2001:db8::1'), //    Source Address [1]
      ...A('2001:db8::2'), //    Source Address [2]
      0xca, 0xfe, 0xf0, 0x0d, // Auxiliary Data
      0x06, 0x00, 0x00, 0x01, // Record Type BLOCK, Aux Data Len 0, Number of Sources 1
      ...A('ff15::9'), //        Multicast Address
      ...A('fd00::9'), //        Source Address [1]
    ];
    return withSum(Uint8Array.from(bytes), SRC, ALL_MLDV2_ROUTERS);
  })();

  // MLDv1 general query, Maximum Response Delay 10000 ms (RFC 2710 §3).
  const v1Query = withSum(hex('82 00 0000 2710 0000 00000000000000000000000000000000'));
  // MLDv2 general query: code 10000, S=0, QRV 2, QQIC 125, no sources (RFC 9777 §5.1).
  const v2Query = withSum(hex('82 00 0000 2710 0000 00000000000000000000000000000000 02 7d 0000'));

  it('the bit-by-bit reference agrees with the hand-computed sum', () => {
    expect(senderChecksum(SRC, ALL_MLDV2_ROUTERS, join)).toBe(0x6f0f);
    expect(refChecksum(SRC, ALL_MLDV2_ROUTERS, report)).toBe(0);
  });

  it('parses the reports', () => {
    expect(ok(mldParse(join, SRC, ALL_MLDV2_ROUTERS))).toEqual({
      kind: 'v2report',
      records: [{ type: CHANGE_TO_EXCLUDE_MODE, group: A('ff02::fb'), sources: [] }],
    });
    expect(ok(mldParse(report, SRC, ALL_MLDV2_ROUTERS))).toEqual({
      kind: 'v2report',
      records: [
        { type: ALLOW_NEW_SOURCES, group: A('ff3e::1234'), sources: [A('2001:db8::1'), A('2001:db8::2')], aux: hex('cafef00d') },
        { type: BLOCK_OLD_SOURCES, group: A('ff15::9'), sources: [A('fd00::9')] },
      ],
    });
  });

  it('parses the queries by length (RFC 9777 §8.1)', () => {
    expect(ok(mldParse(v1Query, SRC, ALL_NODES))).toEqual({
      kind: 'query',
      version: 1,
      maxResp: 10000,
      maxRespMs: 10000,
      group: A('::'),
      sFlag: false,
      qrv: 0,
      qqic: 0,
      qqiSeconds: 0,
      sources: [],
    });
    expect(ok(mldParse(v2Query, SRC, ALL_NODES))).toEqual({
      kind: 'query',
      version: 2,
      maxResp: 10000,
      maxRespMs: 10000,
      group: A('::'),
      sFlag: false,
      qrv: 2,
      qqic: 125,
      qqiSeconds: 125,
      sources: [],
    });
  });

  it('mldEmit rebuilds every vector byte for byte', () => {
    for (const [v, dst] of [
      [join, ALL_MLDV2_ROUTERS],
      [report, ALL_MLDV2_ROUTERS],
      [v1Query, ALL_NODES],
      [v2Query, ALL_NODES],
    ] as const)
      expect(mldEmit(ok(mldParse(v, SRC, dst)), SRC, dst)).toEqual(v);
    expect(mldEmit(mldQuery({ version: 2, group: A('::'), maxRespMs: 10000, qrv: 2, qqiSeconds: 125 }), SRC, ALL_NODES)).toEqual(v2Query);
  });

  it('MLDv1 report and done', () => {
    const g = A('ff05::101');
    for (const [kind, type] of [
      ['v1report', MLD_LISTENER_REPORT],
      ['done', MLD_LISTENER_DONE],
    ] as const) {
      const b = mldEmit({ kind, group: g }, SRC, A('ff02::2'));
      expect(b.length).toBe(24);
      expect(b[0]).toBe(type);
      expect(senderChecksum(SRC, A('ff02::2'), b)).toBe((b[2] << 8) | b[3]);
      expect(ok(mldParse(b, SRC, A('ff02::2')))).toEqual({ kind, group: g });
    }
    expect([MLD_LISTENER_QUERY, MLD_LISTENER_REPORT, MLD_LISTENER_DONE, MLDV2_LISTENER_REPORT]).toEqual([130, 131, 132, 143]);
  });
});

// ---------------------------------------------------------------- versions and errors

describe('query version distinction and error paths', () => {
  it('24 octets is v1, whose delay is a plain number even at 32768 and above', () => {
    const q = ok(mldParse(withSum(hex('82 00 0000 9000 0000 ff020000000000000000000000000001')), SRC, ALL_NODES));
    expect(q).toMatchObject({ version: 1, maxResp: 0x9000, maxRespMs: 0x9000, group: A('ff02::1') });
  });

  it('28 octets or more is v2, whose code is a float', () => {
    const q = ok(mldParse(withSum(hex(`82 00 0000 9000 0000 ff020000000000000000000000000001 0f 8f 0001 ${'20010db8'.padEnd(32, '0')}`)), SRC, ALL_NODES));
    expect(q).toEqual({
      kind: 'query',
      version: 2,
      maxResp: 0x9000,
      maxRespMs: 0x1000 << 4,
      group: A('ff02::1'),
      sFlag: true,
      qrv: 7,
      qqic: 0x8f,
      qqiSeconds: 248,
      sources: [A('2001:db8::')],
    });
  });

  it('25 to 27 octets is badquery; under 24 is tooshort', () => {
    for (const n of [25, 26, 27]) {
      const b = withSum(Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 130 : 0)));
      expect(mldParse(b, SRC, ALL_NODES)).toMatchObject({ error: 'badquery' });
    }
    for (let n = 0; n < 24; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 130 : 0));
      expect(mldParse(n >= 4 ? withSum(b) : b, SRC, ALL_NODES)).toMatchObject({ error: 'tooshort' });
    }
  });

  it('MLDv1 report and done under 24 octets are tooshort', () => {
    for (const t of [131, 132])
      for (const n of [8, 16, 23]) {
        const b = withSum(Uint8Array.from({ length: n }, (_, i) => (i === 0 ? t : 0)));
        expect(mldParse(b, SRC, ALL_NODES)).toMatchObject({ error: 'tooshort' });
      }
  });

  it('a v2 query whose sources overrun is tooshort', () => {
    const b = withSum(hex(`82 00 0000 2710 0000 ${'0'.repeat(32)} 02 7d 0002 ${'1'.repeat(32)}`));
    expect(mldParse(b, SRC, ALL_NODES)).toMatchObject({ error: 'tooshort' });
  });

  it('an MLDv2 report whose records overrun is badreport', () => {
    const g = 'ff0e0000000000000000000000000001';
    const s = '20010db8000000000000000000000001';
    for (const m of [
      `8f 00 0000 0000 0002 01 00 0000 ${g}`, // two announced, one present
      `8f 00 0000 0000 0001 01 00 0000 ff0e`, // record header cut short
      `8f 00 0000 0000 0001 01 00 0002 ${g} ${s}`, // sources overrun
      `8f 00 0000 0000 0001 01 02 0000 ${g} 00000000`, // aux overruns
    ])
      expect(mldParse(withSum(hex(m), SRC, ALL_MLDV2_ROUTERS), SRC, ALL_MLDV2_ROUTERS)).toMatchObject({ error: 'badreport' });
  });

  it('the checksum covers the pseudo-header and every byte', () => {
    const b = mldEmit({ kind: 'v2report', records: [{ type: 1, group: A('ff3e::1'), sources: [A('2001:db8::7')] }] }, SRC, ALL_MLDV2_ROUTERS);
    expect(mldParse(b, SRC, ALL_NODES)).toMatchObject({ error: 'badsum' });
    expect(mldParse(b, A('fe80::2'), ALL_MLDV2_ROUTERS)).toMatchObject({ error: 'badsum' });
    for (let i = 0; i < b.length; i++) {
      const bad = Uint8Array.from(b);
      bad[i] ^= 0x01;
      expect(mldParse(bad, SRC, ALL_MLDV2_ROUTERS)).toMatchObject({ error: 'badsum' });
    }
  });

  it('other ICMPv6 types are unknown-type', () => {
    expect(mldParse(withSum(hex('80 00 0000 00010001')), SRC, ALL_NODES)).toMatchObject({ error: 'unknown-type' });
  });

  it('mldParseBody checks the fixed part of a report itself', () => {
    expect(mldParseBody({ type: 143, code: 0, body: new Uint8Array(2) })).toMatchObject({ error: 'tooshort' });
    expect(mldParseBody({ type: 143, code: 0, body: new Uint8Array(4) })).toEqual({ kind: 'v2report', records: [] });
  });

  it('the code field and trailing octets are ignored', () => {
    const b = withSum(hex(`82 07 0000 2710 0000 ${'0'.repeat(32)} 02 7d 0000 aabbccdd`));
    expect(ok(mldParse(b, SRC, ALL_NODES))).toMatchObject({ version: 2, sources: [] });
  });

  it('emit refuses what cannot be encoded', () => {
    expect(() => mldEmit({ kind: 'done', group: new Uint8Array(4) }, SRC, ALL_NODES)).toThrow(RangeError);
    expect(() => mldEmitBody({ kind: 'v2report', records: [{ type: 1, group: A('ff3e::1'), sources: [], aux: new Uint8Array(1024) }] })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------- round trips

const auxArb = fc.option(
  fc.integer({ min: 1, max: 8 }).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
  { nil: undefined },
);
const recordArb: fc.Arbitrary<MldAddressRecord> = fc
  .record({ type: fc.integer({ min: 0, max: 255 }), group: addr16, sources: fc.array(addr16, { maxLength: 8 }), aux: auxArb })
  .map((r) => {
    const { aux, ...rest } = r;
    return aux === undefined ? rest : { ...rest, aux };
  });

const messageArb: fc.Arbitrary<MldMessage> = fc.oneof(
  fc
    .record({
      version: fc.constantFrom(1 as const, 2 as const),
      group: addr16,
      maxRespMs: fc.integer({ min: 0, max: 9_000_000 }),
      sFlag: fc.boolean(),
      qrv: fc.integer({ min: 0, max: 7 }),
      qqiSeconds: fc.integer({ min: 0, max: 40000 }),
      sources: fc.array(addr16, { maxLength: 12 }),
    })
    .map((q) => mldQuery(q)),
  addr16.map((group) => ({ kind: 'v1report' as const, group })),
  addr16.map((group) => ({ kind: 'done' as const, group })),
  fc.array(recordArb, { maxLength: 5 }).map((records) => ({ kind: 'v2report' as const, records })),
);

describe('round trips', () => {
  it('parse(emit(m)) equals m, and emit(parse(b)) equals b, for every kind', () => {
    fc.assert(
      fc.property(messageArb, addr16, addr16, (m, src, dst) => {
        const b = mldEmit(m, src, dst);
        expect(senderChecksum(src, dst, b)).toBe((b[2] << 8) | b[3]);
        const p = ok(mldParse(b, src, dst));
        expect(p).toEqual(m);
        expect(mldEmit(p, src, dst)).toEqual(b);
        if (m.kind === 'v2report') expect(b.length).toBe(mldV2ReportSize(m.records));
      }),
    );
  });
});

describe('report sizes for the packer', () => {
  it('header 8, each record 20 + 16 per source + aux', () => {
    expect(mldV2ReportSize([])).toBe(8);
    expect(mldV2RecordSize({ sources: [1, 2] })).toBe(52);
    expect(mldV2RecordSize({ sources: [], aux: new Uint8Array(4) })).toBe(24);
    expect(mldV2SourcesThatFit(19)).toBe(-1);
    expect(mldV2SourcesThatFit(20)).toBe(0);
    expect(mldV2SourcesThatFit(36)).toBe(1);
    expect(mldV2SourcesThatFit(36, 4)).toBe(0);
    // IPv6 minimum MTU less IPv6 (40), hop-by-hop with Router Alert (8), report header (8)
    expect(mldV2SourcesThatFit(1280 - 40 - 8 - 8)).toBe(75);
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 3000 }), fc.integer({ min: 0, max: 4 }).map((w) => 4 * w), (budget, aux) => {
        const n = mldV2SourcesThatFit(budget, aux);
        const a = aux ? new Uint8Array(aux) : undefined;
        if (budget < 20 + aux) {
          expect(n).toBe(-1);
          return;
        }
        expect(mldV2RecordSize({ sources: new Array(n), aux: a })).toBeLessThanOrEqual(budget);
        expect(mldV2RecordSize({ sources: new Array(n + 1), aux: a })).toBeGreaterThan(budget);
      }),
    );
  });
});

// ---------------------------------------------------------------- fuzz

describe('wire bytes never throw', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), addr16, addr16, (b, src, dst) => {
        expect(typeof mldParse(b, src, dst)).toBe('object');
      }),
      { numRuns: 2000 },
    );
  });

  it('random bodies with a correct checksum parse to an error or to a message that re-encodes', () => {
    const typed = fc
      .tuple(fc.constantFrom(130, 131, 132, 143, 128), fc.uint8Array({ minLength: 3, maxLength: 110 }))
      .map(([t, rest]) => {
        const b = new Uint8Array(1 + rest.length);
        b[0] = t;
        b.set(rest, 1);
        if (t === 143 && b.length > 6) b[6] = 0; // keep record counts small
        if (t === 130 && b.length > 26) b[26] = 0; // and source counts
        return b.length >= 4 ? withSum(b) : b;
      });
    fc.assert(
      fc.property(typed, (b) => {
        const r = mldParse(b, SRC, ALL_NODES);
        if ('error' in r) {
          if (b.length >= 8) expect(r.error).not.toBe('badsum');
          return;
        }
        expect(mldParse(mldEmit(r, SRC, ALL_NODES), SRC, ALL_NODES)).toEqual(r);
      }),
      { numRuns: 3000 },
    );
  });

  it('mldParseBody on arbitrary bodies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 100 }), (type, body) => {
        expect(typeof mldParseBody({ type, code: 0, body })).toBe('object');
      }),
    );
  });
});
