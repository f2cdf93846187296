/**
 * Constants of the interface layer with FreeBSD's names and values
 * (sys/net/if.h, sys/net/if_types.h, sys/sockio.h, sys/net/if_mib.h).
 */

// if_flags (user-visible) and if_drv_flags (driver-owned) share one space,
// as ifmd_flags = if_flags | if_drv_flags shows them.
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_DEBUG = 0x4;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_DRV_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_ALLMULTI = 0x200;
export const IFF_DRV_OACTIVE = 0x400;
export const IFF_SIMPLEX = 0x800;
export const IFF_LINK0 = 0x1000;
export const IFF_LINK1 = 0x2000;
export const IFF_LINK2 = 0x4000;
export const IFF_MULTICAST = 0x8000;
export const IFF_CANTCONFIG = 0x10000;
export const IFF_PPROMISC = 0x20000;
export const IFF_MONITOR = 0x40000;
export const IFF_STATICARP = 0x80000;
export const IFF_DYING = 0x200000;
export const IFF_RENAMING = 0x400000;
export const IFF_NOGROUP = 0x800000;

/** Flags a SIOCSIFFLAGS caller cannot change (FreeBSD's IFF_CANTCHANGE). */
export const IFF_CANTCHANGE =
  IFF_BROADCAST |
  IFF_POINTOPOINT |
  IFF_DRV_RUNNING |
  IFF_DRV_OACTIVE |
  IFF_SIMPLEX |
  IFF_MULTICAST |
  IFF_ALLMULTI |
  IFF_PROMISC |
  IFF_DYING |
  IFF_CANTCONFIG |
  IFF_LOOPBACK;

/** Names of the flag bits in the order ifconfig prints them. */
export const IFF_NAMES: ReadonlyArray<[number, string]> = [
  [IFF_UP, 'UP'],
  [IFF_BROADCAST, 'BROADCAST'],
  [IFF_DEBUG, 'DEBUG'],
  [IFF_LOOPBACK, 'LOOPBACK'],
  [IFF_POINTOPOINT, 'POINTOPOINT'],
  [IFF_DRV_RUNNING, 'RUNNING'],
  [IFF_NOARP, 'NOARP'],
  [IFF_PROMISC, 'PROMISC'],
  [IFF_ALLMULTI, 'ALLMULTI'],
  [IFF_DRV_OACTIVE, 'OACTIVE'],
  [IFF_SIMPLEX, 'SIMPLEX'],
  [IFF_LINK0, 'LINK0'],
  [IFF_LINK1, 'LINK1'],
  [IFF_LINK2, 'LINK2'],
  [IFF_MULTICAST, 'MULTICAST'],
  [IFF_CANTCONFIG, 'CANTCONFIG'],
  [IFF_PPROMISC, 'PPROMISC'],
  [IFF_MONITOR, 'MONITOR'],
  [IFF_STATICARP, 'STATICARP'],
  [IFF_DYING, 'DYING'],
  [IFF_RENAMING, 'RENAMING'],
  [IFF_NOGROUP, 'NOGROUP'],
];

// Capabilities (sys/net/if.h IFCAP_*), the ones an Ethernet driver here can claim.
export const IFCAP_RXCSUM = 0x1;
export const IFCAP_TXCSUM = 0x2;
export const IFCAP_VLAN_MTU = 0x8;
export const IFCAP_VLAN_HWTAGGING = 0x10;
export const IFCAP_JUMBO_MTU = 0x20;
export const IFCAP_LINKSTATE = 0x80000;

// Interface types (sys/net/if_types.h).
export const IFT_ETHER = 0x6;
export const IFT_LOOP = 0x18;

// Link states.
export const LINK_STATE_UNKNOWN = 0;
export const LINK_STATE_DOWN = 1;
export const LINK_STATE_UP = 2;

export const IFNAMSIZ = 16;
export const IF_MINMTU = 72;
export const IF_MAXMTU = 65535;
/** The global default send-queue limit (FreeBSD's ifqmaxlen, net.link.ifqmaxlen). */
export const IFQ_MAXLEN = 50;
/** Marks a driver without a unit number (if_dunit). */
export const IF_DUNIT_NONE = -1;

// ioctl commands (sys/sys/sockio.h), with FreeBSD's encoded values.
export const SIOCSIFFLAGS = 0x80206910;
export const SIOCGIFFLAGS = 0xc0206911;
export const SIOCSIFCAP = 0x8020691e;
export const SIOCGIFCAP = 0xc020691f;
export const SIOCADDMULTI = 0x80206931;
export const SIOCDELMULTI = 0x80206932;
export const SIOCGIFMTU = 0xc0206933;
export const SIOCSIFMTU = 0x80206934;

export const IOCTL_NAMES: Readonly<Record<number, string>> = {
  [SIOCSIFFLAGS]: 'SIOCSIFFLAGS',
  [SIOCGIFFLAGS]: 'SIOCGIFFLAGS',
  [SIOCSIFCAP]: 'SIOCSIFCAP',
  [SIOCGIFCAP]: 'SIOCGIFCAP',
  [SIOCADDMULTI]: 'SIOCADDMULTI',
  [SIOCDELMULTI]: 'SIOCDELMULTI',
  [SIOCGIFMTU]: 'SIOCGIFMTU',
  [SIOCSIFMTU]: 'SIOCSIFMTU',
};

/** Render flags as ifconfig does: `8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>`. */
export function flagsString(flags: number): string {
  const names = IFF_NAMES.filter(([bit]) => flags & bit).map(([, n]) => n);
  return `${(flags >>> 0).toString(16)}<${names.join(',')}>`;
}
