/**
 * The Ethernet driver: one ifnet on one EtherDevice (a TAP or a segment
 * port). It owns if_init, if_start and if_ioctl, keeps the receive filter in
 * step with the multicast list, and moves frames in batches.
 */
import { isKernError, kerr, KernError } from '../kern/errno.js';
import type { DeviceHandlers, EtherDevice } from './device.js';
import {
  IFCAP_JUMBO_MTU,
  IFCAP_LINKSTATE,
  IFCAP_VLAN_MTU,
  IFF_ALLMULTI,
  IFF_DRV_OACTIVE,
  IFF_DRV_RUNNING,
  IFF_PROMISC,
  IFF_UP,
  IFT_ETHER,
  LINK_STATE_DOWN,
  LINK_STATE_UP,
  SIOCADDMULTI,
  SIOCDELMULTI,
  SIOCSIFCAP,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
} from './if_var.js';
import { IfQueue } from './ifq.js';
import { bpf_mtap_slots } from './bpf.js';
import { type Ifnet, type IfReq, type Vnet, if_alloc, if_initname, if_link_state_change, if_detach, ioctlName } from './ifnet.js';
import { AF_LINK, parseMac } from './sockaddr.js';
import { ETHER_BROADCAST, ETHER_HDR_LEN, ETHERMTU, ETHER_VLAN_ENCAP_LEN, type EtherCom, ether_ifattach } from '../l2/ether.js';
import { RxFilter, type RxFilterConfig, TAP_FILTER } from '../l2/filter.js';
import type { Random } from '../kern/random.js';

/** The send-queue limit an Ethernet driver sets for itself (as a NIC sizes it to its TX ring). */
export const ETHER_SNDQ_MAXLEN = 512;

export interface EtherIfOptions {
  /** Interface name; default `<dname><next unit>`. */
  name?: string;
  /** Driver name; default 'em'. */
  dname?: string;
  /** MAC as bytes or text; default a locally administered address from the host's random stream. */
  mac?: Uint8Array | string;
  mtu?: number;
  /** if_snd limit; default ETHER_SNDQ_MAXLEN. */
  sndMaxlen?: number;
  /** Receive filter geometry; default the TAP's (8 exact slots, 64 hash bins). */
  filter?: RxFilterConfig;
  /** Bring the interface up at once (default true). */
  up?: boolean;
}

/** Driver softc: the Ethernet common part plus the device. */
export interface EtherSoftc extends EtherCom {
  device: EtherDevice;
  started: boolean;
  /** A start is already deferred to the end of the current receive batch. */
  startPending: boolean;
  /** What the netisr calls at the end of the batch. */
  startable: { startDeferred(): void };
}

export function etherSoftc(ifp: Ifnet): EtherSoftc {
  return ifp.if_softc as EtherSoftc;
}

/** A locally administered, unicast MAC (02:xx:...), drawn from the host's randomness. */
export function randomMac(rng: Random): Uint8Array {
  const m = new Uint8Array(6);
  const a = rng.u32();
  const b = rng.u32();
  m[0] = 0x02;
  m[1] = 0x7a; // 'z'-ish marker for taplab
  m[2] = a >>> 24;
  m[3] = (a >>> 16) & 0xff;
  m[4] = (a >>> 8) & 0xff;
  m[5] = b & 0xff;
  return m;
}

/** Create, attach and (by default) bring up an Ethernet interface on `device`. */
export function ether_create(vnet: Vnet & { random: Random }, device: EtherDevice, opts: EtherIfOptions = {}): Ifnet {
  const dname = opts.dname ?? 'em';
  const ifp = if_alloc(IFT_ETHER);
  if (opts.name !== undefined) {
    const m = /^(.*?)(\d+)$/.exec(opts.name);
    if (m && m[1]) if_initname(ifp, m[1], Number(m[2]));
    else if_initname(ifp, opts.name, -1);
  } else {
    if_initname(ifp, dname, vnet.ifnets.nextUnit(dname));
  }
  let mac: Uint8Array;
  if (typeof opts.mac === 'string') {
    const parsed = parseMac(opts.mac);
    if (!parsed) throw kerr('EINVAL', `${ifp.if_xname}: "${opts.mac}" is not a MAC address (expected six hex bytes like 02:00:5e:10:00:01)`);
    mac = parsed;
  } else {
    mac = opts.mac ? Uint8Array.from(opts.mac) : randomMac(vnet.random);
  }
  const maxMtu = device.maxFrame - ETHER_HDR_LEN - ETHER_VLAN_ENCAP_LEN;
  const mtu = opts.mtu ?? Math.min(ETHERMTU, maxMtu);
  if (!Number.isInteger(mtu) || mtu < 72 || mtu > maxMtu)
    throw kerr('EINVAL', `${ifp.if_xname}: MTU ${mtu} is out of range for device ${device.name} (72..${maxMtu})`);
  const softc: EtherSoftc = {
    mac,
    filter: new RxFilter(opts.filter ?? TAP_FILTER),
    device,
    started: false,
    startPending: false,
    startable: {
      startDeferred() {
        softc.startPending = false;
        ifp.if_start(ifp);
      },
    },
  };
  ifp.if_softc = softc;
  ifp.if_mtu = mtu;
  ifp.if_baudrate = 10_000_000_000;
  ifp.if_capabilities = IFCAP_VLAN_MTU | IFCAP_JUMBO_MTU | IFCAP_LINKSTATE;
  ifp.if_capenable = IFCAP_VLAN_MTU | IFCAP_LINKSTATE;
  ifp.if_snd = new IfQueue(opts.sndMaxlen ?? ETHER_SNDQ_MAXLEN, slotSizeFor(mtu));
  ifp.if_init = ether_drv_init;
  ifp.if_start = ether_drv_start;
  ifp.if_ioctl = ether_drv_ioctl;
  ether_ifattach(vnet, ifp, mac);
  program(ifp);
  if (opts.up ?? true) {
    ifp.if_flags |= IFF_UP;
    ifp.if_init(ifp);
  }
  return ifp;
}

/** Detach the interface and release its device. */
export function ether_destroy(ifp: Ifnet): void {
  const sc = etherSoftc(ifp);
  if_detach(ifp);
  ifp.if_drv_flags &= ~IFF_DRV_RUNNING;
  sc.device.close();
}

function slotSizeFor(mtu: number): number {
  const frame = mtu + ETHER_HDR_LEN + ETHER_VLAN_ENCAP_LEN;
  return frame <= 2048 ? 2048 : (frame + 63) & ~63;
}

function ether_drv_init(ifp: Ifnet): void {
  const sc = etherSoftc(ifp);
  if (!sc.started) {
    sc.started = true;
    sc.device.start(handlersFor(ifp));
  }
  ifp.if_drv_flags |= IFF_DRV_RUNNING;
  ifp.if_drv_flags &= ~IFF_DRV_OACTIVE;
  if_link_state_change(ifp, sc.device.linkUp() ? LINK_STATE_UP : LINK_STATE_DOWN);
  program(ifp);
  ifp.if_start(ifp);
}

function handlersFor(ifp: Ifnet): DeviceHandlers {
  return {
    input(buf, slotSize, lengths, count) {
      const vnet = ifp.if_vnet;
      if (!vnet) return;
      const netisr = vnet.netisr;
      netisr.enter();
      try {
        const input = ifp.if_input;
        for (let i = 0, at = 0; i < count; i++, at += slotSize) input(ifp, buf, at, lengths[i]);
      } finally {
        netisr.exit();
      }
    },
    writable() {
      ifp.if_drv_flags &= ~IFF_DRV_OACTIVE;
      ifp.if_start(ifp);
    },
    linkState(up, error) {
      if (error) ifp.if_lasterror = error;
      if_link_state_change(ifp, up ? LINK_STATE_UP : LINK_STATE_DOWN);
    },
  };
}

/**
 * if_start: hand the queued frames to the device in runs of consecutive
 * slots. While a receive batch is in progress the start is deferred to its
 * end, so one batch in gives one write call out.
 */
function ether_drv_start(ifp: Ifnet): void {
  if ((ifp.if_drv_flags & (IFF_DRV_RUNNING | IFF_DRV_OACTIVE)) !== IFF_DRV_RUNNING) return;
  const sc = ifp.if_softc as EtherSoftc;
  if (sc.startPending) return;
  const netisr = ifp.if_vnet?.netisr;
  if (netisr && netisr.inBatch) {
    sc.startPending = true;
    netisr.defer(sc.startable);
    return;
  }
  drain(ifp);
}

function drain(ifp: Ifnet): void {
  const sc = etherSoftc(ifp);
  const q = ifp.if_snd;
  const d = ifp.if_data;
  while (q.ifq_len > 0) {
    const first = q.first;
    const n = q.run();
    let accepted: number;
    try {
      accepted = sc.device.transmit(q.buf, q.slotSize, first, q.lengths, n);
    } catch (e) {
      // The device is gone: everything queued is lost.
      d.ifi_oerrors += q.drain();
      if (isKernError(e)) ifp.if_lasterror = e;
      if_link_state_change(ifp, LINK_STATE_DOWN);
      return;
    }
    const buf = q.buf;
    const lens = q.lengths;
    const slot = q.slotSize;
    for (let k = 0; k < accepted; k++) {
      const s = first + k;
      d.ifi_opackets++;
      d.ifi_obytes += lens[s];
      if (buf[s * slot] & 1) d.ifi_omcasts++;
    }
    // Taps see what the device took (BPF_MTAP in if_start), before the slots are reused.
    if (ifp.if_bpf !== undefined) bpf_mtap_slots(ifp, buf, slot, first, lens, accepted, 'out');
    q.dequeue(accepted);
    if (accepted < n) {
      ifp.if_drv_flags |= IFF_DRV_OACTIVE;
      return;
    }
  }
}

/** Load the receive filter from the flags and the link-layer memberships, in software and in the device. */
function program(ifp: Ifnet): void {
  const sc = etherSoftc(ifp);
  const addrs: Uint8Array[] = [sc.mac, ETHER_BROADCAST];
  for (const ifma of ifp.multiValues()) if (ifma.ifma_addr.family === AF_LINK) addrs.push(ifma.ifma_addr.lladdr);
  sc.filter.program(addrs, (ifp.if_flags & IFF_PROMISC) !== 0, (ifp.if_flags & IFF_ALLMULTI) !== 0);
  pushFilter(ifp);
}

/**
 * Give the device the software filter's state. The list is capped: past 256
 * hashed groups every bin of a 64-bin hash is as good as set, so the device
 * is asked for all-multicast instead (the software filter stays exact), and
 * a change costs the same with 10 groups or 100,000.
 */
function pushFilter(ifp: Ifnet): void {
  const sc = etherSoftc(ifp);
  const { addrs, truncated } = sc.filter.deviceList(256);
  try {
    sc.device.setFilter({ promisc: sc.filter.promisc, allmulti: sc.filter.allmulti || truncated, addrs });
  } catch (e) {
    if (e instanceof KernError) ifp.if_lasterror = e;
  }
}

function ether_drv_ioctl(ifp: Ifnet, cmd: number, ifr: IfReq): void {
  switch (cmd) {
    case SIOCSIFFLAGS:
      if (ifp.if_flags & IFF_UP) {
        if (!(ifp.if_drv_flags & IFF_DRV_RUNNING)) ifp.if_init(ifp);
        else program(ifp);
      } else if (ifp.if_drv_flags & IFF_DRV_RUNNING) {
        ifp.if_drv_flags &= ~(IFF_DRV_RUNNING | IFF_DRV_OACTIVE);
        ifp.if_qflush(ifp);
        program(ifp);
      }
      return;
    case SIOCADDMULTI:
    case SIOCDELMULTI: {
      const sa = ifr.ifr_addr;
      if (sa?.family !== AF_LINK) throw kerr('EINVAL', `${ifp.if_xname}: ${ioctlName(cmd)} needs a link-layer address`);
      const filter = etherSoftc(ifp).filter;
      if (cmd === SIOCADDMULTI) filter.add(sa.lladdr);
      else filter.remove(sa.lladdr);
      pushFilter(ifp);
      return;
    }
    case SIOCSIFMTU: {
      const sc = etherSoftc(ifp);
      const mtu = ifr.ifr_mtu!;
      const limit = sc.device.maxFrame - ETHER_HDR_LEN - ETHER_VLAN_ENCAP_LEN;
      if (mtu > limit)
        throw kerr('EINVAL', `${ifp.if_xname}: MTU ${mtu} is larger than device ${sc.device.name} carries (at most ${limit})`);
      if (mtu > ETHERMTU && !(ifp.if_capabilities & IFCAP_JUMBO_MTU))
        throw kerr('EINVAL', `${ifp.if_xname}: jumbo frames are not supported`);
      ifp.if_mtu = mtu;
      const slot = slotSizeFor(mtu);
      if (slot > ifp.if_snd.slotSize) ifp.if_snd.resize(ifp.if_snd.ifq_maxlen, slot);
      return;
    }
    case SIOCSIFCAP:
      ifp.if_capenable = ifr.ifr_reqcap! & ifp.if_capabilities;
      return;
    default:
      throw kerr('EINVAL', `${ifp.if_xname}: ioctl ${ioctlName(cmd)} is not supported by the Ethernet driver`);
  }
}
