/** Malformed IPv4/IPv6 datagrams are counted in the right ipstat/ip6stat fields and dropped, never thrown. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { vlab } from '../helpers/vlab.js';
import { ipEmit } from '../../src/inet/ip_codec.js';
import { inetChecksum } from '../../src/inet/cksum.js';
import { in6Parse } from '../../src/inet/in6.js';
import { ip6Emit } from '../../src/inet/ip6_codec.js';

const HOST_MAC = [2, 0, 0, 0, 0, 1];

function setup() {
  const L = vlab(11);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:00:01' });
  h.inet.v4.addAddress(em0, '192.0.2.1/24');
  L.run(3000);
  const raw = seg.port('raw');
  const send = (etype: number, payload: Uint8Array, dst = HOST_MAC) => {
    const f = new Uint8Array(14 + payload.length);
    f.set(dst, 0);
    f.set([2, 0, 0, 0, 0, 0x99], 6);
    f[12] = etype >> 8;
    f[13] = etype & 0xff;
    f.set(payload, 14);
    raw.transmit(f, f.length, 0, Uint32Array.of(f.length), 1);
    L.run(1);
  };
  return { L, h, em0, send };
}

const v4 = (over: Partial<Parameters<typeof ipEmit>[0]> = {}, payload = new Uint8Array(8)) =>
  ipEmit({ id: 1, ttl: 64, p: 17, src: Uint8Array.of(192, 0, 2, 9), dst: Uint8Array.of(192, 0, 2, 1), ...over }, payload);

function resum(d: Uint8Array): Uint8Array {
  d[10] = d[11] = 0;
  const hl = (d[0] & 15) * 4;
  const s = inetChecksum(d, 0, Math.min(hl, d.length));
  d[10] = s >> 8;
  d[11] = s & 0xff;
  return d;
}

describe('ip_input counts malformed IPv4 in ipstat', () => {
  it('each fault in its own counter', () => {
    const { h, send } = setup();
    const st = h.inet.ipstat;
    send(0x0800, new Uint8Array(19));
    expect(st.ips_toosmall).toBe(1);
    const badv = v4();
    badv[0] = 0x65;
    send(0x0800, resum(badv));
    expect(st.ips_badvers).toBe(1);
    const shorth = v4();
    shorth[0] = 0x44; // 16-byte header
    send(0x0800, shorth);
    expect(st.ips_badhlen).toBe(1);
    const longh = v4();
    longh[0] = 0x4f; // 60-byte header in a 28-byte datagram
    send(0x0800, longh);
    expect(st.ips_badhlen).toBe(2);
    const badsum = v4();
    badsum[10] ^= 0xff;
    send(0x0800, badsum);
    expect(st.ips_badsum).toBe(1);
    const badlen = v4();
    badlen[2] = 0;
    badlen[3] = 10; // total length < header
    send(0x0800, resum(badlen));
    expect(st.ips_badlen).toBe(1);
    const trunc = v4();
    trunc[3] = 200; // claims more than arrived
    send(0x0800, resum(trunc));
    expect(st.ips_tooshort).toBe(1);
    const opt = new Uint8Array(32);
    opt.set(v4().subarray(0, 20));
    opt[0] = 0x46;
    opt[3] = 32;
    opt.set([0x83, 0x09, 0, 0], 20); // option length runs past the header
    send(0x0800, resum(opt));
    expect(st.ips_badoptions).toBe(1);
    const frag = v4();
    frag[6] = 0x20; // MF
    send(0x0800, resum(frag));
    expect(st.ips_fragments).toBe(1);
    expect(st.ips_fragdropped).toBe(1);
    send(0x0800, v4({ p: 99 }));
    expect(st.ips_noproto).toBe(1);
    send(0x0800, v4({ dst: Uint8Array.of(239, 1, 1, 1) }), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(st.ips_notmember).toBe(1);
    send(0x0800, v4({ dst: Uint8Array.of(198, 51, 100, 1) }));
    expect(st.ips_cantforward).toBe(1);
    send(0x0800, v4({ src: Uint8Array.of(127, 0, 0, 1) }));
    expect(st.ips_badaddr).toBe(1);
    expect(st.ips_total).toBe(13);
    expect(st.ips_delivered).toBe(0);
  });
});

describe('ip6_input counts malformed IPv6 in ip6stat and in6_ifstat', () => {
  const ll = in6Parse('fe80::ff:fe00:1')!;
  const peer = in6Parse('fe80::99')!;
  const dgram = (nxt: number, payload: Uint8Array, extra: Partial<Parameters<typeof ip6Emit>[0]> = {}) =>
    ip6Emit({ hopLimit: 64, src: peer, dst: ll, nextHeader: nxt, payload, ...extra });

  it('each fault in its own counter, with Parameter Problem where RFC 8200 asks', () => {
    const { h, em0, send } = setup();
    const st = h.inet.ip6stat;
    const ist = h.inet.v6.info(em0).stat;
    const errs0 = h.inet.icmp6stat.icp6s_outhist[4];
    send(0x86dd, new Uint8Array(30));
    expect(st.ip6s_tooshort).toBe(1);
    const bv = dgram(59, new Uint8Array(0));
    bv[0] = 0x40;
    send(0x86dd, bv);
    expect(st.ip6s_badvers).toBe(1);
    const tr = dgram(59, new Uint8Array(8));
    tr[5] = 100;
    send(0x86dd, tr);
    expect(ist.ifs6_in_truncated).toBe(1);
    // A Hop-by-Hop header after a Destination Options header: parameter problem.
    const dst0 = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0);
    send(0x86dd, dgram(60, Uint8Array.of(...dst0, 59, 0, 1, 4, 0, 0, 0, 0)));
    expect(st.ip6s_badoptions).toBe(1);
    // An unknown option with action 10 (discard and send Parameter Problem).
    send(0x86dd, dgram(0, Uint8Array.of(59, 0, 0x87, 2, 0, 0, 1, 0)));
    expect(st.ip6s_badoptions).toBe(2);
    // An unknown upper-layer protocol.
    send(0x86dd, dgram(253, new Uint8Array(8)));
    expect(ist.ifs6_in_protounknown).toBe(1);
    expect(h.inet.icmp6stat.icp6s_outhist[4] - errs0).toBe(2 + 1);
    expect(ist.ifs6_in_hdrerr).toBe(4);
    expect(st.ip6s_total).toBe(6);
  });

  it('random bytes under either EtherType never throw', () => {
    const { h, send } = setup();
    fc.assert(
      fc.property(fc.constantFrom(0x0800, 0x86dd, 0x0806), fc.uint8Array({ minLength: 0, maxLength: 120 }), (et, bytes) => {
        send(et, bytes);
      }),
      { numRuns: 1500 },
    );
    expect(h.inet.ipstat.ips_total + h.inet.ip6stat.ip6s_total).toBeGreaterThan(0);
  });
});
