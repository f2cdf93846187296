/**
 * lo0, the software loopback (FreeBSD's net/if_loop.c). Output is queued on
 * if_snd and delivered back to the same host's protocols when the driver
 * starts, so a protocol that answers a looped packet never re-enters itself.
 * Slots carry a 3-byte pseudo-header before the datagram, in place of a
 * link-layer header: the EtherType, and whether the destination was a group
 * (which the output side knows from the address family, so the driver never
 * looks inside the datagram).
 */
import { ERRNO, kerr } from '../kern/errno.js';
import {
  IFF_DRV_RUNNING,
  IFF_LOOPBACK,
  IFF_MULTICAST,
  IFF_UP,
  IFT_LOOP,
  LINK_STATE_UP,
  SIOCADDMULTI,
  SIOCDELMULTI,
  SIOCSIFCAP,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
} from './if_var.js';
import { IfQueue } from './ifq.js';
import { bpf_mtap2 } from './bpf.js';
import { type Ifnet, type IfReq, type Vnet, if_alloc, if_attach, if_initname, ioctlName, M_MCAST } from './ifnet.js';
import { AF_INET, AF_INET6, type Sockaddr } from './sockaddr.js';

export const LOMTU = 16384;
/** The loopback's pseudo-header: EtherType (2 bytes) and a group-destination flag. */
const LOHDR = 3;
const ETHERTYPE_IP = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** DLT_NULL link headers for taps: the address family as a 32-bit word in host (little-endian) order. */
const DLT_NULL_INET = Uint8Array.of(AF_INET, 0, 0, 0);
const DLT_NULL_INET6 = Uint8Array.of(AF_INET6, 0, 0, 0);

export function loop_create(vnet: Vnet): Ifnet {
  const ifp = if_alloc(IFT_LOOP);
  if_initname(ifp, 'lo', vnet.ifnets.nextUnit('lo'));
  ifp.if_mtu = LOMTU;
  ifp.if_flags = IFF_LOOPBACK | IFF_MULTICAST;
  ifp.if_snd = new IfQueue(256, LOMTU + LOHDR);
  ifp.if_output = looutput;
  ifp.if_input = loinput;
  ifp.if_start = lostart;
  ifp.if_ioctl = loioctl;
  if_attach(vnet, ifp);
  ifp.if_flags |= IFF_UP;
  ifp.if_drv_flags |= IFF_DRV_RUNNING;
  ifp.if_link_state = LINK_STATE_UP;
  return ifp;
}

function looutput(ifp: Ifnet, buf: Uint8Array, off: number, len: number, dst: Sockaddr, etype: number): number {
  if (!(ifp.if_flags & IFF_UP)) return ERRNO.ENETDOWN;
  if (len > ifp.if_mtu) return ERRNO.EMSGSIZE;
  const type = etype || (dst.family === AF_INET ? ETHERTYPE_IP : dst.family === AF_INET6 ? ETHERTYPE_IPV6 : 0);
  if (!type) return ERRNO.EAFNOSUPPORT;
  const q = ifp.if_snd;
  const at = q.reserve(len + LOHDR);
  if (at < 0) {
    q.ifq_drops++;
    ifp.if_data.ifi_oqdrops++;
    return ERRNO.ENOBUFS;
  }
  const group = dst.family === AF_INET ? (dst.addr[0] & 0xf0) === 0xe0 : dst.family === AF_INET6 && dst.addr[0] === 0xff;
  q.buf[at] = type >>> 8;
  q.buf[at + 1] = type & 0xff;
  q.buf[at + 2] = group ? 1 : 0;
  q.buf.set(buf.subarray(off, off + len), at + LOHDR);
  ifp.if_data.ifi_opackets++;
  ifp.if_data.ifi_obytes += len;
  if (group) ifp.if_data.ifi_omcasts++;
  ifp.if_start(ifp);
  return 0;
}

function lostart(ifp: Ifnet): void {
  const vnet = ifp.if_vnet;
  if (!vnet) return;
  if (vnet.netisr.inBatch) {
    vnet.netisr.defer(loStartable(ifp));
    return;
  }
  vnet.netisr.batch(() => {
    const q = ifp.if_snd;
    // Bounded: frames looped while delivering wait for the next start.
    let n = q.ifq_len;
    while (n-- > 0) {
      const first = q.first;
      const at = first * q.slotSize;
      const len = q.lengths[first];
      // Copy out: the slot is reused once dequeued, and a protocol may keep a view.
      const frame = q.buf.slice(at, at + len);
      q.dequeue(1);
      ifp.if_input(ifp, frame, 0, len);
    }
  });
}

const startables = new WeakMap<Ifnet, { startDeferred(): void }>();
function loStartable(ifp: Ifnet): { startDeferred(): void } {
  let s = startables.get(ifp);
  if (!s) startables.set(ifp, (s = { startDeferred: () => lostart(ifp) }));
  return s;
}

/** Input of a looped datagram: `buf[off..]` starts with the pseudo-header (EtherType, group flag). */
function loinput(ifp: Ifnet, buf: Uint8Array, off: number, len: number): void {
  const d = ifp.if_data;
  if (len < LOHDR) {
    d.ifi_ierrors++;
    return;
  }
  const type = (buf[off] << 8) | buf[off + 1];
  // Taps see the datagram as FreeBSD's if_simloop gives it to bpf: DLT_NULL, inbound.
  if (ifp.if_bpf !== undefined && (type === ETHERTYPE_IP || type === ETHERTYPE_IPV6))
    bpf_mtap2(ifp, type === ETHERTYPE_IP ? DLT_NULL_INET : DLT_NULL_INET6, buf, off + LOHDR, len - LOHDR, 'in');
  d.ifi_ipackets++;
  d.ifi_ibytes += len - LOHDR;
  const handler = ifp.if_vnet?.ethertypes.get(type);
  if (!handler) {
    d.ifi_noproto++;
    return;
  }
  const mcast = buf[off + 2] === 1;
  if (mcast) d.ifi_imcasts++;
  handler(ifp, buf, off + LOHDR, len - LOHDR, mcast ? M_MCAST : 0);
}

function loioctl(ifp: Ifnet, cmd: number, ifr: IfReq): void {
  switch (cmd) {
    case SIOCSIFFLAGS:
      if (ifp.if_flags & IFF_UP) ifp.if_drv_flags |= IFF_DRV_RUNNING;
      else ifp.if_drv_flags &= ~IFF_DRV_RUNNING;
      return;
    case SIOCADDMULTI:
    case SIOCDELMULTI: {
      const fam = ifr.ifr_addr?.family;
      if (fam !== AF_INET && fam !== AF_INET6)
        throw kerr('EAFNOSUPPORT', `${ifp.if_xname}: loopback takes only IPv4 and IPv6 multicast memberships`);
      return;
    }
    case SIOCSIFMTU:
      ifp.if_mtu = ifr.ifr_mtu!;
      if (ifp.if_mtu + LOHDR > ifp.if_snd.slotSize) ifp.if_snd.resize(ifp.if_snd.ifq_maxlen, ifp.if_mtu + LOHDR);
      return;
    case SIOCSIFCAP:
      ifp.if_capenable = ifr.ifr_reqcap!;
      return;
    default:
      throw kerr('EINVAL', `${ifp.if_xname}: ioctl ${ioctlName(cmd)} is not supported by the loopback driver`);
  }
}
