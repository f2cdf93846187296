/**
 * struct ifnet and the generic interface functions of ifnet(9): allocation,
 * attach/detach, up/down, promiscuous and all-multicast reference counts,
 * the multicast membership list, and ifioctl.
 *
 * Spelling follows FreeBSD so the code can be read beside ifnet(9) and
 * ifmib(4). Configuration errors throw KernError; the packet path returns
 * errno numbers (0 for success) as the kernel's does, because a full queue is
 * ordinary there.
 */
import { kerr, KernError, ERRNO } from '../kern/errno.js';
import type { Scheduler } from '../kern/clock.js';
import type { Netisr } from '../kern/netisr.js';
import type { BpfIf } from './bpf.js';
import {
  IFF_ALLMULTI,
  IFF_CANTCHANGE,
  IFF_DRV_OACTIVE,
  IFF_DRV_RUNNING,
  IFF_MULTICAST,
  IFF_PPROMISC,
  IFF_PROMISC,
  IFF_UP,
  IF_DUNIT_NONE,
  IF_MAXMTU,
  IF_MINMTU,
  IFNAMSIZ,
  IOCTL_NAMES,
  LINK_STATE_DOWN,
  LINK_STATE_UNKNOWN,
  LINK_STATE_UP,
  SIOCADDMULTI,
  SIOCDELMULTI,
  SIOCGIFCAP,
  SIOCGIFFLAGS,
  SIOCGIFMTU,
  SIOCSIFCAP,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
} from './if_var.js';
import { IfQueue } from './ifq.js';
import { AF_LINK, type Sockaddr, type SockaddrDl, sockaddrDl, sockaddrKey, sockaddrToString } from './sockaddr.js';

/** struct if_data: the interface's counters and attributes (RFC 2863 meanings). */
export class IfData {
  ifi_type = 0;
  ifi_physical = 0;
  ifi_addrlen = 0;
  ifi_hdrlen = 0;
  ifi_link_state = LINK_STATE_UNKNOWN;
  ifi_vhid = 0;
  ifi_datalen = 152;
  ifi_mtu = 0;
  ifi_metric = 0;
  ifi_baudrate = 0;
  /** Frames received and accepted by the receive filter. */
  ifi_ipackets = 0;
  /** Frames received with errors (runts, too long). */
  ifi_ierrors = 0;
  /** Frames handed to the device. */
  ifi_opackets = 0;
  /** Frames the device failed to send. */
  ifi_oerrors = 0;
  /** Always 0: there are no collisions on a TAP or a switched segment. */
  ifi_collisions = 0;
  ifi_ibytes = 0;
  ifi_obytes = 0;
  /** Received frames with a group (multicast or broadcast) destination. */
  ifi_imcasts = 0;
  /** Sent frames with a group destination. */
  ifi_omcasts = 0;
  /** Received frames dropped for lack of room above the driver. */
  ifi_iqdrops = 0;
  /** Frames dropped because if_snd was full (ifmd_snd_drops). */
  ifi_oqdrops = 0;
  /** Frames for a protocol nobody registered (unknown EtherType). */
  ifi_noproto = 0;
  ifi_hwassist = 0;
  /** time_uptime (seconds) when the interface was attached. */
  ifi_epoch = 0;
  /** Wall time of the last change of flags or link state. */
  ifi_lastchange = { tv_sec: 0, tv_usec: 0 };
}

/** struct ifmib_iso_8802_3 (RFC 1650 dot3 statistics), IFDATA_LINKSPECIFIC of an Ethernet. */
export class Dot3Stats {
  dot3StatsAlignmentErrors = 0;
  dot3StatsFCSErrors = 0;
  dot3StatsSingleCollisionFrames = 0;
  dot3StatsMultipleCollisionFrames = 0;
  dot3StatsSQETestErrors = 0;
  dot3StatsDeferredTransmissions = 0;
  dot3StatsLateCollisions = 0;
  dot3StatsExcessiveCollisions = 0;
  dot3StatsInternalMacTransmitErrors = 0;
  dot3StatsCarrierSenseErrors = 0;
  dot3StatsFrameTooLongs = 0;
  dot3StatsInternalMacReceiveErrors = 0;
  dot3StatsEtherChipSet = 0;
  dot3StatsMissedFrames = 0;
  dot3StatsCollFrequencies: number[] = new Array(16).fill(0);
  /** DOT3COMPLIANCE_STATS */
  dot3Compliance = 1;
}

/** struct ifaddr, reduced to what the interface layer needs; protocols add their own. */
export interface IfAddr {
  ifa_addr: Sockaddr;
  ifa_netmask?: Sockaddr;
  /** The broadcast address (IPv4 on a broadcast interface). */
  ifa_broadaddr?: Sockaddr;
  ifa_ifp: Ifnet;
  /** Prefix length of the address (the netmask's, IPv4 and IPv6). */
  ifa_plen?: number;
  /**
   * Per-address traffic, as FreeBSD's ifa_ipackets/ifa_opackets/ifa_ibytes/
   * ifa_obytes: datagrams received for and sent from this address
   * (netstat -i address rows). Absent counters read as 0.
   */
  ifa_ipackets?: number;
  ifa_opackets?: number;
  ifa_ibytes?: number;
  ifa_obytes?: number;
}

/** struct ifmultiaddr: one multicast membership of an interface. */
export class IfMultiAddr {
  ifma_refcount = 1;
  /** Protocol-private state (the in_multi / in6_multi that owns a protocol entry). */
  ifma_protospec: unknown = undefined;
  constructor(
    readonly ifma_addr: Sockaddr,
    /** The link-layer address this group maps to; null for link entries and for interfaces that do not map. */
    readonly ifma_lladdr: SockaddrDl | null,
    readonly ifma_ifp: Ifnet,
    /** The link-layer membership this protocol membership holds an invisible reference on. */
    readonly ifma_llifma: IfMultiAddr | null,
  ) {}
}

/** Upper-protocol input after Ethernet demultiplexing: payload at buf[off, off+len). */
export type EtherInputHandler = (ifp: Ifnet, buf: Uint8Array, off: number, len: number, mflags: number) => void;

/** M_BCAST / M_MCAST / M_PROMISC as mbuf flags, passed to upper protocols. */
export const M_BCAST = 0x200;
export const M_MCAST = 0x400;
export const M_PROMISC = 0x2000;

export type IfnetEvent = 'attach' | 'detach' | 'up' | 'down' | 'link' | 'mtu' | 'addmulti' | 'delmulti';
export type IfnetListener = (ifp: Ifnet, event: IfnetEvent) => void;

/** What an interface needs from the network stack it lives in (one per host, like a VNET). */
export interface Vnet {
  readonly name: string;
  readonly sched: Scheduler;
  readonly netisr: Netisr;
  readonly ifnets: IfnetTable;
  /** The EtherType demultiplexing table that ether_input consults. */
  readonly ethertypes: Map<number, EtherInputHandler>;
}

/** if_ioctl data: struct ifreq, as a tagged object. */
export interface IfReq {
  ifr_name: string;
  ifr_flags?: number;
  ifr_mtu?: number;
  ifr_reqcap?: number;
  ifr_curcap?: number;
  ifr_addr?: Sockaddr;
}

export type IfOutputFn = (ifp: Ifnet, buf: Uint8Array, off: number, len: number, dst: Sockaddr, etype: number) => number;

let nextIfnetSerial = 1;

/** struct ifnet */
export class Ifnet {
  /** Debug identity, not if_index. */
  readonly serial = nextIfnetSerial++;
  if_xname = '';
  if_dname = '';
  if_dunit = IF_DUNIT_NONE;
  if_index = 0;
  if_vnet: Vnet | undefined;
  if_flags = 0;
  if_drv_flags = 0;
  if_capabilities = 0;
  if_capenable = 0;
  if_mtu = 0;
  if_metric = 0;
  if_baudrate = 0;
  if_link_state = LINK_STATE_UNKNOWN;
  readonly if_data = new IfData();
  if_snd = new IfQueue();
  /** Promiscuous listeners. */
  if_pcount = 0;
  /** All-multicast listeners. */
  if_amcount = 0;
  /** Addresses; the AF_LINK entry is first. */
  readonly if_addrhead: IfAddr[] = [];
  /** Memberships keyed by address; the map keeps join order, the list shows newest first. */
  private readonly multi = new Map<string, IfMultiAddr>();
  /** Link-specific MIB (ifmib_iso_8802_3 for Ethernet). */
  if_linkmib: Dot3Stats | undefined;
  /** Driver-private state. */
  if_softc: unknown;
  /** Frames the receive filter refused (the count the TAP reports as its tx_dropped). */
  if_rxfiltered = 0;
  /** The last error a device reported (e.g. the TAP was deleted), for tools. */
  if_lasterror: KernError | undefined;
  /** Per-address-family state (if_afdata[AF_INET], if_afdata[AF_INET6]), owned by the protocols. */
  readonly if_afdata: Record<number, unknown> = {};
  /** Capture taps (struct bpf_if, see bpf.ts); undefined while nobody listens, so drivers test one field. */
  if_bpf: BpfIf | undefined = undefined;

  // Function members (ifnet(9)).
  if_input: (ifp: Ifnet, buf: Uint8Array, off: number, len: number) => void = () => {};
  if_output: IfOutputFn = () => ERRNO.EOPNOTSUPP;
  if_start: (ifp: Ifnet) => void = () => {};
  if_transmit: (ifp: Ifnet, buf: Uint8Array, off: number, len: number) => number = if_transmit_default;
  if_qflush: (ifp: Ifnet) => void = (ifp) => {
    ifp.if_snd.drain();
  };
  if_ioctl: (ifp: Ifnet, cmd: number, ifr: IfReq) => void = (_ifp, cmd) => {
    throw kerr('EINVAL', `${this.if_xname}: ioctl ${ioctlName(cmd)} is not supported by this driver`);
  };
  if_init: (ifp: Ifnet) => void = () => {};
  if_resolvemulti: ((ifp: Ifnet, sa: Sockaddr) => SockaddrDl | null) | undefined;

  constructor(readonly if_type: number) {
    this.if_data.ifi_type = if_type;
  }

  /** The AF_LINK address (sockaddr_dl) of the interface. */
  get if_lladdr(): SockaddrDl {
    return this.if_addrhead[0]?.ifa_addr as SockaddrDl;
  }

  /** if_multiaddrs, newest first as FreeBSD lists them. */
  get if_multiaddrs(): IfMultiAddr[] {
    return Array.from(this.multi.values()).reverse();
  }

  get if_multicount(): number {
    return this.multi.size;
  }

  /** Iterate memberships oldest first without building a list. */
  multiValues(): IterableIterator<IfMultiAddr> {
    return this.multi.values();
  }

  /** @internal */
  multiTable(): Map<string, IfMultiAddr> {
    return this.multi;
  }

  get vnet(): Vnet {
    if (!this.if_vnet) throw kerr('ENXIO', `${this.if_xname || 'interface'} is not attached to a host`);
    return this.if_vnet;
  }

  /** Record a change time in ifi_lastchange. */
  touch(): void {
    const ms = this.if_vnet ? this.if_vnet.sched.wallNow() : 0;
    this.if_data.ifi_lastchange = { tv_sec: Math.floor(ms / 1000), tv_usec: Math.floor((ms % 1000) * 1000) };
  }

  /** A short form for logs and test failures (the full object graph reaches the whole host). */
  toJSON(): string {
    return `ifnet ${this.if_xname || '?'}#${this.if_index}`;
  }

  /** if_data as it is copied out (if_data_copy): attributes refreshed from the ifnet. */
  snapshot(): IfData {
    const d = Object.assign(new IfData(), this.if_data);
    d.ifi_lastchange = { ...this.if_data.ifi_lastchange };
    d.ifi_mtu = this.if_mtu;
    d.ifi_metric = this.if_metric;
    d.ifi_baudrate = this.if_baudrate;
    d.ifi_link_state = this.if_link_state;
    d.ifi_type = this.if_type;
    d.ifi_datalen = 152;
    d.ifi_physical = 0;
    d.ifi_vhid = 0;
    d.ifi_hwassist = 0;
    return d;
  }
}

export function ioctlName(cmd: number): string {
  return IOCTL_NAMES[cmd] ?? `0x${(cmd >>> 0).toString(16)}`;
}

/** The default if_transmit: queue on if_snd and kick if_start (IFQ_HANDOFF). */
export function if_transmit_default(ifp: Ifnet, buf: Uint8Array, off: number, len: number): number {
  if (!ifp.if_snd.enqueue(buf, off, len)) {
    ifp.if_snd.ifq_drops++;
    ifp.if_data.ifi_oqdrops++;
    return ERRNO.ENOBUFS;
  }
  ifp.if_start(ifp);
  return 0;
}

/** Validate an interface name as FreeBSD and Linux both accept it. */
export function checkIfName(name: string, what = 'interface name'): void {
  if (typeof name !== 'string' || name.length === 0)
    throw kerr('EINVAL', `${what} is empty; give a name such as em0`);
  if (name.length >= IFNAMSIZ)
    throw kerr('EINVAL', `${what} "${name}" has ${name.length} characters; at most ${IFNAMSIZ - 1} are allowed`);
  if (name === '.' || name === '..' || /[\s/:%]/.test(name) || /[^\x21-\x7e]/.test(name))
    throw kerr('EINVAL', `${what} "${name}" may not be "." or ".." or contain spaces, '/', ':', '%' or non-ASCII characters`);
}

/** if_alloc(9) */
export function if_alloc(type: number): Ifnet {
  return new Ifnet(type);
}

/** if_initname(9) */
export function if_initname(ifp: Ifnet, dname: string, dunit: number): void {
  const xname = dunit === IF_DUNIT_NONE ? dname : `${dname}${dunit}`;
  checkIfName(xname);
  ifp.if_dname = dname;
  ifp.if_dunit = dunit;
  ifp.if_xname = xname;
}

/**
 * The interfaces of one host and its if_index space. Indices are given
 * lowest-free-first; ifcount (V_if_index) is the highest index in use.
 */
export class IfnetTable {
  private byIndex: (Ifnet | undefined)[] = [undefined];
  private readonly listeners: IfnetListener[] = [];

  /** V_if_index: the highest index in use (net.link.generic.system.ifcount). */
  get if_index(): number {
    return this.byIndex.length - 1;
  }

  /** Interfaces in index order. */
  list(): Ifnet[] {
    return this.byIndex.filter((x): x is Ifnet => x !== undefined);
  }

  byindex(index: number): Ifnet | undefined {
    return Number.isInteger(index) && index > 0 ? this.byIndex[index] : undefined;
  }

  /** ifunit(9) */
  ifunit(name: string): Ifnet | undefined {
    for (const ifp of this.byIndex) if (ifp && ifp.if_xname === name) return ifp;
    return undefined;
  }

  /** A unit number free for `dname` (the next after the highest in use). */
  nextUnit(dname: string): number {
    let unit = 0;
    for (const ifp of this.byIndex) if (ifp && ifp.if_dname === dname && ifp.if_dunit >= unit) unit = ifp.if_dunit + 1;
    return unit;
  }

  /** @internal */
  allocIndex(ifp: Ifnet): number {
    for (let i = 1; i < this.byIndex.length; i++) {
      if (this.byIndex[i] === undefined) {
        this.byIndex[i] = ifp;
        return i;
      }
    }
    this.byIndex.push(ifp);
    return this.byIndex.length - 1;
  }

  /** @internal */
  freeIndex(index: number): void {
    this.byIndex[index] = undefined;
    while (this.byIndex.length > 1 && this.byIndex[this.byIndex.length - 1] === undefined) this.byIndex.pop();
  }

  /** Subscribe to interface events (attach, link changes, ...). Returns an unsubscribe function. */
  subscribe(fn: IfnetListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** @internal */
  notify(ifp: Ifnet, ev: IfnetEvent): void {
    for (const fn of [...this.listeners]) fn(ifp, ev);
  }
}

/** if_attach(9): give the interface an index, its link-level address and a place in the host. */
export function if_attach(vnet: Vnet, ifp: Ifnet, lladdr: Uint8Array = new Uint8Array(0)): void {
  if (ifp.if_vnet) throw kerr('EEXIST', `${ifp.if_xname} is already attached to host ${ifp.if_vnet.name}`);
  checkIfName(ifp.if_xname);
  if (vnet.ifnets.ifunit(ifp.if_xname))
    throw kerr('EEXIST', `host ${vnet.name} already has an interface named ${ifp.if_xname}`);
  ifp.if_vnet = vnet;
  ifp.if_index = vnet.ifnets.allocIndex(ifp);
  ifp.if_addrhead.unshift({
    ifa_addr: sockaddrDl(lladdr, ifp.if_index, ifp.if_type, ifp.if_xname),
    ifa_ifp: ifp,
  });
  ifp.if_data.ifi_addrlen = lladdr.length;
  ifp.if_data.ifi_epoch = Math.floor(vnet.sched.now() / 1000);
  ifp.touch();
  vnet.ifnets.notify(ifp, 'attach');
}

/** if_detach(9): take the interface down, drop its memberships and free its index. */
export function if_detach(ifp: Ifnet): void {
  const vnet = ifp.if_vnet;
  if (!vnet) return;
  if (ifp.if_flags & IFF_UP) if_down(ifp);
  ifp.if_qflush(ifp);
  ifp.multiTable().clear();
  vnet.ifnets.notify(ifp, 'detach');
  vnet.ifnets.freeIndex(ifp.if_index);
  ifp.if_addrhead.splice(0, ifp.if_addrhead.length);
  ifp.if_vnet = undefined;
}

/** if_free(9) */
export function if_free(ifp: Ifnet): void {
  if (ifp.if_vnet) if_detach(ifp);
  ifp.if_snd.drain();
}

/** if_up(9): mark up and tell the protocols. */
export function if_up(ifp: Ifnet): void {
  ifp.if_flags |= IFF_UP;
  ifp.touch();
  ifp.if_vnet?.ifnets.notify(ifp, 'up');
}

/** if_down(9): mark down, flush the send queue, and tell the protocols. */
export function if_down(ifp: Ifnet): void {
  ifp.if_flags &= ~IFF_UP;
  ifp.if_qflush(ifp);
  ifp.touch();
  ifp.if_vnet?.ifnets.notify(ifp, 'down');
}

/** if_link_state_change(9) */
export function if_link_state_change(ifp: Ifnet, state: number): void {
  if (ifp.if_link_state === state) return;
  ifp.if_link_state = state;
  ifp.touch();
  if (state === LINK_STATE_DOWN) ifp.if_qflush(ifp);
  ifp.if_vnet?.ifnets.notify(ifp, 'link');
}

export function linkStateName(state: number): string {
  return state === LINK_STATE_UP ? 'up' : state === LINK_STATE_DOWN ? 'down' : 'unknown';
}

/**
 * if_setflag: the reference-counted flags (IFF_PROMISC with its permanent
 * IFF_PPROMISC, IFF_ALLMULTI). The flag flips only on 0 <-> 1 and the driver
 * hears about it through if_ioctl(SIOCSIFFLAGS).
 */
function if_setflag(ifp: Ifnet, flag: number, pflag: number, counter: 'if_pcount' | 'if_amcount', on: boolean): void {
  const what = flag === IFF_PROMISC ? 'promiscuous' : 'all-multicast';
  if (!on && ifp[counter] === 0)
    throw kerr('EINVAL', `${ifp.if_xname}: ${what} mode turned off more times than it was turned on`);
  const oldCount = ifp[counter];
  const oldFlags = ifp.if_flags;
  ifp[counter] += on ? 1 : -1;
  // A permanent setting (ifconfig promisc) keeps the flag whatever the count.
  if (pflag && ifp.if_flags & pflag) return;
  if (on ? ifp[counter] !== 1 : ifp[counter] !== 0) return;
  if (on) ifp.if_flags |= flag;
  else ifp.if_flags &= ~flag;
  try {
    ifp.if_ioctl(ifp, SIOCSIFFLAGS, { ifr_name: ifp.if_xname, ifr_flags: ifp.if_flags });
  } catch (e) {
    ifp[counter] = oldCount;
    ifp.if_flags = oldFlags;
    throw e;
  }
  ifp.touch();
}

/** ifpromisc(9) */
export function ifpromisc(ifp: Ifnet, on: boolean): void {
  if_setflag(ifp, IFF_PROMISC, IFF_PPROMISC, 'if_pcount', on);
}

/** if_allmulti(9) */
export function if_allmulti(ifp: Ifnet, on: boolean): void {
  if_setflag(ifp, IFF_ALLMULTI, 0, 'if_amcount', on);
}

/** if_findmulti(9) */
export function if_findmulti(ifp: Ifnet, sa: Sockaddr): IfMultiAddr | undefined {
  return ifp.multiTable().get(sockaddrKey(sa));
}

/**
 * if_addmulti(9), in its four steps: (1) resolve the protocol address to a
 * link-layer one with if_resolvemulti; (2) if the membership exists, take a
 * reference and stop; (3) find or create the link-layer membership, which the
 * protocol membership holds an invisible reference on; (4) link the new
 * entries in (newest first) and, if a new link-layer address appeared, tell
 * the driver with SIOCADDMULTI so it reprograms its filter.
 */
export function if_addmulti(ifp: Ifnet, sa: Sockaddr): IfMultiAddr {
  if (!(ifp.if_flags & IFF_MULTICAST))
    throw kerr('EOPNOTSUPP', `${ifp.if_xname} does not support multicast (IFF_MULTICAST is clear)`);
  let lladdr: SockaddrDl | null = null;
  if (ifp.if_resolvemulti) {
    lladdr = ifp.if_resolvemulti(ifp, sa);
  } else if (sa.family === AF_LINK) {
    throw kerr('EOPNOTSUPP', `${ifp.if_xname} has no link-layer multicast to join ${sockaddrToString(sa)} on`);
  }
  const table = ifp.multiTable();
  const key = sockaddrKey(sa);
  const existing = table.get(key);
  if (existing) {
    existing.ifma_refcount++;
    return existing;
  }
  let llifma: IfMultiAddr | null = null;
  let newLink = sa.family === AF_LINK;
  if (lladdr) {
    const llkey = sockaddrKey(lladdr);
    llifma = table.get(llkey) ?? null;
    if (llifma) {
      llifma.ifma_refcount++;
    } else {
      llifma = new IfMultiAddr(lladdr, null, ifp, null);
      table.set(llkey, llifma);
      newLink = true;
    }
  }
  // The address is kept as given (callers hand over a fresh one): no copy per membership.
  const ifma = new IfMultiAddr(sa, lladdr, ifp, llifma);
  table.set(key, ifma);
  if (newLink || !ifp.if_resolvemulti) {
    try {
      // The driver hears the link-layer address it must add (FreeBSD drivers re-read the whole list).
      ifp.if_ioctl(ifp, SIOCADDMULTI, { ifr_name: ifp.if_xname, ifr_addr: lladdr ?? sa });
    } catch (e) {
      // Undo so nothing is left half-joined.
      table.delete(key);
      if (llifma && --llifma.ifma_refcount === 0) table.delete(sockaddrKey(llifma.ifma_addr));
      throw e;
    }
  }
  ifp.if_vnet?.ifnets.notify(ifp, 'addmulti');
  return ifma;
}

/**
 * if_delmulti(9): drop one reference; the last one removes the entry and its
 * invisible reference on the link-layer entry; SIOCDELMULTI tells the driver
 * when a link-layer address leaves the list.
 */
export function if_delmulti(ifp: Ifnet, sa: Sockaddr): void {
  const table = ifp.multiTable();
  const key = sockaddrKey(sa);
  const ifma = table.get(key);
  if (!ifma)
    throw kerr('ENOENT', `${ifp.if_xname} has no multicast membership for ${sockaddrToString(sa)}`);
  if_delmulti_ifma(ifma);
}

/** if_delmulti_ifma(9) */
export function if_delmulti_ifma(ifma: IfMultiAddr): void {
  const ifp = ifma.ifma_ifp;
  const table = ifp.multiTable();
  if (--ifma.ifma_refcount > 0) return;
  table.delete(sockaddrKey(ifma.ifma_addr));
  let goneLink: Sockaddr | undefined = ifma.ifma_addr.family === AF_LINK ? ifma.ifma_addr : undefined;
  const ll = ifma.ifma_llifma;
  if (ll && --ll.ifma_refcount === 0) {
    table.delete(sockaddrKey(ll.ifma_addr));
    goneLink = ll.ifma_addr;
  }
  if (goneLink || !ifp.if_resolvemulti) {
    try {
      ifp.if_ioctl(ifp, SIOCDELMULTI, { ifr_name: ifp.if_xname, ifr_addr: goneLink ?? ifma.ifma_addr });
    } catch {
      /* the driver refusing to shrink its filter only lets more frames in */
    }
  }
  ifp.if_vnet?.ifnets.notify(ifp, 'delmulti');
}

/**
 * ifioctl: the generic handling of interface ioctls before the driver's
 * if_ioctl, as sys/net/if.c does it. Returns the ifreq with results filled
 * in for the "get" commands.
 */
export function ifioctl(vnet: Vnet, cmd: number, ifr: IfReq): IfReq {
  const ifp = vnet.ifnets.ifunit(ifr.ifr_name);
  if (!ifp) throw kerr('ENXIO', `${ioctlName(cmd)}: no interface named "${ifr.ifr_name}" on host ${vnet.name}`);
  const name = ifp.if_xname;
  switch (cmd) {
    case SIOCGIFFLAGS:
      return { ...ifr, ifr_flags: (ifp.if_flags | ifp.if_drv_flags) >>> 0 };
    case SIOCGIFMTU:
      return { ...ifr, ifr_mtu: ifp.if_mtu };
    case SIOCGIFCAP:
      return { ...ifr, ifr_reqcap: ifp.if_capabilities, ifr_curcap: ifp.if_capenable };
    case SIOCSIFFLAGS: {
      const req = requireInt(ifr.ifr_flags, 'ifr_flags', cmd, name);
      const wasUp = (ifp.if_flags & IFF_UP) !== 0;
      const nowUp = (req & IFF_UP) !== 0;
      if (wasUp && !nowUp) if_down(ifp);
      else if (!wasUp && nowUp) if_up(ifp);
      // IFF_PPROMISC is the permanent promiscuous setting; it drives IFF_PROMISC.
      const oldFlags = ifp.if_flags;
      if ((req ^ ifp.if_flags) & IFF_PPROMISC) {
        if (req & IFF_PPROMISC) ifp.if_flags |= IFF_PROMISC;
        else if (ifp.if_pcount === 0) ifp.if_flags &= ~IFF_PROMISC;
      }
      ifp.if_flags = (ifp.if_flags & IFF_CANTCHANGE) | (req & ~IFF_CANTCHANGE);
      try {
        ifp.if_ioctl(ifp, SIOCSIFFLAGS, { ...ifr, ifr_flags: ifp.if_flags });
      } catch (e) {
        ifp.if_flags = oldFlags;
        throw e;
      }
      ifp.touch();
      return ifr;
    }
    case SIOCSIFMTU: {
      const mtu = requireInt(ifr.ifr_mtu, 'ifr_mtu', cmd, name);
      if (mtu < IF_MINMTU || mtu > IF_MAXMTU)
        throw kerr('EINVAL', `${name}: MTU ${mtu} is out of range; it must be between ${IF_MINMTU} and ${IF_MAXMTU}`);
      const old = ifp.if_mtu;
      ifp.if_ioctl(ifp, SIOCSIFMTU, { ...ifr, ifr_mtu: mtu });
      if (ifp.if_mtu !== old) {
        ifp.touch();
        vnet.ifnets.notify(ifp, 'mtu');
      }
      return ifr;
    }
    case SIOCSIFCAP: {
      const req = requireInt(ifr.ifr_reqcap, 'ifr_reqcap', cmd, name);
      if (req & ~ifp.if_capabilities)
        throw kerr(
          'EINVAL',
          `${name}: capabilities 0x${(req & ~ifp.if_capabilities).toString(16)} are not supported (supported: 0x${ifp.if_capabilities.toString(16)})`,
        );
      ifp.if_ioctl(ifp, SIOCSIFCAP, { ...ifr, ifr_reqcap: req });
      ifp.touch();
      return ifr;
    }
    case SIOCADDMULTI:
    case SIOCDELMULTI: {
      if (!(ifp.if_flags & IFF_MULTICAST))
        throw kerr('EOPNOTSUPP', `${name} does not support multicast (IFF_MULTICAST is clear)`);
      const sa = ifr.ifr_addr;
      // Users may only touch link-layer memberships; protocol ones belong to the protocols.
      if (!sa || sa.family !== AF_LINK)
        throw kerr('EINVAL', `${ioctlName(cmd)} on ${name} needs a link-layer (AF_LINK) address in ifr_addr`);
      if (cmd === SIOCADDMULTI) if_addmulti(ifp, sa);
      else if_delmulti(ifp, sa);
      ifp.touch();
      return ifr;
    }
    default:
      ifp.if_ioctl(ifp, cmd, ifr);
      return ifr;
  }
}

function requireInt(v: number | undefined, field: string, cmd: number, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw kerr('EINVAL', `${ioctlName(cmd)} on ${name} needs an integer ${field}, got ${String(v)}`);
  return v;
}

export function if_isrunning(ifp: Ifnet): boolean {
  return (ifp.if_flags & IFF_UP) !== 0 && (ifp.if_drv_flags & IFF_DRV_RUNNING) !== 0;
}

export { IFF_DRV_OACTIVE, IFF_ALLMULTI };
