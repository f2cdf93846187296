/**
 * ifconfig(8) (FreeBSD sbin/ifconfig): show a host's interfaces, and on a
 * live host change them through the interface ioctls.
 *
 *   ifconfig [-n] interface [address_family] [parameters]
 *   ifconfig -a [-d] [-u] [address_family]
 *   ifconfig -l [-d] [-u] [address_family]
 *   ifconfig [-d] [-u]
 *
 * What it shows comes only from the sysctl tree:
 *
 *   net.route.iflist                      getifaddrs(3): per address its
 *                                         flags, mtu, metric, capenable,
 *                                         netmask, broadcast, prefix length,
 *                                         IPv6 address flags; ND6 flags on the
 *                                         link entry
 *   net.link.generic.ifdata.<i>.general   ifmibdata: if_data's type and link state
 *   net.link.generic.ifdata.<i>.drivername the driver, for the `groups:` line
 *
 * and is laid out as FreeBSD's status() does: the flags line (`%x` and the
 * IFFBITS names), `options=` when capabilities are enabled (IFCAPBITS), the
 * addresses of each family in the order ifconfig's sortifaddrs() gives
 * (interfaces in list order; within one, families in the order their first
 * address appears, addresses in list order), then the other-status lines:
 * `groups:` (interfaces made by a cloner: lo, tap, bridge...; never "all"),
 * `media:`/`status:` for Ethernet, and `nd6 options=` when ND6 flags are set.
 * With an address family only that family's lines are shown (and nd6 for
 * inet6), as FreeBSD does.
 *
 * Where taplab's output differs from a FreeBSD box, it is because the host
 * differs: addresses appear in the order taplab configured them (em0's
 * link-local is made when it attaches, before any IPv4 address, so its
 * `inet6` line comes first); lo0 has no fe80::1 and no capabilities; taplab
 * does no NUD, so `nd6 options` never shows PERFORMNUD.
 *
 * Parameters (applied in order through env.ioctl, FreeBSD's ioctls):
 * up, down, promisc/-promisc (IFF_PPROMISC, the permanent setting, as
 * FreeBSD), arp/-arp, debug/-debug, link0..2/-link0..2, monitor/-monitor,
 * staticarp/-staticarp (SIOCGIFFLAGS then SIOCSIFFLAGS), and mtu N
 * (SIOCSIFMTU). The first failure ends the run with FreeBSD's sentence
 * (`ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument`, exit 1).
 * Setting addresses and other FreeBSD parameters are refused by name; a
 * snapshot (no env.ioctl) refuses every change with one line.
 */
import { getopt, getoptMessage } from './getopt.js';
import type { SysctlReader, Tool, ToolEnv } from './tool.js';
import type { IflistEntry } from '../stats/sysctl.js';
import type { IfmibData } from '../stats/layouts.js';
import {
  IFF_BROADCAST,
  IFF_CANTCONFIG,
  IFF_DEBUG,
  IFF_LINK0,
  IFF_LINK1,
  IFF_LINK2,
  IFF_MONITOR,
  IFF_NOARP,
  IFF_PPROMISC,
  IFF_STATICARP,
  IFF_UP,
  IFT_ETHER,
  LINK_STATE_UP,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
} from '../driver/if_var.js';
import { errnoOf, strerror } from './sysctl_cmd.js';

const USAGE =
  'usage: ifconfig [-n] interface [address_family] [parameters]\n' +
  '       ifconfig -a [-d] [-u] [address_family]\n' +
  '       ifconfig -l [-d] [-u] [address_family]\n' +
  '       ifconfig [-d] [-u]\n';

const HELP =
  USAGE +
  `
Show the host's interfaces (FreeBSD ifconfig(8)); on a live host, change them.
  -a   all interfaces (the default)      -l   names only
  -u   only interfaces that are up       -d   only interfaces that are down
  -n   accepted and ignored (no kernel modules to load)
address_family: inet, inet6, link (or ether, lladdr).
parameters: up, down, mtu N, promisc, -promisc, arp, -arp, debug, -debug,
  link0, -link0 (and link1, link2), monitor, -monitor, staticarp, -staticarp
`;

// printb bit names: position (1-based) -> name, as the %b strings list them.
const IFFBITS: ReadonlyArray<[number, string]> = [
  [1, 'UP'], [2, 'BROADCAST'], [3, 'DEBUG'], [4, 'LOOPBACK'], [5, 'POINTOPOINT'], [7, 'RUNNING'],
  [8, 'NOARP'], [9, 'PROMISC'], [10, 'ALLMULTI'], [11, 'OACTIVE'], [12, 'SIMPLEX'], [13, 'LINK0'],
  [14, 'LINK1'], [15, 'LINK2'], [16, 'MULTICAST'], [18, 'PPROMISC'], [19, 'MONITOR'], [20, 'STATICARP'],
];

const IFCAPBITS: ReadonlyArray<[number, string]> = [
  [1, 'RXCSUM'], [2, 'TXCSUM'], [3, 'NETCONS'], [4, 'VLAN_MTU'], [5, 'VLAN_HWTAGGING'], [6, 'JUMBO_MTU'],
  [7, 'POLLING'], [8, 'VLAN_HWCSUM'], [9, 'TSO4'], [10, 'TSO6'], [11, 'LRO'], [12, 'WOL_UCAST'],
  [13, 'WOL_MCAST'], [14, 'WOL_MAGIC'], [15, 'TOE4'], [16, 'TOE6'], [17, 'VLAN_HWFILTER'], [19, 'VLAN_HWTSO'],
  [20, 'LINKSTATE'], [21, 'NETMAP'], [22, 'RXCSUM_IPV6'], [23, 'TXCSUM_IPV6'], [25, 'TXRTLMT'], [26, 'HWRXTSTMP'],
  [27, 'NOMAP'], [28, 'TXTLS4'], [29, 'TXTLS6'], [30, 'VXLAN_HWCSUM'], [31, 'VXLAN_HWTSO'], [32, 'TXTLS_RTLMT'],
];

const ND6BITS: ReadonlyArray<[number, string]> = [
  [1, 'PERFORMNUD'], [2, 'ACCEPT_RTADV'], [3, 'PREFER_SOURCE'], [4, 'IFDISABLED'], [5, 'DONT_SET_IFROUTE'],
  [6, 'AUTO_LINKLOCAL'], [7, 'NO_RADR'], [8, 'NO_PREFER_IFACE'], [9, 'NO_DAD'], [16, 'DEFAULTIF'],
];

/** IN6_IFF_* words in the order in6_status prints them. */
const IN6_IFF_WORDS: ReadonlyArray<[number, string]> = [
  [0x01, 'anycast'], [0x02, 'tentative'], [0x04, 'duplicated'], [0x08, 'detached'],
  [0x10, 'deprecated'], [0x40, 'autoconf'], [0x80, 'temporary'], [0x100, 'prefer_source'],
];

/** Drivers whose interfaces FreeBSD makes with a cloner, which puts them in a group of the driver's name. */
const CLONER_GROUPS = new Set(['lo', 'tap', 'tun', 'bridge', 'vlan', 'gif', 'gre', 'epair', 'lagg', 'vxlan']);

type Family = 'link' | 'inet' | 'inet6';
const AF_NAMES: Record<string, Family> = { inet: 'inet', inet6: 'inet6', link: 'link', ether: 'link', lladdr: 'link' };

/** Flag parameters: the name and the bit it sets (negative: clears). */
const FLAG_CMDS: Record<string, number> = {
  up: IFF_UP,
  down: -IFF_UP,
  arp: -IFF_NOARP,
  '-arp': IFF_NOARP,
  debug: IFF_DEBUG,
  '-debug': -IFF_DEBUG,
  promisc: IFF_PPROMISC,
  '-promisc': -IFF_PPROMISC,
  link0: IFF_LINK0,
  '-link0': -IFF_LINK0,
  link1: IFF_LINK1,
  '-link1': -IFF_LINK1,
  link2: IFF_LINK2,
  '-link2': -IFF_LINK2,
  normal: -IFF_LINK0,
  compress: IFF_LINK0,
  noicmp: IFF_LINK1,
  monitor: IFF_MONITOR,
  '-monitor': -IFF_MONITOR,
  staticarp: IFF_STATICARP,
  '-staticarp': -IFF_STATICARP,
};

/** FreeBSD parameters taplab does not implement: refused by name rather than taken for an address. */
const UNSUPPORTED = new Set([
  'metric', 'description', 'descr', '-description', '-descr', 'name', 'netmask', 'broadcast', 'prefixlen',
  'alias', '-alias', 'add', 'delete', 'remove', 'create', 'destroy', 'plumb', 'unplumb', 'tunnel', '-tunnel',
  'deletetunnel', 'vnet', '-vnet', 'group', '-group', 'media', 'mediaopt', '-mediaopt', 'mode', 'inst',
  'instance', 'rxcsum', '-rxcsum', 'txcsum', '-txcsum', 'tso', '-tso', 'lro', '-lro', 'vlanmtu', '-vlanmtu',
  'anycast', 'tentative', '-tentative', 'deprecated', '-deprecated', 'autoconf', '-autoconf', 'nud', '-nud',
  'accept_rtadv', '-accept_rtadv', 'auto_linklocal', '-auto_linklocal', 'ifdisabled', '-ifdisabled', 'pcp', '-pcp',
]);

class Exit {
  constructor(readonly code: number) {}
}

/** printb(): `label=<hex><NAME,...>`. */
function printb(label: string, v: number, bits: ReadonlyArray<[number, string]>): string {
  const names = bits.filter(([bit]) => bit <= 32 && (v >>> (bit - 1)) & 1).map(([, n]) => n);
  return `${label}=${(v >>> 0).toString(16)}<${names.join(',')}>`;
}

function ipv4ToInt(text: string | null): number {
  if (!text) return 0;
  const p = text.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return 0;
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** One interface: its entries in list order. */
interface Iface {
  index: number;
  name: string;
  entries: IflistEntry[];
  /** ifa_flags of its first entry, as main() and status() read them. */
  flags: number;
}

/** atoi(3): leading blanks, a sign and digits; 0 when there are none. */
function atoi(s: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) | 0 : 0;
}

function looksLikeAddress(word: string): boolean {
  const w = word.replace(/\/\d+$/, '');
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(w) || (/^[0-9a-fA-F:]+(%[\w.]+)?$/.test(w) && w.includes(':'));
}

class Ifconfig {
  out = '';
  err = '';
  constructor(private readonly env: ToolEnv) {}

  private errx(msg: string): never {
    this.err += `ifconfig: ${msg}\n`;
    throw new Exit(1);
  }

  private usage(): never {
    this.err += USAGE;
    throw new Exit(1);
  }

  /** getifaddrs(3), grouped per interface in list order. */
  private interfaces(): Iface[] {
    let list: IflistEntry[];
    try {
      list = this.env.tree.get('net.route.iflist').value as IflistEntry[];
    } catch (e) {
      return this.errx(`getifaddrs: ${strerror(e)}`);
    }
    const byIndex = new Map<number, Iface>();
    for (const e of list) {
      let i = byIndex.get(e.ifindex);
      if (!i) byIndex.set(e.ifindex, (i = { index: e.ifindex, name: e.ifname, entries: [], flags: e.flags >>> 0 }));
      i.entries.push(e);
    }
    return [...byIndex.values()];
  }

  run(argv: string[]): number {
    if (argv[0] === '--help') {
      this.out += HELP;
      return 0;
    }
    let all = false;
    let downonly = false;
    let uponly = false;
    let namesonly = false;
    const { items, operands } = getopt(argv, 'adlnu');
    for (const it of items) {
      if (it.error) {
        this.err += getoptMessage('ifconfig', it);
        this.usage();
      } else if (it.opt === 'a') all = true;
      else if (it.opt === 'd') downonly = true;
      else if (it.opt === 'u') uponly = true;
      else if (it.opt === 'l') namesonly = true;
      // -n: accepted, nothing to load
    }
    let args = operands;
    if (namesonly && all) this.usage();
    if (uponly && downonly) this.usage();
    if (!namesonly && args.length < 1) all = true;

    const ifaces = this.interfaces();
    let ifname: string | undefined;
    let af: Family | undefined;
    if (all || namesonly) {
      if (args.length > 1) this.usage();
      if (args.length === 1) {
        af = AF_NAMES[args[0]];
        if (!af) {
          this.err += `ifconfig: Address family '${args[0]}' unknown.\n`;
          this.usage();
        }
        args = [];
      }
    } else {
      ifname = args[0];
      args = args.slice(1);
      if (!ifaces.some((x) => x.name === ifname)) this.errx(`interface ${ifname} does not exist`);
      if (args.length > 0 && AF_NAMES[args[0]]) {
        af = AF_NAMES[args[0]];
        args = args.slice(1);
      }
    }
    const wanted = (x: Iface): boolean =>
      !(x.flags & IFF_CANTCONFIG) && !(downonly && x.flags & IFF_UP) && !(uponly && !(x.flags & IFF_UP));

    if (args.length > 0 && ifname !== undefined) {
      const x = ifaces.find((y) => y.name === ifname)!;
      if (wanted(x)) this.configure(ifname, args);
      return 0;
    }

    const names: string[] = [];
    for (const x of ifaces) {
      if (ifname !== undefined && x.name !== ifname) continue;
      if (!wanted(x)) continue;
      if (namesonly) {
        if (af === undefined || x.entries.some((e) => e.family === af && (af !== 'link' || isMac(e.addr)))) names.push(x.name);
        continue;
      }
      this.status(x, ifaces, af);
    }
    if (namesonly) this.out += names.join(' ') + '\n';
    return 0;
  }

  // ---------------------------------------------------------------- status

  private status(x: Iface, ifaces: Iface[], af: Family | undefined): void {
    const first = x.entries[0];
    this.out += `${x.name}: ${printb('flags', x.flags, IFFBITS)} metric ${first.metric} mtu ${first.mtu}\n`;
    if (first.capenable) this.out += `\t${printb('options', first.capenable, IFCAPBITS)}\n`;

    const mib = this.ifmib(x);
    // sortifaddrs: families in the order of their first address on this interface.
    const rank = new Map<Family, number>();
    for (const e of x.entries) if (!rank.has(e.family)) rank.set(e.family, rank.size);
    const sorted = x.entries.map((e, k) => ({ e, k })).sort((a, b) => rank.get(a.e.family)! - rank.get(b.e.family)! || a.k - b.k);
    for (const { e } of sorted) {
      if (af !== undefined && e.family !== af) continue;
      if (e.family === 'link') this.linkStatus(e, mib.type);
      else if (e.family === 'inet') this.inStatus(e);
      else this.in6Status(e, ifaces);
    }

    if (af === undefined) {
      const group = mib.drivername.replace(/\d+$/, '');
      if (CLONER_GROUPS.has(group)) this.out += `\tgroups: ${group}\n`;
      if (mib.type === IFT_ETHER) {
        this.out += '\tmedia: Ethernet autoselect\n';
        this.out += `\tstatus: ${mib.linkState === LINK_STATE_UP ? 'active' : 'no carrier'}\n`;
      }
    }
    if (af === undefined || af === 'inet6') {
      const nd6 = first.family === 'link' ? first.nd6flags : x.entries.find((e) => e.family === 'link')?.nd6flags;
      if (nd6) this.out += `\t${printb('nd6 options', nd6, ND6BITS)}\n`;
    }
  }

  /** Type, link state and driver name of an interface, from its ifmib row (the link entry's if_data as fallback). */
  private ifmib(x: Iface): { type: number; linkState: number; drivername: string } {
    const tree: SysctlReader = this.env.tree;
    const link = x.entries.find((e) => e.family === 'link');
    const data = link && 'ifi_type' in link.data ? link.data : undefined;
    let type = data?.ifi_type ?? 0;
    let linkState = data?.ifi_link_state ?? 0;
    let drivername = x.name;
    try {
      const g = tree.get(`net.link.generic.ifdata.${x.index}.general`).value as IfmibData;
      type = g.data.ifi_type;
      linkState = g.data.ifi_link_state;
    } catch {
      /* a reader without the ifmib rows: the link entry's if_data says the same */
    }
    try {
      drivername = String(tree.get(`net.link.generic.ifdata.${x.index}.drivername`).value);
    } catch {
      /* keep the interface name */
    }
    return { type, linkState, drivername };
  }

  private linkStatus(e: IflistEntry, type: number): void {
    if (!isMac(e.addr)) return; // sdl_alen == 0: no link-layer address to show
    this.out += type === IFT_ETHER ? `\tether ${e.addr.toLowerCase()}\n` : `\tlladdr ${e.addr.toLowerCase()}\n`;
  }

  private inStatus(e: IflistEntry): void {
    let s = `\tinet ${e.addr}`;
    s += ` netmask 0x${ipv4ToInt(e.netmask).toString(16)}`;
    if (e.flags & IFF_BROADCAST && e.broadaddr && ipv4ToInt(e.broadaddr) !== 0) s += ` broadcast ${e.broadaddr}`;
    this.out += s + '\n';
  }

  private in6Status(e: IflistEntry, ifaces: Iface[]): void {
    // getnameinfo(NI_NUMERICHOST) adds the zone of a scoped address by interface name.
    const zone = e.scopeid ? `%${ifaces.find((y) => y.index === e.scopeid)?.name ?? e.scopeid}` : '';
    let s = `\tinet6 ${e.addr}${zone} prefixlen ${e.prefixlen ?? 0}`;
    for (const [bit, word] of IN6_IFF_WORDS) if ((e.addrflags ?? 0) & bit) s += ` ${word}`;
    if (e.scopeid) s += ` scopeid 0x${e.scopeid.toString(16)}`;
    this.out += s + '\n';
  }

  // ---------------------------------------------------------------- parameters

  private configure(name: string, args: string[]): void {
    const ioctl = this.env.ioctl;
    for (let k = 0; k < args.length; k++) {
      const word = args[k];
      const flag = FLAG_CMDS[word];
      if (flag === undefined && word !== 'mtu') {
        if (UNSUPPORTED.has(word)) this.errx(`'${word}' is not supported by taplab's ifconfig (it sets up, down, mtu, promisc, arp, debug, link0-2, monitor, staticarp)`);
        if (looksLikeAddress(word)) this.errx(`${word}: setting addresses is not supported by taplab's ifconfig (give them in the lab file or to taplab host)`);
        this.errx(`${word}: bad value`);
      }
      if (word === 'mtu' && args[k + 1] === undefined) this.errx(`'mtu' requires argument`);
      if (!ioctl) this.errx(`${name}: cannot change a snapshot: there is no live host to send ioctls to`);
      if (word === 'mtu') {
        const mtu = atoi(args[++k]);
        try {
          ioctl(SIOCSIFMTU, { ifr_name: name, ifr_mtu: mtu });
        } catch (e) {
          this.errx(`ioctl SIOCSIFMTU (set mtu): ${strerror(e)}`);
        }
        continue;
      }
      let flags: number;
      try {
        flags = ioctl(SIOCGIFFLAGS, { ifr_name: name }).ifr_flags ?? 0;
      } catch (e) {
        return this.perror('ioctl (SIOCGIFFLAGS)', e);
      }
      flags = flag! < 0 ? flags & ~-flag! : flags | flag!;
      try {
        ioctl(SIOCSIFFLAGS, { ifr_name: name, ifr_flags: flags >>> 0 });
      } catch (e) {
        this.perror(word, e);
      }
    }
  }

  /** Perror(): ENXIO and EPERM have their own words; anything else is err(3)'s `cmd: strerror`. */
  private perror(cmd: string, e: unknown): never {
    const code = errnoOf(e);
    if (code === 'ENXIO') this.errx(`${cmd}: no such interface`);
    if (code === 'EPERM') this.errx(`${cmd}: permission denied`);
    return this.errx(`${cmd}: ${strerror(e)}`);
  }
}

function isMac(text: string): boolean {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text);
}

/** Run ifconfig(8) over a tool environment; returns the exit status. */
export function ifconfig(env: ToolEnv, argv: string[]): number {
  const r = new Ifconfig(env);
  let code: number;
  try {
    code = r.run(argv);
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    code = e.code;
  }
  if (r.out) env.out(r.out);
  if (r.err) env.err(r.err);
  return code;
}

/** ifconfig as a Tool (CLI, control socket, lab shell). */
export const ifconfigTool: Tool = {
  name: 'ifconfig',
  summary: 'show and configure network interfaces (FreeBSD ifconfig(8))',
  run: (env, argv) => ifconfig(env, argv),
};
