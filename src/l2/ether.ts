/**
 * Ethernet: the frame codec, ether_input, ether_output, ether_resolvemulti
 * and ether_ifattach (FreeBSD's net/if_ethersubr.c).
 */
import { ERRNO, kerr } from '../kern/errno.js';
import { smallBytes } from '../kern/bytes.js';
import {
  IFF_BROADCAST,
  IFF_DRV_RUNNING,
  IFF_MULTICAST,
  IFF_PROMISC,
  IFF_SIMPLEX,
  IFF_UP,
  IFT_ETHER,
  IFCAP_VLAN_MTU,
  LINK_STATE_DOWN,
} from '../driver/if_var.js';
import { Dot3Stats, type Ifnet, M_BCAST, M_MCAST, M_PROMISC, if_attach, type Vnet } from '../driver/ifnet.js';
import { AF_INET, AF_INET6, AF_LINK, type Sockaddr, type SockaddrDl, macToString } from '../driver/sockaddr.js';
import { isBroadcast, RxFilter } from './filter.js';
import { bpf_mtap } from '../driver/bpf.js';

export const ETHER_ADDR_LEN = 6;
export const ETHER_TYPE_LEN = 2;
export const ETHER_HDR_LEN = 14;
export const ETHER_CRC_LEN = 4;
export const ETHER_MIN_LEN = 64;
export const ETHERMTU = 1500;
export const ETHERMTU_JUMBO = 9000;
export const ETHER_VLAN_ENCAP_LEN = 4;

export const ETHERTYPE_IP = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
/** IEEE 802 local experimental EtherType, used by tests and benchmarks. */
export const ETHERTYPE_EXP1 = 0x88b5;

/** Int32Array stores are in the platform's byte order; the word-wide header store assumes little-endian. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export const ETHER_BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export interface EtherHeader {
  dst: Uint8Array;
  src: Uint8Array;
  type: number;
}

/** A parsed frame: header plus a view of the payload. */
export interface EtherFrame extends EtherHeader {
  payload: Uint8Array;
}

/** Parse an Ethernet II header; an error string when the frame is too short. */
export function etherParse(buf: Uint8Array, off = 0, len = buf.length - off): EtherFrame | { error: string } {
  if (len < ETHER_HDR_LEN) return { error: `frame of ${len} bytes is shorter than an Ethernet header (${ETHER_HDR_LEN})` };
  return {
    dst: buf.slice(off, off + 6),
    src: buf.slice(off + 6, off + 12),
    type: (buf[off + 12] << 8) | buf[off + 13],
    payload: buf.subarray(off + ETHER_HDR_LEN, off + len),
  };
}

/** Build an Ethernet II frame. Short frames are not padded: the TAP and the kernel accept them. */
export function etherEmit(h: EtherHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ETHER_HDR_LEN + payload.length);
  etherWriteHeader(out, 0, h.dst, 0, h.src, h.type);
  out.set(payload, ETHER_HDR_LEN);
  return out;
}

export function etherWriteHeader(
  out: Uint8Array,
  at: number,
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  type: number,
): void {
  for (let i = 0; i < 6; i++) out[at + i] = dst[dstOff + i];
  for (let i = 0; i < 6; i++) out[at + 6 + i] = src[i];
  out[at + 12] = type >>> 8;
  out[at + 13] = type & 0xff;
}

/** ETHER_MAP_IP_MULTICAST: 01:00:5e + the low 23 bits of the group (written to `m` when given). */
export function etherMapIpMulticast(group: Uint8Array, m = smallBytes(6)): Uint8Array {
  m[0] = 0x01;
  m[1] = 0x00;
  m[2] = 0x5e;
  m[3] = group[1] & 0x7f;
  m[4] = group[2];
  m[5] = group[3];
  return m;
}

/** ETHER_MAP_IPV6_MULTICAST: 33:33 + the low 32 bits of the group (RFC 2464 §7; written to `m` when given). */
export function etherMapIpv6Multicast(group: Uint8Array, m = smallBytes(6)): Uint8Array {
  m[0] = 0x33;
  m[1] = 0x33;
  m[2] = group[12];
  m[3] = group[13];
  m[4] = group[14];
  m[5] = group[15];
  return m;
}

/** Per-interface Ethernet state (struct arpcom / if_l2com). */
export interface EtherCom {
  /** The interface's own MAC (IF_LLADDR). */
  mac: Uint8Array;
  /** The software copy of the receive filter, identical to what the device was given. */
  filter: RxFilter;
}

export function etherCom(ifp: Ifnet): EtherCom {
  return ifp.if_softc as EtherCom;
}

/**
 * ether_ifattach: attach an Ethernet interface with its MAC; installs
 * ether_input/ether_output/ether_resolvemulti as the function members.
 * The driver has set if_softc to an object extending EtherCom.
 */
export function ether_ifattach(vnet: Vnet, ifp: Ifnet, mac: Uint8Array): void {
  if (mac.length !== 6) throw kerr('EINVAL', `${ifp.if_xname}: a MAC address has 6 bytes, got ${mac.length}`);
  if (mac[0] & 1) throw kerr('EINVAL', `${ifp.if_xname}: ${macToString(mac)} is a group address and cannot be an interface's MAC`);
  ifp.if_data.ifi_hdrlen = ETHER_HDR_LEN;
  ifp.if_mtu ||= ETHERMTU;
  ifp.if_flags |= IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
  ifp.if_input = ether_input;
  ifp.if_output = ether_output;
  ifp.if_resolvemulti = ether_resolvemulti;
  ifp.if_linkmib ??= new Dot3Stats();
  if_attach(vnet, ifp, mac);
}

/**
 * ether_input: a frame from the device. Runts and over-long frames are
 * counted as input errors; frames the receive filter refuses never count as
 * received (the filter is the NIC's hardware); the rest are counted and
 * handed to the protocol registered for their EtherType.
 */
export function ether_input(ifp: Ifnet, buf: Uint8Array, off: number, len: number): void {
  // Taps see every frame that arrived, before the receive filter and before any drop.
  if (ifp.if_bpf !== undefined) bpf_mtap(ifp, buf, off, len, 'in');
  const d = ifp.if_data;
  if (len < ETHER_HDR_LEN) {
    d.ifi_ierrors++;
    return;
  }
  const maxlen = ifp.if_mtu + ETHER_HDR_LEN + (ifp.if_capenable & IFCAP_VLAN_MTU ? ETHER_VLAN_ENCAP_LEN : 0);
  if (len > maxlen) {
    d.ifi_ierrors++;
    if (ifp.if_linkmib) ifp.if_linkmib.dot3StatsFrameTooLongs++;
    return;
  }
  const ec = ifp.if_softc as EtherCom;
  if (!ec.filter.accepts(buf, off)) {
    ifp.if_rxfiltered++;
    return;
  }
  d.ifi_ipackets++;
  d.ifi_ibytes += len;
  let mflags = 0;
  if (buf[off] & 1) {
    d.ifi_imcasts++;
    mflags = isBroadcast(buf, off) ? M_BCAST : M_MCAST;
  } else if (ifp.if_flags & IFF_PROMISC) {
    const mac = ec.mac;
    for (let i = 0; i < 6; i++)
      if (buf[off + i] !== mac[i]) {
        mflags = M_PROMISC;
        break;
      }
  }
  if (!(ifp.if_flags & IFF_UP)) return;
  // Frames seen only because of promiscuous mode went to the taps (bpf, above), not to protocols.
  if (mflags === M_PROMISC) return;
  const type = (buf[off + 12] << 8) | buf[off + 13];
  const handler = ifp.if_vnet?.ethertypes.get(type);
  if (!handler) {
    d.ifi_noproto++;
    return;
  }
  handler(ifp, buf, off + ETHER_HDR_LEN, len - ETHER_HDR_LEN, mflags);
}

/** Resolves a unicast protocol address to a MAC (ARP, ND); null means "not yet, the packet is held". */
export type L2Resolver = (ifp: Ifnet, dst: Sockaddr) => Uint8Array | null | number;

/** Per-family unicast resolvers, installed by the inet layer. */
export const l2resolvers = new WeakMap<Vnet, Map<number, L2Resolver>>();

/**
 * ether_output: encapsulate a datagram for `dst` and queue it on if_snd.
 * `dst` is AF_LINK (the MAC is given: AF_UNSPEC-style raw output), or an
 * AF_INET/AF_INET6 address (multicast is mapped; broadcast and unicast are
 * resolved by the protocol's resolver). Returns 0 or an errno number.
 */
export function ether_output(ifp: Ifnet, buf: Uint8Array, off: number, len: number, dst: Sockaddr, etype: number): number {
  if (!(ifp.if_flags & IFF_UP) || !(ifp.if_drv_flags & IFF_DRV_RUNNING) || ifp.if_link_state === LINK_STATE_DOWN)
    return ERRNO.ENETDOWN;
  if (len > ifp.if_mtu) return ERRNO.EMSGSIZE;
  let mac: Uint8Array;
  switch (dst.family) {
    case AF_LINK:
      mac = dst.lladdr;
      break;
    case AF_INET:
      if ((dst.addr[0] & 0xf0) === 0xe0) mac = etherMapIpMulticast(dst.addr, mcastMac);
      else if (dst.addr[0] === 255 && dst.addr[1] === 255 && dst.addr[2] === 255 && dst.addr[3] === 255) mac = ETHER_BROADCAST;
      else {
        const r = resolve(ifp, dst);
        if (typeof r === 'number') return r;
        mac = r;
      }
      etype ||= ETHERTYPE_IP;
      break;
    case AF_INET6:
      if (dst.addr[0] === 0xff) mac = etherMapIpv6Multicast(dst.addr, mcastMac);
      else {
        const r = resolve(ifp, dst);
        if (typeof r === 'number') return r;
        mac = r;
      }
      etype ||= ETHERTYPE_IPV6;
      break;
    default:
      return ERRNO.EAFNOSUPPORT;
  }
  return ether_output_frame(ifp, mac, 0, etype, buf, off, len);
}

/** ether_output's mapped multicast destination: ether_output_frame copies it into the frame at once. */
const mcastMac = new Uint8Array(6);

function resolve(ifp: Ifnet, dst: Sockaddr): Uint8Array | number {
  const r = ifp.if_vnet && l2resolvers.get(ifp.if_vnet)?.get(dst.family);
  if (!r) return ERRNO.EHOSTUNREACH;
  const mac = r(ifp, dst);
  if (mac === null) return 0; // held until resolution completes
  return mac;
}

/**
 * Put one frame on if_snd, built in place in the queue's slot (no
 * intermediate copy), and start the driver. ENOBUFS when the queue is full.
 */
export function ether_output_frame(
  ifp: Ifnet,
  dst: Uint8Array,
  dstOff: number,
  etype: number,
  buf: Uint8Array,
  off: number,
  len: number,
): number {
  const q = ifp.if_snd;
  const at = q.reserve(ETHER_HDR_LEN + len);
  if (at < 0) {
    q.ifq_drops++;
    ifp.if_data.ifi_oqdrops++;
    return ERRNO.ENOBUFS;
  }
  const out = q.buf;
  const src = (ifp.if_softc as EtherCom).mac;
  if (LITTLE_ENDIAN && (at & 3) === 0) {
    // The two addresses as three 32-bit stores (slots start word-aligned):
    // 14 single-byte stores cost more than the rest of this function.
    const w = q.buf32;
    const i = at >> 2;
    w[i] = dst[dstOff] | (dst[dstOff + 1] << 8) | (dst[dstOff + 2] << 16) | (dst[dstOff + 3] << 24);
    w[i + 1] = dst[dstOff + 4] | (dst[dstOff + 5] << 8) | (src[0] << 16) | (src[1] << 24);
    w[i + 2] = src[2] | (src[3] << 8) | (src[4] << 16) | (src[5] << 24);
    out[at + 12] = etype >>> 8;
    out[at + 13] = etype & 0xff;
  } else {
    etherWriteHeader(out, at, dst, dstOff, src, etype);
  }
  copyBytes(out, at + ETHER_HDR_LEN, buf, off, len, q.buf32);
  ifp.if_start(ifp);
  return 0;
}

/**
 * Copy len bytes. This is the one per-frame copy of the forwarding path (the
 * payload into the if_snd slot). On V8 a byte loop costs several ns a byte,
 * and TypedArray.set on a fresh subarray ~100 ns whatever the size; even
 * reading `.buffer` or `.byteOffset` of a typed array costs tens of ns. So
 * when the caller has an Int32Array over the destination (`dst32`, same
 * memory as `dst` from its first byte: IfQueue.buf32), frames up to a few
 * hundred bytes are copied as 32-bit words, provided source and destination
 * share their alignment mod 4. They do in the common case: an Ethernet
 * payload starts 14 bytes into a slot on both sides (receive arena and
 * if_snd).
 */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, off: number, len: number, dst32?: Int32Array): void {
  if (dst32 !== undefined && len >= 16 && len <= 512) {
    const s32 = srcWords(src);
    const s = srcBase + off; // byte position in src's ArrayBuffer
    if (((s ^ at) & 3) === 0) {
      let i = 0;
      while (((s + i) & 3) !== 0) {
        dst[at + i] = src[off + i];
        i++;
      }
      const words = (len - i) >> 2;
      copyWords(dst32, (at + i) >> 2, s32, (s + i) >> 2, words);
      for (i += words << 2; i < len; i++) dst[at + i] = src[off + i];
      return;
    }
  }
  if (len <= 32) {
    for (let i = 0; i < len; i++) dst[at + i] = src[off + i];
  } else {
    dst.set(src.subarray(off, off + len), at);
  }
}

/**
 * Copy n 32-bit words. Eight per loop turn, the rest as 4 + 2 + 1: on V8 a loop turn costs a few ns whatever its body, so a 50-byte
 * payload copied as 12 single-word turns took twice as long as this.
 */
function copyWords(d: Int32Array, dk: number, s: Int32Array<ArrayBufferLike>, sk: number, n: number): void {
  for (; n >= 8; n -= 8, dk += 8, sk += 8) {
    d[dk] = s[sk];
    d[dk + 1] = s[sk + 1];
    d[dk + 2] = s[sk + 2];
    d[dk + 3] = s[sk + 3];
    d[dk + 4] = s[sk + 4];
    d[dk + 5] = s[sk + 5];
    d[dk + 6] = s[sk + 6];
    d[dk + 7] = s[sk + 7];
  }
  if (n & 4) {
    d[dk] = s[sk];
    d[dk + 1] = s[sk + 1];
    d[dk + 2] = s[sk + 2];
    d[dk + 3] = s[sk + 3];
    dk += 4;
    sk += 4;
  }
  if (n & 2) {
    d[dk] = s[sk];
    d[dk + 1] = s[sk + 1];
    dk += 2;
    sk += 2;
  }
  if (n & 1) d[dk] = s[sk];
}

/*
 * Int32Array views of the last two source arrays copyBytes saw (a receive
 * arena is one long-lived Uint8Array, so this hits frame after frame): the
 * view covers the whole ArrayBuffer, and srcBase is the source's byteOffset,
 * both set by srcWords. Datagrams built by the stack are views on shared
 * packet slabs (kern/bytes.ts packetBytes): a new array each time, but on the
 * same ArrayBuffer, whose word view is kept.
 */
let src0: Uint8Array | undefined;
let src0Words: Int32Array<ArrayBufferLike> = new Int32Array(0);
let src0Base = 0;
let src1: Uint8Array | undefined;
let src1Words: Int32Array<ArrayBufferLike> = new Int32Array(0);
let src1Base = 0;
let srcBase = 0;

function srcWords(src: Uint8Array): Int32Array<ArrayBufferLike> {
  if (src !== src0) {
    // Keep the previous entry as the second one (two input devices alternate).
    const s = src1;
    const w = src1Words;
    const b = src1Base;
    src1 = src0;
    src1Words = src0Words;
    src1Base = src0Base;
    src0 = src;
    if (s === src) {
      src0Words = w;
      src0Base = b;
    } else {
      const ab = src.buffer;
      if (src1Words.buffer === ab) src0Words = src1Words;
      else if (w.buffer === ab) src0Words = w;
      else src0Words = new Int32Array(ab, 0, ab.byteLength >> 2);
      src0Base = src.byteOffset;
    }
  }
  srcBase = src0Base;
  return src0Words;
}

/**
 * ether_resolvemulti: the link-layer address a multicast protocol address
 * maps to. A link-layer address must itself be multicast (and maps to
 * nothing further). Anything else is EADDRNOTAVAIL.
 */
export function ether_resolvemulti(ifp: Ifnet, sa: Sockaddr): SockaddrDl | null {
  switch (sa.family) {
    case AF_LINK:
      if (sa.lladdr.length !== 6 || !(sa.lladdr[0] & 1))
        throw kerr('EADDRNOTAVAIL', `${ifp.if_xname}: ${macToString(sa.lladdr)} is not a multicast MAC address`);
      return null;
    case AF_INET:
      if ((sa.addr[0] & 0xf0) !== 0xe0)
        throw kerr('EADDRNOTAVAIL', `${ifp.if_xname}: ${sa.addr.join('.')} is not an IPv4 multicast address`);
      return { family: AF_LINK, index: ifp.if_index, type: IFT_ETHER, name: '', lladdr: etherMapIpMulticast(sa.addr) };
    case AF_INET6:
      if (sa.addr[0] !== 0xff)
        throw kerr('EADDRNOTAVAIL', `${ifp.if_xname}: the address is not an IPv6 multicast address`);
      return { family: AF_LINK, index: ifp.if_index, type: IFT_ETHER, name: '', lladdr: etherMapIpv6Multicast(sa.addr) };
    default:
      throw kerr('EAFNOSUPPORT', `${ifp.if_xname}: address family ${(sa as Sockaddr).family} has no Ethernet mapping`);
  }
}
