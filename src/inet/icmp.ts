/**
 * ICMP for a host (RFC 792, FreeBSD's ip_icmp.c): echo replies, and the
 * errors a host sends (port unreachable). icmpstat counts every message by
 * type. Echo requests to broadcast or multicast are not answered, as
 * FreeBSD's net.inet.icmp.bmcastecho=0.
 */
import type { Ifnet } from '../driver/ifnet.js';
import { M_BCAST, M_MCAST } from '../driver/ifnet.js';
import { IFF_LOOPBACK } from '../driver/if_var.js';
import { inetChecksum } from './cksum.js';
import { IPPROTO_ICMP, type IpHeader } from './ip_codec.js';
import type { Inet } from './inet.js';

export const ICMP_ECHOREPLY = 0;
export const ICMP_UNREACH = 3;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_ECHO = 8;
export const ICMP_MINLEN = 8;
export const ICMP_MAXTYPE = 40;

export interface IcmpMessage {
  type: number;
  code: number;
  /** Bytes after the checksum (rest of header + data). */
  body: Uint8Array;
}

export function icmpParse(buf: Uint8Array, off: number, len: number): IcmpMessage | { error: 'icps_tooshort' | 'icps_checksum' } {
  if (len < ICMP_MINLEN) return { error: 'icps_tooshort' };
  if (inetChecksum(buf, off, len) !== 0) return { error: 'icps_checksum' };
  return { type: buf[off], code: buf[off + 1], body: buf.slice(off + 4, off + len) };
}

export function icmpEmit(m: IcmpMessage): Uint8Array {
  const out = new Uint8Array(4 + m.body.length);
  out[0] = m.type;
  out[1] = m.code;
  out.set(m.body, 4);
  const sum = inetChecksum(out, 0, out.length);
  out[2] = sum >> 8;
  out[3] = sum & 0xff;
  return out;
}

export class Icmp {
  constructor(private readonly inet: Inet) {}

  input(ifp: Ifnet, ip: IpHeader, buf: Uint8Array, off: number, len: number, mflags: number): void {
    const st = this.inet.icmpstat;
    const m = icmpParse(buf, off, len);
    if ('error' in m) {
      st[m.error]++;
      return;
    }
    if (m.type <= ICMP_MAXTYPE) st.icps_inhist[m.type]++;
    if (m.type === ICMP_ECHO) {
      if (mflags & (M_BCAST | M_MCAST)) {
        st.icps_bmcastecho++;
        return;
      }
      if (!this.isHostSource(ifp, ip.src)) {
        st.icps_badaddr++;
        return;
      }
      st.icps_reflect++;
      this.send({ type: ICMP_ECHOREPLY, code: 0, body: m.body }, ip.dst, ip.src);
    }
  }

  /** icmp_error: tell the sender of `ip` that something went wrong (never about ICMP errors, broadcasts or multicasts). */
  error(ip: IpHeader, datagram: Uint8Array, type: number, code: number, mflags: number): void {
    const st = this.inet.icmpstat;
    st.icps_error++;
    if (mflags & (M_BCAST | M_MCAST)) return;
    if (ip.p === IPPROTO_ICMP) {
      st.icps_oldicmp++;
      return;
    }
    if (!this.isHostSource(undefined, ip.src)) return;
    // The original header and the first 8 bytes of its payload (RFC 792).
    const quote = datagram.slice(0, Math.min(datagram.length, ip.hl + 8));
    const body = new Uint8Array(4 + quote.length);
    body.set(quote, 4);
    this.send({ type, code, body }, ip.dst, ip.src);
  }

  /**
   * RFC 1122 §3.2.2 and §3.2.1.3: no ICMP message goes to a source that does
   * not name one host: 0.0.0.0/8, multicast, class E, the limited broadcast
   * or a subnet broadcast of the arrival interface (ip_input already drops
   * 127/8 from the wire)
   * (FreeBSD's icmp_reflect counts these in icps_badaddr).
   */
  private isHostSource(ifp: Ifnet | undefined, src: Uint8Array): boolean {
    if (src[0] === 0 || src[0] >= 224) return false;
    return !(ifp && !(ifp.if_flags & IFF_LOOPBACK) && this.inet.v4.isBroadcast(ifp, src));
  }

  private send(m: IcmpMessage, src: Uint8Array, dst: Uint8Array): void {
    const pkt = icmpEmit(m);
    this.inet.icmpstat.icps_outhist[m.type]++;
    this.inet.v4.output(pkt, { p: IPPROTO_ICMP, src, dst });
  }
}
