/**
 * UDP (RFC 768; FreeBSD's udp_usrreq.c): the header and checksum, the
 * table of bound sockets, input demultiplexing with the multicast socket
 * filters applied per socket (BSD delivers a group's datagrams only to
 * sockets that joined it on the arrival interface), port-unreachable for
 * unicast to a closed port, and output for IPv4 and IPv6.
 */
import { ERRNO, kerr, KernError } from '../kern/errno.js';
import { M_BCAST, M_MCAST, type Ifnet } from '../driver/ifnet.js';
import { AF_INET } from '../driver/sockaddr.js';
import { inetChecksum, pseudoHeaderSum4, pseudoHeaderSum6 } from './cksum.js';
import { inToString } from './in.js';
import { in6ToString } from './in6.js';
import { IPPROTO_UDP, type IpHeader } from './ip_codec.js';
import { ICMP_UNREACH, ICMP_UNREACH_PORT } from './icmp.js';
import type { Inet } from './inet.js';
import type { Datagram, UdpSocket } from './socket.js';

export const UDP_HDRLEN = 8;
const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_LAST = 65535;

export interface UdpHeader {
  sport: number;
  dport: number;
  len: number;
  sum: number;
}

export type UdpParseError = 'udps_hdrops' | 'udps_badlen' | 'udps_badsum' | 'udps_nosum';

/** Parse and verify a UDP datagram; `pseudo` is the pseudo-header sum (its length field is the UDP length). */
export function udpParse(
  buf: Uint8Array,
  off: number,
  len: number,
  pseudo: (udpLen: number) => number,
  checksumRequired: boolean,
): { hdr: UdpHeader; dataOff: number; dataLen: number; nosum: boolean } | { error: UdpParseError } {
  if (len < UDP_HDRLEN) return { error: 'udps_hdrops' };
  const ulen = (buf[off + 4] << 8) | buf[off + 5];
  if (ulen < UDP_HDRLEN || ulen > len) return { error: 'udps_badlen' };
  const sum = (buf[off + 6] << 8) | buf[off + 7];
  const nosum = sum === 0;
  // RFC 8200 §8.1: IPv6 receivers discard a zero UDP checksum; FreeBSD's udp6_input counts it in udps_nosum.
  if (nosum && checksumRequired) return { error: 'udps_nosum' };
  if (!nosum && inetChecksum(buf, off, ulen, pseudo(ulen)) !== 0) return { error: 'udps_badsum' };
  return {
    hdr: { sport: (buf[off] << 8) | buf[off + 1], dport: (buf[off + 2] << 8) | buf[off + 3], len: ulen, sum },
    dataOff: off + UDP_HDRLEN,
    dataLen: ulen - UDP_HDRLEN,
    nosum,
  };
}

/** Header + data with the checksum over `pseudo` (0 becomes 0xffff, RFC 768). */
export function udpEmit(sport: number, dport: number, data: Uint8Array, pseudo: (udpLen: number) => number): Uint8Array {
  const out = new Uint8Array(UDP_HDRLEN + data.length);
  out[0] = sport >> 8;
  out[1] = sport & 0xff;
  out[2] = dport >> 8;
  out[3] = dport & 0xff;
  out[4] = out.length >> 8;
  out[5] = out.length & 0xff;
  out.set(data, UDP_HDRLEN);
  let sum = inetChecksum(out, 0, out.length, pseudo(out.length));
  if (sum === 0) sum = 0xffff;
  out[6] = sum >> 8;
  out[7] = sum & 0xff;
  return out;
}

export class Udp {
  /** Bound sockets by local port. */
  private readonly byPort = new Map<number, UdpSocket[]>();
  private nextEphemeral: number;

  constructor(private readonly inet: Inet) {
    this.nextEphemeral = EPHEMERAL_FIRST + inet.host.random.below(EPHEMERAL_LAST - EPHEMERAL_FIRST);
  }

  sockets(): UdpSocket[] {
    return [...this.byPort.values()].flat();
  }

  ephemeralPort(so: UdpSocket): number {
    for (let i = 0; i <= EPHEMERAL_LAST - EPHEMERAL_FIRST; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1;
      if (!this.byPort.get(p)?.some((s) => s.family === so.family)) return p;
    }
    throw kerr('EADDRNOTAVAIL', 'bind: no ephemeral UDP port is free');
  }

  /** @internal in_pcbbind: refuses a clash unless every socket on the address and port asked for reuse. */
  bind(so: UdpSocket): void {
    const list = this.byPort.get(so.lport) ?? [];
    const clash = list.find((s) => s.family === so.family && s.laddr.every((b, i) => b === so.laddr[i]));
    if (clash && !(clash.reuse && so.reuse)) {
      const port = so.lport;
      so.lport = 0;
      throw kerr('EADDRINUSE', `bind: ${so.ops.format(so.laddr)} port ${port} is in use (both sockets need reuse to share it)`);
    }
    list.push(so);
    this.byPort.set(so.lport, list);
  }

  unbind(so: UdpSocket): void {
    const list = this.byPort.get(so.lport);
    if (!list) return;
    const rest = list.filter((s) => s !== so);
    if (rest.length) this.byPort.set(so.lport, rest);
    else this.byPort.delete(so.lport);
  }

  /** udp_input for IPv4 */
  input4(ifp: Ifnet, ip: IpHeader, buf: Uint8Array, off: number, len: number, mflags: number): void {
    const st = this.inet.udpstat;
    st.udps_ipackets++;
    const r = udpParse(buf, off, len, (ulen) => pseudoHeaderSum4(ip.src, ip.dst, ulen, IPPROTO_UDP), false);
    if ('error' in r) {
      st[r.error]++;
      return;
    }
    if (r.nosum) st.udps_nosum++;
    const delivered = this.demux(ifp, ip.src, ip.dst, r.hdr, buf.subarray(r.dataOff, r.dataOff + r.dataLen), mflags, inToString);
    if (!delivered && !(mflags & (M_BCAST | M_MCAST)))
      this.inet.icmp.error(ip, buf.subarray(off - ip.hl, off + len), ICMP_UNREACH, ICMP_UNREACH_PORT, mflags);
  }

  /** udp6_input; returns false when no socket took a unicast datagram (the caller answers port unreachable). */
  input6(ifp: Ifnet, src: Uint8Array, dst: Uint8Array, buf: Uint8Array, off: number, len: number, mflags: number): boolean {
    const st = this.inet.udpstat;
    st.udps_ipackets++;
    const r = udpParse(buf, off, len, (ulen) => pseudoHeaderSum6(src, dst, ulen, IPPROTO_UDP), true);
    if ('error' in r) {
      st[r.error]++;
      return true;
    }
    const delivered = this.demux(ifp, src, dst, r.hdr, buf.subarray(r.dataOff, r.dataOff + r.dataLen), mflags, (a) => in6ToString(a));
    return delivered || (mflags & M_MCAST) !== 0;
  }

  private demux(
    ifp: Ifnet,
    src: Uint8Array,
    dst: Uint8Array,
    h: UdpHeader,
    data: Uint8Array,
    mflags: number,
    fmt: (a: Uint8Array) => string,
  ): boolean {
    const st = this.inet.udpstat;
    const fam = src.length === 4 ? 'inet' : 'inet6';
    const candidates = (this.byPort.get(h.dport) ?? []).filter((s) => s.family === fam);
    const d = (): Datagram => ({
      data: Uint8Array.from(data),
      src: fmt(src),
      srcPort: h.sport,
      dst: fmt(dst),
      dstPort: h.dport,
      ifindex: ifp.if_index,
      ifname: ifp.if_xname,
    });
    const wild = (s: UdpSocket) => s.laddr.every((b) => b === 0);
    const same = (s: UdpSocket) => s.laddr.every((b, i) => b === dst[i]);
    if (mflags & (M_BCAST | M_MCAST)) {
      // Every matching socket gets a copy (SO_REUSEPORT receivers of a group).
      let took = false;
      let matched = false;
      for (const s of candidates) {
        if (!wild(s) && !same(s)) continue;
        matched = true;
        if (mflags & M_MCAST) {
          const v = s.multiFilter(ifp, dst, src);
          if (v === 'notgmember') {
            if (fam === 'inet') this.inet.ipstat.ips_notmember++;
            else this.inet.ip6stat.ip6s_notmember++;
            continue;
          }
          if (v === 'notsmember') {
            st.udps_filtermcast++;
            continue;
          }
        }
        if (s.deliver(d())) took = true;
        else st.udps_fullsock++;
      }
      if (!matched) {
        st.udps_noport++;
        if (mflags & M_MCAST) st.udps_noportmcast++;
        else st.udps_noportbcast++;
      }
      return took;
    }
    const s = candidates.find(same) ?? candidates.find(wild);
    if (!s) {
      st.udps_noport++;
      return false;
    }
    if (!s.deliver(d())) st.udps_fullsock++;
    return true;
  }

  /** udp_output: returns undefined or the error to throw at the caller. */
  output(so: UdpSocket, data: Uint8Array, dst: Uint8Array, dport: number, zone?: string): KernError | undefined {
    const where = `send to ${so.ops.format(dst)} port ${dport}`;
    if (data.length > 65535 - UDP_HDRLEN - 20) return kerr('EMSGSIZE', `${where}: ${data.length} bytes is more than a UDP datagram holds`);
    let err: number;
    if (so.ops.af === AF_INET) {
      const v4 = this.inet.v4;
      const mcast = (dst[0] & 0xf0) === 0xe0;
      const ifp = mcast ? (so.mopts.ifp ?? v4.defaultMulticastIf(dst)) : undefined;
      const src = !so.laddr.every((b) => b === 0) && !(so.laddr[0] >= 224) ? so.laddr : ifp ? v4.primaryAddress(ifp) : this.srcFor4(dst);
      if (!src) return kerr('EADDRNOTAVAIL', `${where}: no source address to send from (is an IPv4 address configured?)`);
      const pkt = udpEmit(so.lport, dport, data, (ulen) => pseudoHeaderSum4(src, dst, ulen, IPPROTO_UDP));
      err = v4.output(pkt, { p: IPPROTO_UDP, src, dst, ifp, mttl: so.mopts.ttl, loop: so.mopts.loop });
    } else {
      const r = this.inet.v6.udpOutput(so, data, dst, dport, zone);
      if (r instanceof KernError) return r;
      err = r;
    }
    if (err) return kerr(errName(err), `${where}: ${errText(err)}`);
    this.inet.udpstat.udps_opackets++;
    return undefined;
  }

  private srcFor4(dst: Uint8Array): Uint8Array | undefined {
    const ia = this.inet.v4.ifaOf(dst);
    if (ia) return ia.addr;
    const r = this.inet.v4.lookup(dst);
    return r ? this.inet.v4.primaryAddress(r.ifp) : undefined;
  }
}

function errName(n: number): 'ENETUNREACH' | 'ENETDOWN' | 'EMSGSIZE' | 'ENOBUFS' | 'EADDRNOTAVAIL' | 'EHOSTUNREACH' | 'EIO' {
  const e = Object.entries(ERRNO).find(([, v]) => v === n)?.[0];
  return (e ?? 'EIO') as ReturnType<typeof errName>;
}

function errText(n: number): string {
  switch (n) {
    case ERRNO.ENETUNREACH:
      return 'no route to the destination';
    case ERRNO.ENETDOWN:
      return 'the interface is down';
    case ERRNO.EMSGSIZE:
      return 'the datagram is larger than the interface MTU (taplab does not fragment)';
    case ERRNO.ENOBUFS:
      return "the interface's send queue is full";
    case ERRNO.EADDRNOTAVAIL:
      return 'no source address';
    default:
      return 'the datagram could not be sent';
  }
}
