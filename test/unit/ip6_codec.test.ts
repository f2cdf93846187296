import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IP6_HDR_LEN,
  IP6_MAX_EXTHDRS,
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_NONE,
  IPPROTO_ROUTING,
  type Ip6Chain,
  type Ip6Parsed,
  type Ip6WalkFailure,
  ip6Emit,
  ip6OptAction,
  ip6Parse,
  ip6WalkExtensions,
  ip6WriteHeader,
} from '../../src/inet/ip6_codec.js';
import { IPPROTO_ICMPV6 } from '../../src/inet/icmp6_codec.js';
import { in6Parse } from '../../src/inet/in6.js';
import { KernError } from '../../src/kern/errno.js';

const UDP = 17;
const A = (t: string) => in6Parse(t)!;
const LL1 = A('fe80::1');
const ALLV2 = A('ff02::16');

/** A datagram from raw extension-header bytes followed by `upper` bytes of payload. */
function datagram(firstNext: number, ext: number[], upper = 8): Uint8Array {
  const payload = Uint8Array.from([...ext, ...new Array(upper).fill(0xaa)]);
  const out = new Uint8Array(IP6_HDR_LEN + payload.length);
  ip6WriteHeader(out, 0, {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: payload.length,
    nextHeader: firstNext,
    hopLimit: 64,
    src: LL1,
    dst: ALLV2,
  });
  out.set(payload, IP6_HDR_LEN);
  return out;
}

function parsed(b: Uint8Array): Ip6Parsed {
  const r = ip6Parse(b);
  if ('error' in r) throw new Error(`unexpected ${r.error}: ${r.detail}`);
  return r;
}

function walk(b: Uint8Array): Ip6Chain | Ip6WalkFailure {
  const p = parsed(b);
  return ip6WalkExtensions(b, p.payloadOff, p.payloadLen, p.hdr.nextHeader);
}

function walkOk(b: Uint8Array): Ip6Chain {
  const r = walk(b);
  if ('error' in r) throw new Error(`unexpected ${r.error}: ${r.detail}`);
  return r;
}

/** An 8-byte options header: next, len 0, then six bytes of options. */
const opts8 = (next: number, six: number[]) => [next, 0, ...six];

describe('ip6Parse', () => {
  it('reads every field of the fixed header (RFC 8200 §3)', () => {
    const b = datagram(UDP, [], 4);
    b[0] = 0x6a; // version 6, traffic class high nibble a
    b[1] = 0xbc; // traffic class low nibble b, flow label high nibble c
    b[2] = 0xde;
    b[3] = 0xf1;
    b[7] = 255;
    const r = parsed(b);
    expect(r.hdr).toEqual({
      trafficClass: 0xab,
      flowLabel: 0xcdef1,
      payloadLength: 4,
      nextHeader: UDP,
      hopLimit: 255,
      src: LL1,
      dst: ALLV2,
    });
    expect(r.payloadOff).toBe(40);
    expect(r.payloadLen).toBe(4);
  });

  it('honours off/len and copies the addresses out of the buffer', () => {
    const d = datagram(UDP, [], 4);
    const buf = new Uint8Array(10 + d.length + 5);
    buf.set(d, 10);
    const r = ip6Parse(buf, 10, d.length) as Ip6Parsed;
    expect(r.payloadOff).toBe(50);
    buf.fill(0);
    expect(r.hdr.src).toEqual(LL1); // not a view of the reused buffer
  });

  it("'tooshort' below 40 bytes", () => {
    expect(ip6Parse(datagram(UDP, [], 0).subarray(0, 39))).toMatchObject({ error: 'tooshort' });
    expect(ip6Parse(new Uint8Array(0))).toMatchObject({ error: 'tooshort' });
  });

  it("'badvers' for any version but 6", () => {
    for (const v of [0, 4, 5, 7, 15]) {
      const b = datagram(UDP, []);
      b[0] = (v << 4) | (b[0] & 0x0f);
      expect(ip6Parse(b)).toMatchObject({ error: 'badvers' });
    }
  });

  it("'truncated' when Payload Length reaches past the buffer; extra bytes are trimmed", () => {
    const b = datagram(UDP, [], 8);
    expect(ip6Parse(b.subarray(0, b.length - 1))).toMatchObject({ error: 'truncated' });
    const padded = new Uint8Array(b.length + 12); // e.g. Ethernet minimum-frame padding
    padded.set(b);
    const r = parsed(padded);
    expect(r.payloadLen).toBe(8);
  });
});

describe('ip6Emit', () => {
  it('builds exactly what an MLD message needs: HBH with Router Alert 0 and PadN', () => {
    const payload = Uint8Array.of(143, 0, 0x12, 0x34, 0, 0, 0, 0);
    const b = ip6Emit({ hopLimit: 1, src: LL1, dst: ALLV2, nextHeader: IPPROTO_ICMPV6, hopByHop: { routerAlert: 0 }, payload });
    expect(Array.from(b.subarray(0, 8))).toEqual([0x60, 0, 0, 0, 0, 16, IPPROTO_HOPOPTS, 1]);
    expect(Array.from(b.subarray(40, 48))).toEqual([58, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]);
    expect(Array.from(b.subarray(48))).toEqual(Array.from(payload));
    const c = walkOk(b);
    expect(c.routerAlert).toBe(0);
    expect(c.upper).toBe(IPPROTO_ICMPV6);
    expect(c.upperOff).toBe(48);
    expect(c.upperLen).toBe(8);
    expect(c.nxtPointer).toBe(40);
    expect(c.headers).toEqual([IPPROTO_HOPOPTS]);
    expect(c.options).toEqual([{ header: IPPROTO_HOPOPTS, type: 5, data: Uint8Array.of(0, 0), pointer: 42 }]);
  });

  it('a Hop-by-Hop header without Router Alert is one PadN', () => {
    const b = ip6Emit({ hopLimit: 1, src: LL1, dst: ALLV2, nextHeader: UDP, hopByHop: {}, payload: new Uint8Array(0) });
    expect(Array.from(b.subarray(40))).toEqual([UDP, 0, 1, 4, 0, 0, 0, 0]);
    const c = walkOk(b);
    expect(c.routerAlert).toBeUndefined();
    expect(c.options).toEqual([]);
  });

  it('refuses fields out of range', () => {
    const ok = { hopLimit: 1, src: LL1, dst: ALLV2, nextHeader: UDP, payload: new Uint8Array(0) };
    expect(() => ip6Emit({ ...ok, hopLimit: 256 })).toThrow(KernError);
    expect(() => ip6Emit({ ...ok, flowLabel: 0x100000 })).toThrow(KernError);
    expect(() => ip6Emit({ ...ok, trafficClass: -1 })).toThrow(KernError);
    expect(() => ip6Emit({ ...ok, src: new Uint8Array(4) })).toThrow(KernError);
    expect(() => ip6Emit({ ...ok, hopByHop: { routerAlert: 0x10000 } })).toThrow(KernError);
    expect(() => ip6Emit({ ...ok, payload: new Uint8Array(65536) })).toThrow(/EMSGSIZE/);
    expect(ip6Emit({ ...ok, payload: new Uint8Array(65535) }).length).toBe(65575);
  });

  it('round-trips through ip6Parse and ip6WalkExtensions', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    // Upper-layer protocols only: an extension header number would be walked into.
    const upper = fc.nat({ max: 255 }).filter((n) => ![0, 43, 44, 60].includes(n));
    fc.assert(
      fc.property(
        fc.record({
          trafficClass: fc.nat({ max: 0xff }),
          flowLabel: fc.nat({ max: 0xfffff }),
          hopLimit: fc.nat({ max: 0xff }),
          src: addr,
          dst: addr,
          nextHeader: upper,
          hopByHop: fc.option(fc.record({ routerAlert: fc.option(fc.nat({ max: 0xffff }), { nil: undefined }) }), {
            nil: undefined,
          }),
          payload: fc.uint8Array({ maxLength: 64 }),
        }),
        (d) => {
          const b = ip6Emit(d);
          const p = parsed(b);
          const ext = d.hopByHop ? 8 : 0;
          expect(p.hdr).toEqual({
            trafficClass: d.trafficClass,
            flowLabel: d.flowLabel,
            payloadLength: ext + d.payload.length,
            nextHeader: d.hopByHop ? IPPROTO_HOPOPTS : d.nextHeader,
            hopLimit: d.hopLimit,
            src: d.src,
            dst: d.dst,
          });
          const c = ip6WalkExtensions(b, p.payloadOff, p.payloadLen, p.hdr.nextHeader) as Ip6Chain;
          expect(c.upper).toBe(d.nextHeader);
          expect(c.routerAlert).toBe(d.hopByHop?.routerAlert);
          expect(b.subarray(c.upperOff, c.upperOff + c.upperLen)).toEqual(d.payload);
        },
      ),
    );
  });

  it('ip6WriteHeader and ip6Parse are inverses on the fixed header', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(
        fc.record({
          trafficClass: fc.nat({ max: 0xff }),
          flowLabel: fc.nat({ max: 0xfffff }),
          payloadLength: fc.nat({ max: 0xffff }),
          nextHeader: fc.nat({ max: 0xff }),
          hopLimit: fc.nat({ max: 0xff }),
          src: addr,
          dst: addr,
        }),
        (h) => {
          const b = new Uint8Array(40 + h.payloadLength);
          ip6WriteHeader(b, 0, h);
          expect(parsed(b).hdr).toEqual(h);
        },
      ),
    );
  });
});

describe('ip6WalkExtensions', () => {
  it('no extension headers: the upper layer right after the fixed header', () => {
    const c = walkOk(datagram(UDP, [], 8));
    expect(c).toMatchObject({ upper: UDP, upperOff: 40, upperLen: 8, nxtPointer: 6, headers: [], options: [] });
  });

  it('follows HBH, Destination Options, Routing (segments left 0) to the upper layer', () => {
    const ext = [
      ...opts8(IPPROTO_DSTOPTS, [0, 0, 0, 0, 0, 0]), // HBH of six Pad1
      ...opts8(IPPROTO_ROUTING, [1, 4, 0, 0, 0, 0]), // DstOpts, one PadN
      ...[UDP, 0, 4, 0, 0, 0, 0, 0], // Routing type 4, segments left 0: ignored (RFC 8200 §4.4)
    ];
    const c = walkOk(datagram(IPPROTO_HOPOPTS, ext, 8));
    expect(c.headers).toEqual([IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING]);
    expect(c.upper).toBe(UDP);
    expect(c.upperOff).toBe(64);
    expect(c.upperLen).toBe(8);
    expect(c.nxtPointer).toBe(56); // the Routing header's Next Header field
  });

  it('longer option headers (hdr ext len > 0)', () => {
    // HBH of 16 bytes: Router Alert 0x1234, PadN filling the rest.
    const ext = [IPPROTO_NONE, 1, 5, 2, 0x12, 0x34, 1, 8, 0, 0, 0, 0, 0, 0, 0, 0];
    const c = walkOk(datagram(IPPROTO_HOPOPTS, ext, 3));
    expect(c.routerAlert).toBe(0x1234);
    expect(c.upper).toBe(IPPROTO_NONE); // RFC 8200 §4.7: whatever follows is ignored
    expect(c.upperOff).toBe(56);
  });

  it("'hbh-not-first': Parameter Problem code 1 at the Next Header that named it", () => {
    const ext = [...opts8(IPPROTO_HOPOPTS, [1, 4, 0, 0, 0, 0]), ...opts8(UDP, [1, 4, 0, 0, 0, 0])];
    expect(walk(datagram(IPPROTO_DSTOPTS, ext))).toMatchObject({ error: 'hbh-not-first', pointer: 40, icmpCode: 1 });
    // A second HBH after a first one is just as wrong.
    expect(walk(datagram(IPPROTO_HOPOPTS, ext))).toMatchObject({ error: 'hbh-not-first', pointer: 40, icmpCode: 1 });
  });

  it("'exthdr-truncated': less than 8 bytes, or a length past the datagram", () => {
    expect(walk(datagram(IPPROTO_HOPOPTS, [UDP, 0, 1, 2, 0, 0], 0))).toMatchObject({ error: 'exthdr-truncated', pointer: 40 });
    expect(walk(datagram(IPPROTO_DSTOPTS, opts8(UDP, [1, 4, 0, 0, 0, 0]).map((x, i) => (i === 1 ? 1 : x)), 4))).toMatchObject({
      error: 'exthdr-truncated',
    });
    expect(walk(datagram(IPPROTO_FRAGMENT, [UDP, 0, 0, 0, 0, 0, 0], 0))).toMatchObject({ error: 'exthdr-truncated' });
    expect(walk(datagram(IPPROTO_ROUTING, [], 0))).toMatchObject({ error: 'exthdr-truncated' });
  });

  it(`'too-many-headers' beyond ${IP6_MAX_EXTHDRS}`, () => {
    const chainOf = (n: number) => {
      const ext: number[] = [];
      for (let i = 0; i < n; i++) ext.push(...opts8(i === n - 1 ? UDP : IPPROTO_DSTOPTS, [1, 4, 0, 0, 0, 0]));
      return datagram(IPPROTO_DSTOPTS, ext);
    };
    expect(walkOk(chainOf(IP6_MAX_EXTHDRS)).headers.length).toBe(IP6_MAX_EXTHDRS);
    expect(walk(chainOf(IP6_MAX_EXTHDRS + 1))).toMatchObject({ error: 'too-many-headers' });
  });

  it('unknown options: the action is in the two high-order bits (RFC 8200 §4.2)', () => {
    expect([0x3e, 0x7e, 0xbe, 0xfe, 0xc2].map(ip6OptAction)).toEqual([
      'skip',
      'discard',
      'discard-icmp',
      'discard-icmp-unicast',
      'discard-icmp-unicast', // Jumbo Payload: taplab does not do jumbograms
    ]);
    const withOpt = (type: number) => datagram(IPPROTO_HOPOPTS, opts8(UDP, [1, 0, type, 2, 0xab, 0xcd]));
    // 00: skipped, reported among the options
    const skip = walkOk(withOpt(0x3e));
    expect(skip.upper).toBe(UDP);
    expect(skip.options).toEqual([{ header: IPPROTO_HOPOPTS, type: 0x3e, data: Uint8Array.of(0xab, 0xcd), pointer: 44 }]);
    // 01: silent discard
    const discard = walk(withOpt(0x7e)) as Ip6WalkFailure;
    expect(discard).toMatchObject({ error: 'unknown-option', action: 'discard', pointer: 44, optType: 0x7e });
    expect(discard.icmpCode).toBeUndefined();
    // 10: discard and Parameter Problem code 2 pointing at the option type
    expect(walk(withOpt(0xbe))).toMatchObject({ error: 'unknown-option', action: 'discard-icmp', pointer: 44, icmpCode: 2 });
    // 11: the same unless the destination was multicast, which the caller checks
    expect(walk(withOpt(0xfe))).toMatchObject({
      error: 'unknown-option',
      action: 'discard-icmp-unicast',
      pointer: 44,
      icmpCode: 2,
    });
  });

  it('the same rules hold in Destination Options, where Router Alert is not known', () => {
    const b = datagram(IPPROTO_DSTOPTS, opts8(UDP, [5, 2, 0, 0, 1, 0]));
    const c = walkOk(b);
    expect(c.routerAlert).toBeUndefined();
    expect(c.options).toEqual([{ header: IPPROTO_DSTOPTS, type: 5, data: Uint8Array.of(0, 0), pointer: 42 }]);
    expect(walk(datagram(IPPROTO_DSTOPTS, opts8(UDP, [0x80, 2, 0, 0, 1, 0])))).toMatchObject({
      error: 'unknown-option',
      pointer: 42,
      icmpCode: 2,
    });
  });

  it("'option-overrun': an option longer than the rest of its header", () => {
    expect(walk(datagram(IPPROTO_HOPOPTS, opts8(UDP, [1, 5, 0, 0, 0, 0])))).toMatchObject({ error: 'option-overrun', pointer: 42 });
    // PadN of 5 bytes, then a lone type byte with no room for its length.
    expect(walk(datagram(IPPROTO_HOPOPTS, opts8(UDP, [1, 3, 0, 0, 0, 0x3e])))).toMatchObject({ error: 'option-overrun', pointer: 47 });
    // Router Alert cut by the header end.
    expect(walk(datagram(IPPROTO_HOPOPTS, opts8(UDP, [0, 0, 0, 5, 2, 0])))).toMatchObject({ error: 'option-overrun', pointer: 45 });
  });

  it("'bad-option-length': Router Alert that is not 2 bytes long", () => {
    expect(walk(datagram(IPPROTO_HOPOPTS, opts8(UDP, [5, 3, 0, 0, 0, 0])))).toMatchObject({
      error: 'bad-option-length',
      pointer: 43,
      icmpCode: 0,
    });
  });

  it('keeps the first of two Router Alerts', () => {
    const ext = [UDP, 1, 5, 2, 0, 1, 5, 2, 0, 2, 1, 4, 0, 0, 0, 0];
    const c = walkOk(datagram(IPPROTO_HOPOPTS, ext));
    expect(c.routerAlert).toBe(1);
    expect(c.options.length).toBe(2);
  });

  it("'bad-routing': unknown Routing type with segments left (RFC 8200 §4.4), type 0 included (RFC 5095)", () => {
    for (const type of [0, 3, 253]) {
      expect(walk(datagram(IPPROTO_ROUTING, [UDP, 0, type, 1, 0, 0, 0, 0]))).toMatchObject({
        error: 'bad-routing',
        pointer: 42,
        icmpCode: 0,
      });
    }
  });

  it('fragments: atomic ones pass (RFC 6946), others stop the walk for reassembly', () => {
    const atomic = walkOk(datagram(IPPROTO_FRAGMENT, [UDP, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]));
    expect(atomic.upper).toBe(UDP);
    expect(atomic.upperOff).toBe(48);
    expect(atomic.fragment).toEqual({ offset: 0, more: false, id: 0xdeadbeef, nextHeader: UDP, headerOff: 40 });

    const first = walkOk(datagram(IPPROTO_HOPOPTS, [...opts8(IPPROTO_FRAGMENT, [1, 4, 0, 0, 0, 0]), UDP, 0, 0, 1, 0, 0, 0, 7]));
    expect(first.upper).toBe(IPPROTO_FRAGMENT);
    expect(first.upperOff).toBe(48);
    expect(first.nxtPointer).toBe(40);
    expect(first.fragment).toEqual({ offset: 0, more: true, id: 7, nextHeader: UDP, headerOff: 48 });

    // Offset 185 units = 1480 bytes, last fragment.
    const last = walkOk(datagram(IPPROTO_FRAGMENT, [UDP, 0, (1480 >> 8) & 0xff, 1480 & 0xf8, 0, 0, 0, 7]));
    expect(last.upper).toBe(IPPROTO_FRAGMENT);
    expect(last.fragment).toMatchObject({ offset: 1480, more: false });
  });
});

describe('never throws on wire input', () => {
  // Bytes that matter to the walk, so random input often reaches deep into it.
  const interesting = fc.oneof(
    fc.constantFrom(0, 1, 2, 4, 5, 43, 44, 58, 59, 60, 0x3e, 0x7e, 0xbe, 0xfe, 0xc2, 0x60, 0xff),
    fc.nat({ max: 255 }),
  );
  const junk = fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.array(interesting, { maxLength: 120 }).map((a) => Uint8Array.from(a)));

  it('ip6Parse returns a header or an error for any bytes', () => {
    fc.assert(
      fc.property(junk, fc.nat(), (b, o) => {
        const off = b.length ? o % b.length : 0;
        const r = ip6Parse(b, off, b.length - off);
        expect(typeof r).toBe('object');
        if (!('error' in r)) expect(r.payloadOff + r.payloadLen).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('ip6WalkExtensions returns a chain or an error for any payload, within bounds', () => {
    fc.assert(
      fc.property(junk, fc.constantFrom(0, 43, 44, 59, 60, 17, 58), (payload, first) => {
        const b = datagram(first, Array.from(payload), 0);
        const r = walk(b);
        expect(typeof r).toBe('object');
        if ('error' in r) {
          expect(typeof r.detail).toBe('string');
          if (r.pointer !== undefined) expect(r.pointer).toBeLessThanOrEqual(b.length);
        } else {
          expect(r.upperOff + r.upperLen).toBe(b.length);
          expect(r.nxtPointer).toBeLessThan(b.length);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
