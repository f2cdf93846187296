/**
 * ifmcstat(8), the sysctl backend (freebsd-formats.md §1): a pure function
 * from a host's sysctl tree to the text FreeBSD's ifmcstat prints. It reads
 * only the tree:
 *
 *   net.route.iflist                    getifaddrs(3)
 *   net.route.ifmalist                  getifmaddrs(3)
 *   net.inet.igmp.ifinfo.<ifindex>      the IGMP line (§1.4)
 *   net.inet6.mld.ifinfo.<ifindex>      the MLD line (§1.5)
 *   net.inet.ip.mcast.filters...        mode and sources of IPv4 groups
 *   net.inet6.ip6.mcast.filters...      mode and sources of IPv6 groups
 *
 * -K (kvm) and -M/-N (core, system) belong to the WITH_KVM build, which this
 * is not: they are refused with a sentence saying so and EX_USAGE.
 */
import type { ToolResult, SysctlReader, Tool } from './tool.js';
import type { IflistEntry, IfmalistEntry, IfFamily } from '../stats/sysctl.js';
import { in6Parse, in6ToString } from '../inet/in6.js';
import type { KvmIfnet } from '../stats/sysctl_kvm.js';
import { readSnapshot } from '../stats/snapshot.js';
import { getopt, getoptMessage } from './getopt.js';
import type { IgmpIfinfo } from '../igmp/igmp.js';
import type { MldIfinfo } from '../mld/mld.js';

export type { ToolResult } from './tool.js';

const EX_OK = 0;
const EX_USAGE = 64;
const EX_NOHOST = 68;
const EX_OSERR = 71;

const USAGE = 'usage: ifmcstat [-i interface] [-f address family] [-v] [-K] [-M core] [-N system]\n';

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EINVAL: 'Invalid argument',
  ENOMEM: 'Cannot allocate memory',
  ENXIO: 'Device not configured',
};

function strerror(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string') return STRERROR[code] ?? code;
  return e instanceof Error ? e.message : String(e);
}

class Exit {
  constructor(readonly code: number) {}
}

export interface IfmcstatOptions {
  /** Open a snapshot for -M (the CLI passes readSnapshot); absent → -M is refused. */
  openCore?: (path: string) => SysctlReader;
}

export function ifmcstat(tree: SysctlReader, argv: string[], opts: IfmcstatOptions = {}): ToolResult {
  let out = '';
  let err = '';
  const usage = (): never => {
    err += USAGE;
    throw new Exit(EX_USAGE);
  };
  try {
    // ---- getopt("i:f:vKM:N:")
    let ifindex = 0;
    let af: IfFamily | undefined;
    // (-h is no option of ifmcstat(8): "illegal option -- h", as there.)
    if (argv.length === 1 && argv[0] === '--help') {
      out += USAGE + HELP;
      return { stdout: out, stderr: err, code: EX_OK };
    }
    let vflag = 0;
    let kflag = false;
    let core: string | undefined;
    let ifname: string | undefined;
    const { items, operands } = getopt(argv, 'i:f:vKM:N:');
    // ifmcstat(8) resolves -i as it parses it (so `-i bogus -f bogus` fails on the
    // interface); with -M the name is looked up in the snapshot, once it is open.
    const live = !items.some((it) => it.opt === 'M');
    const resolve = (name: string): number => {
      const index = nametoindex(tree, name);
      if (index === 0) {
        err += `${name}: unknown interface\n`;
        throw new Exit(EX_NOHOST);
      }
      return index;
    };
    for (const it of items) {
      if (it.error) {
        err += getoptMessage('ifmcstat', it);
        return usage();
      }
      switch (it.opt) {
        case 'v':
          vflag++;
          break;
        case 'K':
          kflag = true;
          break;
        case 'i':
          ifname = it.arg;
          if (live) ifindex = resolve(it.arg!);
          break;
        case 'f':
          if (it.arg !== 'inet' && it.arg !== 'inet6' && it.arg !== 'link') {
            err += `${it.arg}: unknown address family\n`;
            throw new Exit(EX_USAGE);
          }
          af = it.arg;
          break;
        case 'M':
          core = it.arg;
          break;
        case 'N':
          err += `ifmcstat: -N ${it.arg}: taplab has no kernel name list; -M FILE reads a host snapshot, which needs none\n`;
          throw new Exit(EX_USAGE);
      }
    }
    if (operands.length) usage();
    if (af === 'link' && vflag) usage();

    // ---- -M: read a snapshot instead of the live tree (the core file of kvm_openfiles).
    if (core !== undefined) {
      if (!opts.openCore) {
        err += `ifmcstat: -M ${core}: snapshots cannot be opened here\n`;
        throw new Exit(EX_USAGE);
      }
      try {
        tree = opts.openCore(core);
      } catch (e) {
        err += `ifmcstat: kvm_openfiles: ${messageOf(e)}\n`;
        throw new Exit(EX_OSERR);
      }
    }
    if (ifname !== undefined && !live) ifindex = resolve(ifname);
    if (kflag) {
      out += kvmDump(tree, ifindex, af, vflag);
      return { stdout: out, stderr: err, code: EX_OK };
    }

    // ---- getifaddrs / getifmaddrs
    let ifaddrs: IflistEntry[];
    let ifmaddrs: IfmalistEntry[];
    try {
      ifaddrs = tree.get('net.route.iflist').value as IflistEntry[];
      ifmaddrs = tree.get('net.route.ifmalist').value as IfmalistEntry[];
    } catch (e) {
      err += `ifmcstat: getifmaddrs: ${strerror(e)}\n`;
      throw new Exit(EX_OSERR);
    }

    let lastIndex = 0;
    let lastPrimary: string | undefined;
    for (const ifma of ifmaddrs) {
      if (ifindex && ifma.ifindex !== ifindex) continue;
      if (af && ifma.family !== af) continue;
      const ifname = ifma.ifname.split(':')[0];
      if (ifma.ifindex !== lastIndex) {
        out += `${ifname}:\n`;
        lastIndex = ifma.ifindex;
      }
      const primary = ifaddrs.find(
        (a) => a.ifname === ifma.ifname && a.family === ifma.family && (a.family !== 'inet6' || isLinkLocal(a.addr)),
      );
      if (!primary) continue;
      if (ifma.family === 'link' && vflag === 0) continue;
      const key = `${primary.family} ${primary.addr} ${primary.scopeid}`;
      if (key !== lastPrimary) {
        out += `\t${primary.family} ${addrText(primary.addr, primary.scopeid, ifname)}\n`;
        if (primary.family === 'inet') {
          const line = igmpLine(tree, ifma.ifindex, vflag);
          if (typeof line === 'string') out += line;
          else err += line.err;
        } else if (primary.family === 'inet6') {
          const line = mldLine(tree, ifma.ifindex, vflag);
          if (typeof line === 'string') out += line;
          else err += line.err;
        }
        lastPrimary = key;
      }
      out += `\t\tgroup ${addrText(ifma.group, ifma.scopeid, ifname)}`;
      if (ifma.family !== 'link') {
        const f = filter(tree, ifma);
        err += f.err;
        if (f.mode !== undefined) {
          out += ` mode ${MODES[f.mode] ?? `(${f.mode})`}`;
          if (vflag && f.sources.length) out += ` srcs ${f.sources.join(',')}`;
        }
      }
      out += '\n';
      if (ifma.lladdr !== null) out += `\t\t\tmcast-macaddr ${ifma.lladdr}\n`;
    }
    return { stdout: out, stderr: err, code: EX_OK };
  } catch (e) {
    if (e instanceof Exit) return { stdout: out, stderr: err, code: e.code };
    if (e instanceof KvmError) return { stdout: out, stderr: err + e.message, code: EX_OSERR };
    throw e;
  }
}

const MODES: Record<number, string> = { 0: 'undefined', 1: 'include', 2: 'exclude' };

const HELP = `
Dump the multicast group memberships of a taplab host, per interface
(FreeBSD ifmcstat(8)); it reads only the host's sysctl tree.

  -i interface   only this interface
  -f family      only inet, inet6 or link memberships (link needs no -v)
  -v             also show sources, link-layer memberships and IGMP/MLD
                 details; -vv adds the protocol timers
  -K             the direct walk (kvm) form: every interface, reference
                 counts, group states and, with -vv, t1 filter counters
  -M file        read a snapshot written by 'taplab -j HOST snapshot FILE'
  -N system      refused: taplab has no kernel name list
`;

/**
 * Group states with the corrected 10-entry table of freebsd-formats.md
 * §5.2 (FreeBSD's own table omits "reporting" and shifts every later
 * name by one; taplab prints the state the group is really in).
 */
const STATES = ['not-member', 'silent', 'reporting', 'idle', 'lazy', 'sleeping', 'awakening', 'query-pending', 'sg-query-pending', 'leaving'];

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message.replace(/^[A-Z0-9]+: /, '') : String(e);
}

/** -K: the kvm walk of §1.9 over debug.taplab.kvm. */
function kvmDump(tree: SysctlReader, ifindex: number, af: string | undefined, vflag: number): string {
  let list: KvmIfnet[];
  try {
    list = tree.get('debug.taplab.kvm').value as KvmIfnet[];
  } catch (e) {
    throw new KvmError(`ifmcstat: kvm_read: debug.taplab.kvm: ${strerror(e)}\n`);
  }
  let out = '';
  for (const ifp of list) {
    if (ifindex && ifp.ifindex !== ifindex) continue;
    out += `${ifp.name}:\n`;
    for (const fam of ['inet', 'inet6'] as const) {
      if (af && af !== fam) continue;
      const addrs = ifp.addrs.filter((a) => a.family === fam);
      for (const a of addrs) {
        out += `\t${fam} ${addrText(a.addr, a.scopeid, ifp.name)}\n`;
        const line = fam === 'inet' ? igmpLine(tree, ifp.ifindex, vflag) : mldLine(tree, ifp.ifindex, vflag);
        if (typeof line === 'string') out += line;
      }
      if (addrs.length === 0) continue;
      for (const g of ifp.groups) {
        if (g.family !== fam) continue;
        out += `\t\tgroup ${addrText(g.group, g.scopeid, ifp.name)} refcnt ${g.refcnt}`;
        if (fam === 'inet') {
          out += ` state ${g.state !== undefined ? (STATES[g.state] ?? `(${g.state})`) : '(none)'}`;
          out += ` mode ${g.mode !== undefined ? (MODES[g.mode] ?? `(${g.mode})`) : '(none)'}`;
          if (vflag >= 2 && g.t1) out += ` asm ${g.t1.asm} ex ${g.t1.ex} in ${g.t1.in} rec ${g.t1.rec}`;
        }
        out += '\n';
        if (g.lladdr) out += `\t\t\tmcast-macaddr ${g.lladdr} refcnt ${g.llrefcnt ?? 0}\n`;
      }
    }
    if (vflag && ifp.lladdr && (!af || af === 'link')) {
      out += `\tlink ${ifp.lladdr}\n`;
      for (const g of ifp.groups) if (g.family === 'link') out += `\t\tgroup ${g.group} refcnt ${g.refcnt}\n`;
    }
  }
  return out;
}

class KvmError extends Error {}

/** if_nametoindex(3) over getifaddrs: 0 when there is no such interface. */
function nametoindex(tree: SysctlReader, name: string): number {
  try {
    const list = tree.get('net.route.iflist').value as IflistEntry[];
    return list.find((a) => a.family === 'link' && a.ifname === name)?.ifindex ?? 0;
  } catch {
    return 0;
  }
}

function isLinkLocal(text: string): boolean {
  // fe80::/10: a first word of four digits fe80..febf.
  return /^fe[89ab][0-9a-f]:/i.test(text);
}

/** getnameinfo(NI_NUMERICHOST) with the zone, then ` scopeid 0x<hex>` when the scope id is set. */
function addrText(addr: string, scopeid: number, ifname: string): string {
  return scopeid ? `${addr}%${ifname} scopeid 0x${scopeid.toString(16)}` : addr;
}

/** kernel %b: `flags=<hex><NAMES>`, only when non-zero. */
function flagsText(flags: number, names: Record<number, string>): string {
  if (!flags) return '';
  const set: string[] = [];
  for (let bit = 1; bit <= 32; bit++) if (flags & (1 << (bit - 1)) && names[bit]) set.push(names[bit]);
  return ` flags=${(flags >>> 0).toString(16)}<${set.join(',')}>`;
}

function igmpLine(tree: SysctlReader, ifindex: number, vflag: number): string | { err: string } {
  let igi: IgmpIfinfo;
  try {
    igi = tree.get(`net.inet.igmp.ifinfo.${ifindex}`).value as IgmpIfinfo;
  } catch (e) {
    return { err: `sysctl net.inet.igmp.ifinfo: ${strerror(e)}\n` };
  }
  const v = igi.igi_version;
  let s = `\t${v >= 1 && v <= 3 ? `igmpv${v}` : `igmpv?(${v})`}`;
  s += flagsText(igi.igi_flags, { 1: 'SILENT', 2: 'LOOPBACK' });
  if (v === 3) s += ` rv ${igi.igi_rv} qi ${igi.igi_qi} qri ${igi.igi_qri} uri ${igi.igi_uri}`;
  if (vflag >= 2) s += ` v1timer ${igi.igi_v1_timer} v2timer ${igi.igi_v2_timer} v3timer ${igi.igi_v3_timer}`;
  return s + '\n';
}

function mldLine(tree: SysctlReader, ifindex: number, vflag: number): string | { err: string } {
  let mli: MldIfinfo;
  try {
    mli = tree.get(`net.inet6.mld.ifinfo.${ifindex}`).value as MldIfinfo;
  } catch (e) {
    return { err: `sysctl net.inet6.mld.ifinfo: ${strerror(e)}\n` };
  }
  const v = mli.mli_version;
  let s = `\t${v >= 1 && v <= 2 ? `mldv${v}` : `mldv?(${v})`}`;
  s += flagsText(mli.mli_flags, { 1: 'SILENT', 2: 'USEALLOW' });
  if (v === 2) s += ` rv ${mli.mli_rv} qi ${mli.mli_qi} qri ${mli.mli_qri} uri ${mli.mli_uri}`;
  if (vflag >= 2) s += ` v1timer ${mli.mli_v1_timer} v2timer ${mli.mli_v2_timer}`;
  return s + '\n';
}

/** The group's 32-bit words in network order, as the filters name wants them. */
function groupWords(family: 'inet' | 'inet6', text: string): number[] {
  if (family === 'inet') {
    const b = text.split('.').map(Number);
    return [((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0];
  }
  const bytes = in6Parse(text) ?? new Uint8Array(16);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return [0, 1, 2, 3].map((w) => dv.getUint32(w * 4, false));
}

/** The filter sysctl of a group: mode and in-mode sources, decoded from the bytes a C program gets. */
function filter(tree: SysctlReader, ifma: IfmalistEntry): { mode?: number; sources: string[]; err: string } {
  const family = ifma.family as 'inet' | 'inet6';
  const base = family === 'inet' ? 'net.inet.ip.mcast.filters' : 'net.inet6.ip6.mcast.filters';
  let bytes: Uint8Array;
  try {
    bytes = tree.get(`${base}.${ifma.ifindex}.${groupWords(family, ifma.group).join('.')}`).bytes;
  } catch (e) {
    return { sources: [], err: `sysctl ${base}: ${strerror(e)}\n` };
  }
  if (bytes.length < 4) return { sources: [], err: '' };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mode = dv.getUint32(0, true);
  const alen = family === 'inet' ? 4 : 16;
  const n = Math.floor((bytes.length - 4) / alen);
  const sources: string[] = [];
  for (let k = 0; k < n; k++) {
    const off = 4 + k * alen;
    sources.push(family === 'inet' ? `${bytes[off]}.${bytes[off + 1]}.${bytes[off + 2]}.${bytes[off + 3]}` : in6ToString(bytes.subarray(off, off + 16)));
  }
  const trailing = (bytes.length - 4) % alen;
  const err = trailing ? `warning: ${trailing} trailing bytes from ${base}\n` : '';
  return { mode, sources, err };
}

/** ifmcstat as a Tool (for the CLI, the control socket and labs). */
export const ifmcstatTool: Tool = {
  name: 'ifmcstat',
  summary: 'dump multicast group management statistics per interface (FreeBSD ifmcstat(8))',
  run(env, argv) {
    const r = ifmcstat(env.tree, argv, { openCore: readSnapshot });
    if (r.stdout) env.out(r.stdout);
    if (r.stderr) env.err(r.stderr);
    return r.code;
  },
};
