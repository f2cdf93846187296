/**
 * netstat(1), FreeBSD's (usr.bin/netstat, the libxo version), as a pure
 * reader of a host's sysctl tree (freebsd-formats.md §2 is the
 * specification; the texts and keys are FreeBSD's). What it reads:
 *
 *   net.route.iflist / net.route.ifmalist   getifaddrs(3) / getifmaddrs(3): -i, -I, -a, -w, -g
 *   net.inet.udp.pcblist                    the socket list (default, -a, -A, -L, -p udp)
 *   net.inet.{ip,icmp,udp,igmp}.stats       -s, -p ip|icmp|udp|igmp (written with zeroes for -z)
 *   net.inet6.{ip6,icmp6}.stats             -s, -p ip6|icmp6
 *   net.inet6.{ip6,icmp6}.ifstats.<index>   -s -I if, -i -s (FreeBSD's SIOCGIFSTAT_IN6/_ICMP6)
 *   net.route.dump / net.route.stats        -r / -rs
 *   kern.ipc.pktbufs                        -m
 *
 * A leaf the tree does not have (ENOENT) is skipped silently, as FreeBSD
 * skips statistics of protocols the kernel lacks: taplab has no TCP, raw,
 * divert, PIM, CARP or ARP statistics, so `netstat -s` prints udp, ip, icmp,
 * igmp, ip6 and icmp6, and `-p tcp` prints nothing.
 *
 * Dispatch, in main.c's order: --help; -m; -i/-I/-w without -s (the
 * interface table, or the interval display when -w > 0); -r (-rs: routing
 * statistics); -g; -p; the socket list (or, with -s, the statistics of
 * every protocol of the family; with -s and -i/-I the per-interface ip6
 * and icmp6 blocks).
 *
 * Where taplab differs, and why:
 *  - No name resolution: taplab has no resolver, hosts, networks or
 *    services database, so addresses and ports always print numerically;
 *    -n and -S are accepted and still select FreeBSD's numeric column
 *    widths (netstat -r).
 *  - -g prints what modern FreeBSD prints (the IPv4 and IPv6 multicast
 *    routing tables; taplab does no multicast routing, so the four "is
 *    empty" lines) and then, as FreeBSD 7 and Darwin did, the three group
 *    membership tables of getifmaddrs(3) in the order Link-layer, IPv4,
 *    IPv6. With -4/-6/-f only that family's tables are printed (-f link:
 *    only the link-layer memberships). -gs warns, as FreeBSD does on a
 *    kernel without multicast routing, that the statistics sysctls are
 *    missing.
 *  - -m: taplab has no mbufs. It reports what holds packets: the
 *    interface send queues (if_snd rings of fixed slots; their length,
 *    limit, bytes and refusals) and the UDP socket receive buffers, in
 *    netstat -m's "current/free/total" style (see mbpr below).
 *  - -B, -Q, -x, -T, -R, -P and the kvm options -M/-N (or a name list given
 *    as an operand) need things taplab does not have; each is refused with
 *    a sentence saying so and exit status 1.
 *  - Usage errors exit 1, as FreeBSD's usage() does (exit(1), not EX_USAGE);
 *    an unknown -f family or -p protocol exits 1 with FreeBSD's message; an
 *    unknown interface with -w exits 65 (EX_DATAERR).
 *  - --libxo accepts json and text (and json,pretty...); --json is short
 *    for --libxo json. JSON is written once, at the end (for -w, when the
 *    count runs out or the run is aborted).
 */
import { getopt, getoptMessage } from './getopt.js';
import type { SysctlReader, Tool, ToolEnv } from './tool.js';
import type { IflistEntry, IfmalistEntry, IfaData } from '../stats/sysctl.js';
import type { IfData } from '../driver/ifnet.js';
import type { PcbEntry, PktBufStats, RtEntry, RtStat } from '../stats/sysctl_net.js';
import { icmp6TypeName } from '../inet/icmp6_codec.js';
import { in6Mask, in6Parse, in6ToString } from '../inet/in6.js';

const EX_DATAERR = 65;
const EX_OSERR = 71;
const EX_USAGE = 64;
const IFF_UP = 0x1;

const USAGE = [
  'usage: netstat [-46AaLnRSTWx] [-f protocol_family | -p protocol]',
  '               [-M core] [-N system]',
  '       netstat -i | -I interface [-46abdhnW] [-f address_family]',
  '               [-M core] [-N system]',
  '       netstat -w wait [-I interface] [-46d] [-M core] [-N system]',
  '               [-q howmany]',
  '       netstat -s [-46sz] [-f protocol_family | -p protocol]',
  '               [-M core] [-N system]',
  '       netstat -i | -I interface -s [-46s]',
  '               [-f protocol_family | -p protocol] [-M core] [-N system]',
  '       netstat -m [-M core] [-N system]',
  '       netstat -B [-z] [-I interface]',
  '       netstat -r [-46AnW] [-F fibnum] [-f address_family]',
  '               [-M core] [-N system]',
  '       netstat -rs [-s] [-M core] [-N system]',
  '       netstat -g [-46W] [-f address_family] [-M core] [-N system]',
  '       netstat -gs [-46s] [-f address_family] [-M core] [-N system]',
  '       netstat -Q',
  '',
].join('\n');

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ENXIO: 'Device not configured',
  ENOMEM: 'Cannot allocate memory',
  EINVAL: 'Invalid argument',
  EPFNOSUPPORT: 'Protocol family not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol family',
  EOPNOTSUPP: 'Operation not supported',
};

function errCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'string' ? c : undefined;
}

function strerror(e: unknown): string {
  const c = errCode(e);
  if (c) return STRERROR[c] ?? c;
  return e instanceof Error ? e.message : String(e);
}

class Exit {
  constructor(readonly code: number) {}
}

// ---------------------------------------------------------------------------
// A small libxo: every emit carries the text and the fields; text mode keeps
// the text, JSON mode the fields (in order; a repeated key stays repeated, as
// libxo writes it).

type XoValue = number | string | XoObject | XoValue[];

class XoObject {
  readonly pairs: [string, XoValue][] = [];
  get(key: string): XoValue | undefined {
    return this.pairs.find(([k]) => k === key)?.[1];
  }
  add(key: string, v: XoValue): void {
    this.pairs.push([key, v]);
  }
}

function xoSerialize(v: XoValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(xoSerialize).join(', ')}]`;
  return `{${v.pairs.map(([k, x]) => `${JSON.stringify(k)}: ${xoSerialize(x)}`).join(', ')}}`;
}

class Xo {
  private readonly root = new XoObject();
  private readonly stack: XoObject[] = [this.root];
  private buf = '';
  constructor(
    readonly json: boolean,
    private readonly sink: (s: string) => void,
  ) {}

  private get top(): XoObject {
    return this.stack[this.stack.length - 1];
  }

  /** Text (text mode) and fields (JSON mode). */
  emit(text: string, fields: [string, XoValue][] = []): void {
    if (this.json) for (const [k, v] of fields) this.top.add(k, v);
    else this.buf += text;
  }

  open(name: string): void {
    if (!this.json) return;
    const o = new XoObject();
    this.top.add(name, o);
    this.stack.push(o);
  }

  /** An instance of list `name` (the list is made on first use). */
  instance(name: string): void {
    if (!this.json) return;
    let list = this.top.get(name);
    if (!Array.isArray(list)) {
      list = [];
      this.top.add(name, list);
    }
    const o = new XoObject();
    list.push(o);
    this.stack.push(o);
  }

  close(): void {
    if (this.json && this.stack.length > 1) this.stack.pop();
  }

  /** Write the text so far (interval mode writes line by line). */
  flush(): void {
    if (this.buf) this.sink(this.buf);
    this.buf = '';
  }

  finish(): void {
    this.flush();
    if (this.json) this.sink(xoSerialize(this.root) + '\n');
  }
}

// ---------------------------------------------------------------------------
// Formatting helpers.

const plural = (n: number): string => (n !== 1 ? 's' : '');
const plurales = (n: number): string => (n !== 1 ? 'es' : '');
const pluralies = (n: number): string => (n !== 1 ? 'ies' : 'y');

/** %-*s (pad) and %-*.*s (pad and cut). */
const lpad = (s: string, w: number): string => s.padEnd(w);
const lcut = (s: string, w: number): string => s.slice(0, Math.max(0, w)).padEnd(w);
const rpad = (s: string | number, w: number): string => String(s).padStart(w);

/** if.c's column measure: 2, plus one per division by ten while the value is above 10. */
function quirkyLen(v: number): number {
  let len = 2;
  while (v > 10) {
    v = Math.floor(v / 10);
    len++;
  }
  return len;
}

/**
 * humanize_number(3) into a 5-byte buffer with HN_AUTOSCALE, HN_NOSPACE and
 * HN_DECIMAL (netstat -h): at most four characters.
 */
export function humanize(value: number, div1000: boolean): string {
  const divisor = div1000 ? 1000 : 1024;
  const deccut = div1000 ? 950 : 973;
  const prefixes = div1000 ? ['', 'k', 'M', 'G', 'T', 'P', 'E'] : ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  const max = 1000; // 10^(len 5 - baselen 2)
  let q = Math.floor(value);
  let r = 0;
  let i = 0;
  while ((q >= max || (q === max - 1 && (r >= deccut || r >= divisor / 2))) && i < prefixes.length - 1) {
    r = q % divisor;
    q = Math.floor(q / divisor);
    i++;
  }
  let s: string;
  if (((q === 9 && r < deccut) || q < 9) && i > 0) {
    const s1 = q + Math.floor(Math.floor((r * 10 + divisor / 2) / divisor) / 10);
    const s2 = Math.floor((r * 10 + divisor / 2) / divisor) % 10;
    s = `${s1}.${s2}${prefixes[i]}`;
  } else s = `${q + Math.floor((r + divisor / 2) / divisor)}${prefixes[i]}`;
  return s.slice(0, 4);
}

function hexFlags(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function ipv4Masked(addr: string, plen: number): string {
  const b = addr.split('.').map(Number);
  const u = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  const m = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
  const n = (u & m) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

function ipv6Masked(addr: string, plen: number): string {
  const a = in6Parse(addr.split('%')[0]);
  if (!a) return addr;
  const m = in6Mask(plen);
  return in6ToString(a.map((x, i) => x & m[i]));
}

/** inet_lnaof(3): the host part of a classful IPv4 address. */
function inetLnaof(addr: string): number {
  const b = addr.split('.').map(Number);
  const u = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  if ((u & 0x80000000) === 0) return u & 0x00ffffff;
  if ((u & 0xc0000000) === 0x80000000) return u & 0x0000ffff;
  return u & 0x000000ff;
}

// ---------------------------------------------------------------------------
// Options.

/** Address families of -f; pfkey and netgraph are valid names with nothing to show in taplab. */
type Af = 'unspec' | 'inet' | 'inet6' | 'link' | 'unix' | 'pfkey' | 'netgraph';

interface Opts {
  af: Af;
  A: boolean;
  a: boolean;
  b: boolean;
  d: boolean;
  g: boolean;
  h: boolean;
  i: boolean;
  L: boolean;
  m: boolean;
  numericAddr: boolean;
  r: boolean;
  s: number;
  W: boolean;
  z: boolean;
  p: Protox | undefined;
  interface: string | undefined;
  interval: number;
  /** -q plus one, as main.c keeps it (0: no limit). */
  noutputs: number;
  fib: string | undefined;
  json: boolean;
}

/** FreeBSD's protox tables: what -p names, what -s prints, in order. */
interface Protox {
  name: string;
  /** The socket list routine's protocol (undefined: none). */
  pcb?: 'tcp' | 'udp' | 'raw' | 'divert';
  /** The statistics routine. */
  stats?: StatsFn;
  /** The per-interface statistics routine. */
  istats?: 'ip6' | 'icmp6';
}

type StatsFn = (ctx: Ctx, name: string) => void;

// ---------------------------------------------------------------------------
// The run.

interface Ctx {
  tree: SysctlReader;
  env: ToolEnv;
  o: Opts;
  xo: Xo;
  err: (s: string) => void;
  /** tcp_done / udp_done of inet.c: each is printed once across the two tables. */
  done: Set<string>;
  /** protopr's `first`: the socket list header is printed once. */
  firstSocket: boolean;
}

export async function netstat(env: ToolEnv, argv: string[]): Promise<number> {
  const err = (s: string): void => env.err(s);
  let xo: Xo | undefined;
  try {
    const o = parseArgs(argv, env, err);
    if (o === 'help') {
      env.out(USAGE);
      return 0;
    }
    xo = new Xo(o.json, env.out);
    const ctx: Ctx = { tree: env.tree, env, o, xo, err, done: new Set(), firstSocket: true };
    return await dispatch(ctx);
  } catch (e) {
    if (e instanceof Exit) {
      xo?.flush();
      return e.code;
    }
    throw e;
  }
}

function parseArgs(argv: string[], env: ToolEnv, err: (s: string) => void): Opts | 'help' {
  const o: Opts = {
    af: 'unspec',
    A: false,
    a: false,
    b: false,
    d: false,
    g: false,
    h: false,
    i: false,
    L: false,
    m: false,
    numericAddr: false,
    r: false,
    s: 0,
    W: false,
    z: false,
    p: undefined,
    interface: undefined,
    interval: 0,
    noutputs: 0,
    fib: undefined,
    json: false,
  };
  const usage = (): never => {
    err(USAGE);
    throw new Exit(1);
  };
  const die = (msg: string, code = 1): never => {
    err(`netstat: ${msg}\n`);
    throw new Exit(code);
  };
  // xo_parse_args: the libxo options come out first, wherever they are.
  const rest: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--') {
      rest.push(...argv.slice(k));
      break;
    }
    if (a === '--help') return 'help';
    if (a === '--json') {
      o.json = true;
      continue;
    }
    if (a === '--libxo' || a.startsWith('--libxo=') || a.startsWith('--libxo:')) {
      let spec: string;
      if (a === '--libxo') {
        if (k + 1 >= argv.length) die('--libxo needs its options (json or text)');
        spec = argv[++k];
      } else spec = a.slice(8);
      const words = spec.split(/[,:]/).filter(Boolean);
      for (const w of words) {
        if (w === 'json' || w === 'J') o.json = true;
        else if (w === 'text' || w === 'T') o.json = false;
        else if (!['pretty', 'P', 'warn', 'W', 'keys', 'k', 'underscores', 'u', 'dash', 'D', 'flush', 'f', 'color', 'no-color', 'not-first', 'no-top', 'no-humanize', 'units'].includes(w))
          die(`--libxo ${spec}: taplab's netstat writes only text or json ("${w}" is not supported)`);
      }
      continue;
    }
    rest.push(a);
  }
  let x = false;
  let T = false;
  const { items, operands } = getopt(rest, '46AaBbdF:f:ghI:iLlM:mN:nPp:Qq:RrSTsuWw:xz');
  for (const it of items) {
    if (it.error) {
      err(getoptMessage('netstat', it));
      usage();
    } else {
      const c = it.opt;
      const optarg = it.arg;
      switch (c) {
        case '4':
          o.af = 'inet';
          break;
        case '6':
          o.af = 'inet6';
          break;
        case 'A':
          o.A = true;
          break;
        case 'a':
          o.a = true;
          break;
        case 'B':
          die('-B: taplab keeps no bpf(4) descriptors to list');
          break;
        case 'b':
          o.b = true;
          break;
        case 'd':
          o.d = true;
          break;
        case 'F':
          if (!/^(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)$/i.test(optarg)) die(`${optarg}: invalid fib`);
          o.fib = optarg;
          break;
        case 'f':
          if (optarg === 'inet') o.af = 'inet';
          else if (optarg === 'inet6') o.af = 'inet6';
          else if (optarg === 'unix' || optarg === 'local') o.af = 'unix';
          else if (optarg === 'link') o.af = 'link';
          else if (optarg === 'pfkey') o.af = 'pfkey';
          else if (optarg === 'netgraph' || optarg === 'ng') o.af = 'netgraph';
          else die(`${optarg}: unknown address family`);
          break;
        case 'g':
          o.g = true;
          break;
        case 'h':
          o.h = true;
          break;
        case 'I':
          o.i = true;
          o.interface = optarg;
          break;
        case 'i':
          o.i = true;
          break;
        case 'L':
          o.L = true;
          break;
        case 'M':
        case 'N':
          die(`-${c}: reading a kernel ${c === 'M' ? 'core' : 'name list'} needs kvm(3); taplab's netstat reads only the sysctl tree of a live host or snapshot`);
          break;
        case 'm':
          o.m = true;
          break;
        case 'n':
          o.numericAddr = true;
          break;
        case 'S':
          o.numericAddr = true;
          break;
        case 'P':
        case 'R':
          die(`-${c}: taplab has no TCP connections or flows to show it for`);
          break;
        case 'T':
          T = true;
          break;
        case 'x':
          x = true;
          break;
        case 'p': {
          const tp = name2protox(optarg);
          if (!tp) die(`${optarg}: unknown or uninstrumented protocol`);
          o.p = tp;
          break;
        }
        case 'Q':
          die('-Q: taplab has no netisr(9) dispatch policies to show');
          break;
        case 'q': {
          const n = atoi(optarg);
          o.noutputs = n !== 0 ? n + 1 : 0;
          break;
        }
        case 'r':
          o.r = true;
          break;
        case 's':
          o.s++;
          break;
        case 'u':
          o.af = 'unix';
          break;
        case 'W':
        case 'l':
          o.W = true;
          break;
        case 'w':
          o.interval = atoi(optarg);
          o.i = true;
          break;
        case 'z':
          o.z = true;
          break;
      }
    }
  }
  // BACKWARD_COMPATIBILITY: a leading number is the interval; anything else names a kernel.
  let k = 0;
  if (k < operands.length) {
    if (/^\d/.test(operands[k])) {
      o.interval = atoi(operands[k]);
      if (o.interval <= 0) usage();
      o.i = true;
      k++;
    }
    if (k < operands.length) die(`${operands[k]}: reading a kernel name list or core needs kvm(3); taplab's netstat reads only the sysctl tree of a live host or snapshot`);
  }
  if (x && T) die('-x and -T are incompatible, pick one.');
  if (x || T) die(`-${x ? 'x' : 'T'}: taplab has no TCP and keeps no socket buffer details beyond Recv-Q/Send-Q`);
  void env;
  return o;
}

/** atoi(3): leading digits, else 0. */
function atoi(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? parseInt(m[1], 10) : 0;
}

// ---------------------------------------------------------------------------
// Protocol tables (main.c protox[] and ip6protox[]).

const PROTOX: Protox[] = [
  { name: 'tcp', pcb: 'tcp', stats: skipStats('net.inet.tcp.stats') },
  { name: 'udp', pcb: 'udp', stats: udpStats },
  { name: 'divert', pcb: 'divert' },
  { name: 'ip', pcb: 'raw', stats: ipStats },
  { name: 'icmp', pcb: 'raw', stats: icmpStats },
  { name: 'igmp', pcb: 'raw', stats: igmpStats },
  { name: 'pim', pcb: 'raw', stats: skipStats('net.inet.pim.stats') },
  { name: 'carp', stats: skipStats('net.inet.carp.stats') },
  { name: 'arp', stats: skipStats('net.link.ether.arp.stats') },
];
const IP6PROTOX: Protox[] = [
  { name: 'tcp', pcb: 'tcp', stats: skipStats('net.inet.tcp.stats') },
  { name: 'udp', pcb: 'udp', stats: udpStats },
  { name: 'ip6', pcb: 'raw', stats: ip6Stats, istats: 'ip6' },
  { name: 'icmp6', pcb: 'raw', stats: icmp6Stats, istats: 'icmp6' },
  { name: 'rip6', stats: skipStats('net.inet6.ip6.rip6stats') },
];
/** /etc/protocols aliases that name a known protocol (name2protox's getprotoent walk). */
const ALIASES: Record<string, string> = { IP: 'ip', ICMP: 'icmp', IGMP: 'igmp', TCP: 'tcp', UDP: 'udp', PIM: 'pim', CARP: 'carp', DIVERT: 'divert' };

function name2protox(name: string): Protox | undefined {
  const known = (n: string) => PROTOX.find((p) => p.name === n) ?? IP6PROTOX.find((p) => p.name === n);
  return known(name) ?? (ALIASES[name] ? known(ALIASES[name]) : undefined);
}

// ---------------------------------------------------------------------------
// Dispatch (main.c).

async function dispatch(ctx: Ctx): Promise<number> {
  const { o, xo } = ctx;
  if (o.m) {
    mbpr(ctx);
    xo.finish();
    return 0;
  }
  if (o.i && !o.s) {
    xo.open('statistics');
    const code = o.interval > 0 ? await sidewaysintpr(ctx) : intpr(ctx);
    xo.close();
    xo.finish();
    return code;
  }
  if (o.r) {
    xo.open('statistics');
    if (o.s) rtStats(ctx);
    else routepr(ctx);
    xo.close();
    xo.finish();
    return 0;
  }
  if (o.g) {
    xo.open('statistics');
    if (o.s) mrtStats(ctx);
    else mroutepr(ctx);
    xo.close();
    xo.finish();
    return 0;
  }
  xo.open('statistics');
  if (o.p) printproto(ctx, o.p);
  else {
    if (o.af === 'inet' || o.af === 'unspec') for (const tp of PROTOX) printproto(ctx, tp);
    if (o.af === 'inet6' || o.af === 'unspec') for (const tp of IP6PROTOX) printproto(ctx, tp);
    // unixpr: taplab has no local-domain sockets, so nothing (net.local.*.pcblist do not exist).
  }
  xo.close();
  xo.finish();
  return 0;
}

function printproto(ctx: Ctx, tp: Protox): void {
  const { o, xo } = ctx;
  if (o.s) {
    if (o.i) {
      if (tp.istats) perInterface(ctx, tp.istats);
      else if (o.p) xo.emit(`${tp.name}: no per-interface stats routine\n`);
      return;
    }
    if (!tp.stats) {
      if (o.p) xo.emit(`${tp.name}: no stats routine\n`);
      return;
    }
    tp.stats(ctx, tp.name);
    return;
  }
  if (!tp.pcb) {
    if (o.p) xo.emit(`${tp.name}: no PCB routine\n`);
    return;
  }
  protopr(ctx, tp);
}

// ---------------------------------------------------------------------------
// Reading the tree.

function getValue<T>(ctx: Ctx, name: string): T {
  return ctx.tree.get(name).value as T;
}

function iflist(ctx: Ctx): IflistEntry[] {
  try {
    return getValue<IflistEntry[]>(ctx, 'net.route.iflist');
  } catch (e) {
    ctx.err(`netstat: getifaddrs: ${strerror(e)}\n`);
    throw new Exit(EX_OSERR);
  }
}

function ifmalist(ctx: Ctx): IfmalistEntry[] {
  try {
    return getValue<IfmalistEntry[]>(ctx, 'net.route.ifmalist');
  } catch (e) {
    ctx.err(`netstat: getifmaddrs: ${strerror(e)}\n`);
    throw new Exit(EX_OSERR);
  }
}

/**
 * fetch_stats(): the statistics leaf, or undefined when the tree has none
 * (silently) or it cannot be read (with a warning). With -z the leaf is
 * written with zeroes of its own length and, as in FreeBSD (which passes no
 * buffer to read back), what is printed is the zeroed structure.
 */
function fetchStats<T>(ctx: Ctx, name: string, zeroed: () => T): T | undefined {
  let bytes: Uint8Array;
  let value: T;
  try {
    const v = ctx.tree.get(name);
    bytes = v.bytes;
    value = v.value as T;
  } catch (e) {
    if (errCode(e) !== 'ENOENT') ctx.err(`netstat: sysctl ${name}: ${strerror(e)}\n`);
    return undefined;
  }
  if (!ctx.o.z) return value;
  try {
    if (!ctx.env.writer) throw Object.assign(new Error('read-only tree'), { code: 'EPERM' });
    ctx.env.writer.set(name, new Uint8Array(bytes.length));
  } catch (e) {
    ctx.err(`netstat: sysctl ${name}: ${strerror(e)}\n`);
    return undefined;
  }
  return zeroed();
}

// ---------------------------------------------------------------------------
// netstat -i (intpr, if.c).

interface IfRow {
  e: IflistEntry;
  link: boolean;
  name: string;
  network: string;
  address: string;
  d: IfData | IfaData;
}

function networkOf(e: IflistEntry): string {
  if (e.family === 'link') return `<Link#${e.ifindex}>`;
  const plen = e.prefixlen ?? (e.family === 'inet' ? 32 : 128);
  if (e.family === 'inet') {
    if (plen === 0 && e.addr === '0.0.0.0') return 'default';
    return `${ipv4Masked(e.addr, plen)}/${plen}`;
  }
  const net = ipv6Masked(e.addr, plen);
  return `${net}${e.scopeid ? `%${e.ifname}` : ''}/${plen}`;
}

function addressOf(e: IflistEntry): string {
  if (e.family === 'inet6' && e.scopeid) return `${e.addr}%${e.ifname}`;
  return e.addr;
}

function ifRows(ctx: Ctx): IfRow[] {
  const { o } = ctx;
  return iflist(ctx)
    .filter((e) => (o.interface === undefined || e.ifname === o.interface) && (o.af === 'unspec' || e.family === o.af))
    .map((e) => ({
      e,
      link: e.family === 'link',
      name: e.ifname + (e.flags & IFF_UP ? '' : '*'),
      network: networkOf(e),
      address: addressOf(e),
      d: e.data,
    }));
}

function intpr(ctx: Ctx): number {
  const { o, xo } = ctx;
  const rows = ifRows(ctx);
  const mcast = o.a ? ifmalist(ctx) : [];
  let nw = 5;
  let netw = 8;
  let addrw = 8;
  let pw = 8;
  let ew = 5;
  let bw = 10;
  for (const r of rows) {
    nw = Math.max(nw, r.name.length);
    netw = Math.max(netw, r.network.length);
    addrw = Math.max(addrw, r.address.length);
    if (o.h) continue;
    pw = Math.max(pw, quirkyLen(pktsIn(r)), quirkyLen(pktsOut(r)));
    if (r.link) {
      const d = r.d as IfData;
      ew = Math.max(ew, quirkyLen(d.ifi_ierrors), quirkyLen(d.ifi_iqdrops), quirkyLen(d.ifi_collisions));
      if (o.d) ew = Math.max(ew, quirkyLen(d.ifi_oqdrops));
    }
    if (o.b) bw = Math.max(bw, quirkyLen(bytesIn(r)), quirkyLen(bytesOut(r)));
  }
  let hdr = `${lcut('Name', nw)} ${rpad('Mtu', 5)} ${lcut('Network', netw)}  ${lcut('Address', addrw)} ${rpad('Ipkts', pw)} ${rpad('Ierrs', ew)} ${rpad('Idrop', ew)}`;
  if (o.b) hdr += ` ${rpad('Ibytes', bw)}`;
  hdr += ` ${rpad('Opkts', pw)} ${rpad('Oerrs', ew)}`;
  if (o.b) hdr += ` ${rpad('Obytes', bw)}`;
  hdr += ` ${rpad('Coll', ew)}`;
  if (o.d) hdr += ` ${rpad('Drop', ew)}`;
  xo.emit(hdr + '\n');
  for (const r of rows) {
    xo.instance('interface');
    const d = r.d as IfData;
    const link = r.link;
    const cell = (v: number, w: number, show: boolean, key: string, div1000: boolean, sep = ' ', lsep = ''): string => {
      if (!show) return `${lsep}${rpad('-', w)}${sep}`;
      const text = o.h ? humanize(v, div1000) : String(v);
      xo.emit('', [[key, o.h ? text : v]]);
      return `${lsep}${rpad(text, w)}${sep}`;
    };
    xo.emit('', [
      ['name', r.e.ifname],
      ['flags', hexFlags(r.e.flags)],
    ]);
    let line = lcut(r.name, nw);
    if (link && r.e.mtu) {
      line += rpad(r.e.mtu, 6);
      xo.emit('', [['mtu', r.e.mtu]]);
    } else line += rpad('-', 6);
    line += ' ';
    xo.emit('', [['network', r.network]]);
    if (r.address) xo.emit('', [['address', r.address]]);
    line += `${lcut(r.network, netw)}  ${lcut(r.address, addrw)} `;
    line += cell(pktsIn(r), pw, true, 'received-packets', true);
    line += cell(d.ifi_ierrors, ew, link, 'received-errors', true);
    line += cell(d.ifi_iqdrops, ew, link, 'dropped-packets', true);
    if (o.b) line += cell(bytesIn(r), bw, true, 'received-bytes', false);
    line += cell(pktsOut(r), pw, true, 'sent-packets', true);
    line += cell(d.ifi_oerrors, ew, link, 'send-errors', true);
    if (o.b) line += cell(bytesOut(r), bw, true, 'sent-bytes', false);
    line += cell(d.ifi_collisions, ew, link, 'collisions', true, '');
    if (o.d) line += cell(d.ifi_oqdrops, ew, link, 'dropped-packets', true, ' ', ' ');
    xo.emit(line + '\n');
    if (o.a) multicastPrint(ctx, r, mcast);
    xo.close();
  }
  return 0;
}

function pktsIn(r: IfRow): number {
  return r.link ? (r.d as IfData).ifi_ipackets : (r.d as IfaData).ipackets;
}
function pktsOut(r: IfRow): number {
  return r.link ? (r.d as IfData).ifi_opackets : (r.d as IfaData).opackets;
}
function bytesIn(r: IfRow): number {
  return r.link ? (r.d as IfData).ifi_ibytes : (r.d as IfaData).ibytes;
}
function bytesOut(r: IfRow): number {
  return r.link ? (r.d as IfData).ifi_obytes : (r.d as IfaData).obytes;
}

/** -a: the memberships of the row's interface and family, under the row (§2.3). */
function multicastPrint(ctx: Ctx, r: IfRow, mcast: IfmalistEntry[]): void {
  const { o, xo } = ctx;
  for (const m of mcast) {
    if (m.ifname !== r.e.ifname || m.family !== r.e.family) continue;
    const text = m.family === 'inet6' && m.scopeid ? `${m.group}%${m.ifname}` : m.group;
    xo.instance('multicast-address');
    xo.emit('', [['address', text]]);
    let line = o.W ? `${' '.repeat(28)}${lpad(text, 17)}` : `${' '.repeat(26)}${lcut(text, 17)}`;
    if (m.family === 'link') {
      const d = r.d as IfData;
      line += ` ${rpad(d.ifi_imcasts, 8)}${' '.repeat(o.b ? 17 : 6)} ${rpad(d.ifi_omcasts, 8)}`;
      xo.emit('', [
        ['received-packets', d.ifi_imcasts],
        ['sent-packets', d.ifi_omcasts],
      ]);
    }
    xo.emit(line + '\n');
    xo.close();
  }
}

// ---------------------------------------------------------------------------
// netstat -w (sidewaysintpr, if.c).

interface IfTot {
  ip: number;
  ie: number;
  id: number;
  ib: number;
  op: number;
  oe: number;
  od: number;
  ob: number;
  co: number;
}

async function sidewaysintpr(ctx: Ctx): Promise<number> {
  const { o, xo, env } = ctx;
  const total = (): IfTot => {
    const t: IfTot = { ip: 0, ie: 0, id: 0, ib: 0, op: 0, oe: 0, od: 0, ob: 0, co: 0 };
    for (const e of iflist(ctx)) {
      if (e.family !== 'link' || (o.interface !== undefined && e.ifname !== o.interface)) continue;
      const d = e.data as IfData;
      t.ip += d.ifi_ipackets;
      t.ie += d.ifi_ierrors;
      t.id += d.ifi_iqdrops;
      t.ib += d.ifi_ibytes;
      t.op += d.ifi_opackets;
      t.oe += d.ifi_oerrors;
      t.od += d.ifi_oqdrops;
      t.ob += d.ifi_obytes;
      t.co += d.ifi_collisions;
    }
    return t;
  };
  if (o.interface !== undefined && !iflist(ctx).some((e) => e.family === 'link' && e.ifname === o.interface)) {
    ctx.err(`netstat: interface ${o.interface} not found: Device not configured\n`);
    throw new Exit(EX_DATAERR);
  }
  let old = total();
  let noutputs = o.noutputs;
  const banner = (): void => {
    xo.emit(`${rpad('input', 17)} ${rpad(o.interface ?? '(Total)', 14)} ${rpad('output', 16)}\n`);
    xo.emit(
      `${rpad('packets', 10)} ${rpad('errs', 5)} ${rpad('idrops', 5)} ${rpad('bytes', 10)} ${rpad('packets', 10)} ${rpad('errs', 5)} ${rpad('bytes', 10)} ${rpad('colls', 5)}` +
        (o.d ? ` ${rpad('drops', 5)}` : '') +
        '\n',
    );
    xo.flush();
  };
  banner();
  let line = 0;
  for (;;) {
    if (noutputs !== 0 && --noutputs === 0) break;
    try {
      await env.sleep(o.interval * 1000);
    } catch {
      break; // the caller stopped us (SIGINT): end as netstat does, status 0
    }
    const now = total();
    xo.instance('interface-statistics');
    const cell = (v: number, w: number, key: string, div1000: boolean, sep = ' ', lsep = ''): string => {
      const text = o.h ? humanize(v, div1000) : String(v);
      xo.emit('', [[key, o.h ? text : v]]);
      return `${lsep}${rpad(text, w)}${sep}`;
    };
    let s = cell(now.ip - old.ip, 10, 'received-packets', true);
    s += cell(now.ie - old.ie, 5, 'received-errors', true);
    s += cell(now.id - old.id, 5, 'dropped-packets', true);
    s += cell(now.ib - old.ib, 10, 'received-bytes', false);
    s += cell(now.op - old.op, 10, 'sent-packets', true);
    s += cell(now.oe - old.oe, 5, 'send-errors', true);
    s += cell(now.ob - old.ob, 10, 'sent-bytes', false);
    s += cell(now.co - old.co, 5, 'collisions', true, '');
    if (o.d) s += cell(now.od - old.od, 5, 'dropped-packets', true, ' ', ' ');
    xo.close();
    xo.emit(s + '\n');
    xo.flush();
    old = now;
    if (++line === 21) {
      banner();
      line = 0;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Per-interface statistics (ip6_ifstats / icmp6_ifstats, inet6.c): one block per interface.

function perInterface(ctx: Ctx, which: 'ip6' | 'icmp6'): void {
  const { o, xo } = ctx;
  const seen = new Set<number>();
  for (const e of iflist(ctx)) {
    if (e.family !== 'link' || seen.has(e.ifindex)) continue;
    if (o.interface !== undefined && e.ifname !== o.interface) continue;
    seen.add(e.ifindex);
    const name = `net.inet6.${which}.ifstats.${e.ifindex}`;
    let st: Record<string, number>;
    try {
      st = getValue<Record<string, number>>(ctx, name);
    } catch (err) {
      if (errCode(err) !== 'EPFNOSUPPORT' && errCode(err) !== 'ENOENT') ctx.err(`netstat: Warning: sysctl ${name}: ${strerror(err)}\n`);
      continue;
    }
    const table = which === 'ip6' ? IP6_IF_LINES : ICMP6_IF_LINES;
    xo.emit(`${which} on ${e.ifname}:\n`);
    xo.instance(`${which}-interface-statistics`);
    xo.emit('', [['name', e.ifname]]);
    const { p } = printer(ctx);
    for (const [field, key, text] of table) p(st[field], key, text);
    xo.close();
  }
}

/** [field, JSON key, text: %s is the plural s, %y the y/ies]. */
type Line = [string, string, string];

const IP6_IF_LINES: Line[] = [
  ['ifs6_in_receive', 'received-packets', 'total input datagram%s'],
  ['ifs6_in_hdrerr', 'dropped-invalid-header', 'datagram%s with invalid header received'],
  ['ifs6_in_toobig', 'dropped-mtu-exceeded', 'datagram%s exceeded MTU received'],
  ['ifs6_in_noroute', 'dropped-no-route', 'datagram%s with no route received'],
  ['ifs6_in_addrerr', 'dropped-invalid-destination', 'datagram%s with invalid dst received'],
  ['ifs6_in_protounknown', 'dropped-unknown-protocol', 'datagram%s with unknown proto received'],
  ['ifs6_in_truncated', 'dropped-truncated', 'truncated datagram%s received'],
  ['ifs6_in_discard', 'dropped-discarded', 'input datagram%s discarded'],
  ['ifs6_in_deliver', 'received-valid-packets', 'datagram%s delivered to an upper layer protocol'],
  ['ifs6_out_forward', 'sent-forwarded', 'datagram%s forwarded to this interface'],
  ['ifs6_out_request', 'sent-packets', 'datagram%s sent from an upper layer protocol'],
  ['ifs6_out_discard', 'discard-packets', 'total discarded output datagram%s'],
  ['ifs6_out_fragok', 'discard-fragments', 'output datagram%s fragmented'],
  ['ifs6_out_fragfail', 'fragments-failed', 'output datagram%s failed on fragment'],
  ['ifs6_out_fragcreat', 'fragments-created', 'output datagram%s succeeded on fragment'],
  ['ifs6_reass_reqd', 'reassembly-required', 'incoming datagram%s fragmented'],
  ['ifs6_reass_ok', 'reassembled-packets', 'datagram%s reassembled'],
  ['ifs6_reass_fail', 'reassembly-failed', 'datagram%s failed on reassembly'],
  ['ifs6_in_mcast', 'received-multicast', 'multicast datagram%s received'],
  ['ifs6_out_mcast', 'sent-multicast', 'multicast datagram%s sent'],
];

const ICMP6_IF_LINES: Line[] = [
  ['ifs6_in_msg', 'received-packets', 'total input message%s'],
  ['ifs6_in_error', 'received-errors', 'total input error message%s'],
  ['ifs6_in_dstunreach', 'received-destination-unreachable', 'input destination unreachable error%s'],
  ['ifs6_in_adminprohib', 'received-admin-prohibited', 'input administratively prohibited error%s'],
  ['ifs6_in_timeexceed', 'received-time-exceeded', 'input time exceeded error%s'],
  ['ifs6_in_paramprob', 'received-bad-parameter', 'input parameter problem error%s'],
  ['ifs6_in_pkttoobig', 'received-packet-too-big', 'input packet too big error%s'],
  ['ifs6_in_echo', 'received-echo-requests', 'input echo request%s'],
  ['ifs6_in_echoreply', 'received-echo-replies', 'input echo repl%y'],
  ['ifs6_in_routersolicit', 'received-router-solicitation', 'input router solicitation%s'],
  ['ifs6_in_routeradvert', 'received-router-advertisement', 'input router advertisement%s'],
  ['ifs6_in_neighborsolicit', 'received-neighbor-solicitation', 'input neighbor solicitation%s'],
  ['ifs6_in_neighboradvert', 'received-neighbor-advertisement', 'input neighbor advertisement%s'],
  // FreeBSD's format lacks the ':' here, so libxo takes the field for a role-less one named "received-redirects".
  ['ifs6_in_redirect', 'received-redirects', 'input redirect%s'],
  ['ifs6_in_mldquery', 'received-mld-queries', 'input MLD quer%y'],
  ['ifs6_in_mldreport', 'received-mld-reports', 'input MLD report%s'],
  ['ifs6_in_mlddone', 'received-mld-done', 'input MLD done%s'],
  ['ifs6_out_msg', 'sent-packets', 'total output message%s'],
  ['ifs6_out_error', 'sent-errors', 'total output error message%s'],
  ['ifs6_out_dstunreach', 'sent-destination-unreachable', 'output destination unreachable error%s'],
  ['ifs6_out_adminprohib', 'sent-admin-prohibited', 'output administratively prohibited error%s'],
  ['ifs6_out_timeexceed', 'sent-time-exceeded', 'output time exceeded error%s'],
  ['ifs6_out_paramprob', 'sent-bad-parameter', 'output parameter problem error%s'],
  ['ifs6_out_pkttoobig', 'sent-packet-too-big', 'output packet too big error%s'],
  ['ifs6_out_echo', 'sent-echo-requests', 'output echo request%s'],
  ['ifs6_out_echoreply', 'sent-echo-replies', 'output echo repl%y'],
  ['ifs6_out_routersolicit', 'sent-router-solicitation', 'output router solicitation%s'],
  ['ifs6_out_routeradvert', 'sent-router-advertisement', 'output router advertisement%s'],
  ['ifs6_out_neighborsolicit', 'sent-neighbor-solicitation', 'output neighbor solicitation%s'],
  ['ifs6_out_neighboradvert', 'sent-neighbor-advertisement', 'output neighbor advertisement%s'],
  ['ifs6_out_redirect', 'sent-redirects', 'output redirect%s'],
  ['ifs6_out_mldquery', 'sent-mld-queries', 'output MLD quer%y'],
  ['ifs6_out_mldreport', 'sent-mld-reports', 'output MLD report%s'],
  ['ifs6_out_mlddone', 'sent-mld-dones', 'output MLD done%s'],
];

// ---------------------------------------------------------------------------
// Protocol statistics (inet.c, inet6.c).

/** A statistics routine for a leaf taplab does not have: fetch_stats fails with ENOENT, nothing is printed. */
function skipStats(leaf: string): StatsFn {
  return (ctx) => {
    const tcp = leaf === 'net.inet.tcp.stats';
    if (tcp) {
      if (ctx.done.has('tcp-stats')) return;
      ctx.done.add('tcp-stats');
    }
    fetchStats(ctx, leaf, () => ({}));
  };
}

/**
 * A stats printer: `p(value, key, text)` prints "\t<n> <text>" with the
 * plural chosen by the text's markers ("%s" plural s, "%es" es, "%y" y/ies)
 * when the value is non-zero or -s was given once; `p1a` never pluralizes.
 */
function printer(ctx: Ctx, indent = '\t') {
  const { xo, o } = ctx;
  const fill = (text: string, n: number): string => text.replace('%es', plurales(n)).replace('%y', pluralies(n)).replace('%s', plural(n));
  return {
    p(n: number | undefined, key: string, text: string, tabs = indent): void {
      const v = n ?? 0;
      if (v || o.s <= 1) xo.emit(`${tabs}${v} ${fill(text, v)}\n`, [[key, v]]);
    },
  };
}

function udpStats(ctx: Ctx, name: string): void {
  if (ctx.done.has('udp-stats')) return;
  ctx.done.add('udp-stats');
  const u = fetchStats<Record<string, number>>(ctx, 'net.inet.udp.stats', () => ({}));
  if (!u) return;
  const { xo, o } = ctx;
  const v = (k: string): number => u[k] ?? 0;
  xo.open('udp');
  xo.emit(`${name}:\n`);
  const { p } = printer(ctx);
  p(v('udps_ipackets'), 'received-datagrams', 'datagram%s received');
  p(v('udps_hdrops'), 'dropped-incomplete-headers', 'with incomplete header');
  p(v('udps_badlen'), 'dropped-bad-data-length', 'with bad data length field');
  p(v('udps_badsum'), 'dropped-bad-checksum', 'with bad checksum');
  p(v('udps_nosum'), 'dropped-no-checksum', 'with no checksum');
  p(v('udps_noport'), 'dropped-no-socket', 'dropped due to no socket');
  p(v('udps_noportbcast'), 'dropped-broadcast-multicast', 'broadcast/multicast datagram%s undelivered');
  p(v('udps_fullsock'), 'dropped-full-socket-buffer', 'dropped due to full socket buffers');
  p(v('udpps_pcbhashmiss'), 'not-for-hashed-pcb', 'not for hashed pcb');
  const delivered = Math.max(0, v('udps_ipackets') - v('udps_hdrops') - v('udps_badlen') - v('udps_badsum') - v('udps_noport') - v('udps_noportbcast') - v('udps_fullsock'));
  if (delivered || o.s <= 1) xo.emit(`\t${delivered} delivered\n`, [['delivered-packets', delivered]]);
  p(v('udps_opackets'), 'output-packets', 'datagram%s output');
  p(v('udps_filtermcast'), 'multicast-source-filter-matches', 'time%s multicast source filter matched');
  xo.close();
}

function ipStats(ctx: Ctx, name: string): void {
  const s = fetchStats<Record<string, number>>(ctx, 'net.inet.ip.stats', () => ({}));
  if (!s) return;
  const { xo, o } = ctx;
  const v = (k: string): number => s[k] ?? 0;
  xo.open(name);
  xo.emit(`${name}:\n`);
  const { p } = printer(ctx);
  p(v('ips_total'), 'received-packets', 'total packet%s received');
  p(v('ips_badsum'), 'dropped-bad-checksum', 'bad header checksum%s');
  p(v('ips_toosmall'), 'dropped-below-minimum-size', 'with size smaller than minimum');
  p(v('ips_tooshort'), 'dropped-short-packets', 'with data size < data length');
  p(v('ips_toolong'), 'dropped-too-long', 'with ip length > max ip packet size');
  p(v('ips_badhlen'), 'dropped-short-header-length', 'with header length < data size');
  p(v('ips_badlen'), 'dropped-short-data', 'with data length < header length');
  p(v('ips_badoptions'), 'dropped-bad-options', 'with bad options');
  p(v('ips_badvers'), 'dropped-bad-version', 'with incorrect version number');
  p(v('ips_fragments'), 'received-fragments', 'fragment%s received');
  p(v('ips_fragdropped'), 'dropped-fragments', 'fragment%s dropped (dup or out of space)');
  p(v('ips_fragtimeout'), 'dropped-fragments-after-timeout', 'fragment%s dropped after timeout');
  p(v('ips_reassembled'), 'reassembled-packets', 'packet%s reassembled ok');
  p(v('ips_delivered'), 'received-local-packets', 'packet%s for this host');
  p(v('ips_noproto'), 'dropped-unknown-protocol', 'packet%s for unknown/unsupported protocol');
  // "forwarded" and its "(fast forwarded)" share a line, each printed on its own condition.
  const fwd = v('ips_forward');
  const ffwd = v('ips_fastforward');
  if (fwd || o.s <= 1) xo.emit(`\t${fwd} packet${plural(fwd)} forwarded`, [['forwarded-packets', fwd]]);
  if (ffwd || o.s <= 1) xo.emit(` (${ffwd} packet${plural(ffwd)} fast forwarded)`, [['fast-forwarded-packets', ffwd]]);
  if (fwd || o.s <= 1) xo.emit('\n');
  p(v('ips_cantforward'), 'packets-cannot-forward', 'packet%s not forwardable');
  p(v('ips_notmember'), 'received-unknown-multicast-group', 'packet%s received for unknown multicast group');
  p(v('ips_redirectsent'), 'redirects-sent', 'redirect%s sent');
  p(v('ips_localout'), 'sent-packets', 'packet%s sent from this host');
  p(v('ips_rawout'), 'send-packets-fabricated-header', 'packet%s sent with fabricated ip header');
  p(v('ips_odropped'), 'discard-no-mbufs', 'output packet%s dropped due to no bufs, etc.');
  p(v('ips_noroute'), 'discard-no-route', 'output packet%s discarded due to no route');
  p(v('ips_fragmented'), 'sent-fragments', 'output datagram%s fragmented');
  p(v('ips_ofragments'), 'fragments-created', 'fragment%s created');
  p(v('ips_cantfrag'), 'discard-cannot-fragment', "datagram%s that can't be fragmented");
  p(v('ips_nogif'), 'discard-tunnel-no-gif', "tunneling packet%s that can't find gif");
  p(v('ips_badaddr'), 'discard-bad-address', 'datagram%s with bad address in header');
  xo.close();
}

/** icmpnames[] of inet.c (ICMP_MAXTYPE 40). */
const ICMP_NAMES: Record<number, string> = {
  0: 'echo reply',
  3: 'destination unreachable',
  4: 'source quench',
  5: 'routing redirect',
  8: 'echo',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded',
  12: 'parameter problem',
  13: 'time stamp',
  14: 'time stamp reply',
  15: 'information request',
  16: 'information request reply',
  17: 'address mask request',
  18: 'address mask reply',
  30: 'icmp traceroute',
  31: 'datagram conversion error',
  32: 'mobile host redirect',
  33: 'IPv6 where-are-you',
  34: 'IPv6 i-am-here',
  35: 'mobile registration req',
  36: 'mobile registration reply',
  37: 'domain name request',
  38: 'domain name reply',
  39: 'icmp SKIP',
  40: 'icmp photuris',
};

function histogram(ctx: Ctx, hist: number[] | undefined, n: number, list: string, title: string, nameOf: (i: number) => string): void {
  const { xo } = ctx;
  let first = true;
  for (let i = 0; i < n; i++) {
    const c = hist?.[i] ?? 0;
    if (!c) continue;
    if (first) {
      xo.emit(`\t${title}:\n`);
      first = false;
    }
    xo.instance(list);
    xo.emit(`\t\t${nameOf(i)}: ${c}\n`, [
      ['name', nameOf(i)],
      ['count', c],
    ]);
    xo.close();
  }
}

function icmpStats(ctx: Ctx, name: string): void {
  const s = fetchStats<Record<string, number & number[]>>(ctx, 'net.inet.icmp.stats', () => ({}) as Record<string, number & number[]>);
  if (!s) return;
  const { xo } = ctx;
  const v = (k: string): number => (s[k] as number) ?? 0;
  xo.open(name);
  xo.emit(`${name}:\n`);
  const { p } = printer(ctx);
  p(v('icps_error'), 'icmp-calls', 'call%s to icmp_error');
  p(v('icps_oldicmp'), 'errors-not-from-message', 'error%s not generated in response to an icmp message');
  histogram(ctx, s.icps_outhist, 41, 'output-histogram', 'Output histogram', (i) => ICMP_NAMES[i] ?? `#${i}`);
  p(v('icps_badcode'), 'dropped-bad-code', 'message%s with bad code fields');
  p(v('icps_tooshort'), 'dropped-too-short', 'message%s less than the minimum length');
  p(v('icps_checksum'), 'dropped-bad-checksum', 'message%s with bad checksum');
  p(v('icps_badlen'), 'dropped-bad-length', 'message%s with bad length');
  p(v('icps_bmcastecho'), 'dropped-multicast-echo', 'multicast echo requests ignored');
  p(v('icps_bmcasttstamp'), 'dropped-multicast-timestamp', 'multicast timestamp requests ignored');
  histogram(ctx, s.icps_inhist, 41, 'input-histogram', 'Input histogram', (i) => ICMP_NAMES[i] ?? `#${i}`);
  p(v('icps_reflect'), 'sent-packets', 'message response%s generated');
  p(v('icps_badaddr'), 'discard-invalid-return-address', 'invalid return address%es');
  p(v('icps_noroute'), 'discard-no-route', 'no return route%s');
  // "ICMP address mask responses are ..." needs net.inet.icmp.maskrepl, which taplab (no mask replies) lacks.
  let mask: number | undefined;
  try {
    mask = getValue<number>(ctx, 'net.inet.icmp.maskrepl');
  } catch {
    mask = undefined;
  }
  if (mask !== undefined) xo.emit(`\tICMP address mask responses are ${mask ? 'en' : 'dis'}abled\n`, [['icmp-address-responses', `${mask ? 'en' : 'dis'}abled`]]);
  xo.close();
}

function igmpStats(ctx: Ctx, name: string): void {
  const s = fetchStats<Record<string, number>>(ctx, 'net.inet.igmp.stats', () => ({}));
  if (!s) return;
  const { xo } = ctx;
  const v = (k: string): number => s[k] ?? 0;
  if (v('igps_version') !== 3) ctx.err(`netstat: igmp_stats: version mismatch (${v('igps_version')} != 3)\n`);
  if (v('igps_len') !== 168) ctx.err(`netstat: igmp_stats: size mismatch (${v('igps_len')} != 168)\n`);
  xo.open(name);
  xo.emit(`${name}:\n`);
  const { p } = printer(ctx);
  p(v('igps_rcv_total'), 'received-messages', 'message%s received');
  p(v('igps_rcv_tooshort'), 'dropped-too-short', 'message%s received with too few bytes');
  p(v('igps_rcv_badttl'), 'dropped-wrong-ttl', 'message%s received with wrong TTL');
  p(v('igps_rcv_badsum'), 'dropped-bad-checksum', 'message%s received with bad checksum');
  p(v('igps_rcv_v1v2_queries'), 'received-membership-queries', 'V1/V2 membership quer%y received');
  p(v('igps_rcv_v3_queries'), 'received-v3-membership-queries', 'V3 membership quer%y received');
  p(v('igps_rcv_badqueries'), 'dropped-membership-queries', 'membership quer%y received with invalid field(s)');
  p(v('igps_rcv_gen_queries'), 'received-general-queries', 'general quer%y received');
  p(v('igps_rcv_group_queries'), 'received-group-queries', 'group quer%y received');
  p(v('igps_rcv_gsr_queries'), 'received-group-source-queries', 'group-source quer%y received');
  p(v('igps_drop_gsr_queries'), 'dropped-group-source-queries', 'group-source quer%y dropped');
  p(v('igps_rcv_reports'), 'received-membership-requests', 'membership report%s received');
  p(v('igps_rcv_badreports'), 'dropped-membership-reports', 'membership report%s received with invalid field(s)');
  p(v('igps_rcv_ourreports'), 'received-membership-reports-matching', 'membership report%s received for groups to which we belong');
  p(v('igps_rcv_nora'), 'received-v3-reports-no-router-alert', 'V3 report%s received without Router Alert');
  p(v('igps_snd_reports'), 'sent-membership-reports', 'membership report%s sent');
  xo.close();
}

/** ip6nh[] of inet6.c: the names of next headers (with its two slips, #80 at 90 and #180 at 190). */
const IP6NH: Record<number, string> = {
  0: 'hop by hop',
  1: 'ICMP',
  2: 'IGMP',
  4: 'IP',
  6: 'TCP',
  17: 'UDP',
  22: 'IDP',
  29: 'TP',
  41: 'IP6',
  43: 'routing',
  44: 'fragment',
  50: 'ESP',
  51: 'AH',
  58: 'ICMP6',
  59: 'no next header',
  60: 'destination option',
  62: 'mobility',
  80: 'ISOIP',
  89: 'OSPF',
  90: '#80',
  97: 'Ethernet',
  103: 'PIM',
  132: 'SCTP',
  136: 'UDPLite',
  190: '#180',
};

const SRCRULE = [
  'first candidate',
  'same address',
  'appropriate scope',
  'deprecated address',
  'home address',
  'outgoing interface',
  'matching label',
  'public/temporary address',
  'alive interface',
  'better virtual status',
  'preferred source',
  'rule #11',
  'rule #12',
  'rule #13',
  'longest match',
  'rule #15',
];

function ip6Stats(ctx: Ctx, name: string): void {
  type S = Record<string, number & number[]>;
  const s = fetchStats<S>(ctx, 'net.inet6.ip6.stats', () => ({}) as S);
  if (!s) return;
  const { xo } = ctx;
  const v = (k: string): number => (s[k] as number) ?? 0;
  const arr = (k: string): number[] => (s[k] as number[]) ?? [];
  xo.open(name);
  xo.emit(`${name}:\n`);
  const { p } = printer(ctx);
  p(v('ip6s_total'), 'received-packets', 'total packet%s received');
  p(v('ip6s_toosmall'), 'dropped-below-minimum-size', 'with size smaller than minimum');
  p(v('ip6s_tooshort'), 'dropped-short-packets', 'with data size < data length');
  p(v('ip6s_badoptions'), 'dropped-bad-options', 'with bad options');
  p(v('ip6s_badvers'), 'dropped-bad-version', 'with incorrect version number');
  p(v('ip6s_fragments'), 'received-fragments', 'fragment%s received');
  p(v('ip6s_fragdropped'), 'dropped-fragment', 'fragment%s dropped (dup or out of space)');
  p(v('ip6s_fragtimeout'), 'dropped-fragment-after-timeout', 'fragment%s dropped after timeout');
  p(v('ip6s_fragoverflow'), 'dropped-fragments-overflow', 'fragment%s that exceeded limit');
  p(v('ip6s_reassembled'), 'reassembled-packets', 'packet%s reassembled ok');
  p(v('ip6s_delivered'), 'received-local-packets', 'packet%s for this host');
  p(v('ip6s_forward'), 'forwarded-packets', 'packet%s forwarded');
  p(v('ip6s_cantforward'), 'packets-not-forwardable', 'packet%s not forwardable');
  p(v('ip6s_redirectsent'), 'sent-redirects', 'redirect%s sent');
  p(v('ip6s_localout'), 'sent-packets', 'packet%s sent from this host');
  p(v('ip6s_rawout'), 'send-packets-fabricated-header', 'packet%s sent with fabricated ip header');
  p(v('ip6s_odropped'), 'discard-no-mbufs', 'output packet%s dropped due to no bufs, etc.');
  p(v('ip6s_noroute'), 'discard-no-route', 'output packet%s discarded due to no route');
  p(v('ip6s_fragmented'), 'sent-fragments', 'output datagram%s fragmented');
  p(v('ip6s_ofragments'), 'fragments-created', 'fragment%s created');
  p(v('ip6s_cantfrag'), 'discard-cannot-fragment', "datagram%s that can't be fragmented");
  p(v('ip6s_badscope'), 'discard-scope-violations', 'packet%s that violated scope rules');
  p(v('ip6s_notmember'), 'multicast-no-join-packets', "multicast packet%s which we don't join");
  histogram(ctx, arr('ip6s_nxthist'), 256, 'input-histogram', 'Input histogram', (i) => IP6NH[i] ?? `#${i}`);
  xo.open('mbuf-statistics');
  xo.emit('\tMbuf statistics:\n');
  xo.emit(`\t\t${v('ip6s_m1')} one mbuf\n`, [['one-mbuf', v('ip6s_m1')]]);
  const m2m = arr('ip6s_m2m');
  let first = true;
  let names: Map<number, string> | undefined;
  for (let i = 0; i < 32; i++) {
    const c = m2m[i] ?? 0;
    if (!c) continue;
    if (first) {
      xo.emit('\t\ttwo or more mbuf:\n');
      first = false;
    }
    names ??= new Map(iflist(ctx).map((e) => [e.ifindex, e.ifname]));
    xo.instance('mbuf-data');
    xo.emit(`\t\t\t${names.get(i) ?? '(null)'}= ${c}\n`, [
      ['name', names.get(i) ?? '(null)'],
      ['count', c],
    ]);
    xo.close();
  }
  xo.emit(`\t\t${v('ip6s_mext1')} one ext mbuf\n`, [['one-extra-mbuf', v('ip6s_mext1')]]);
  xo.emit(`\t\t${v('ip6s_mext2m')} two or more ext mbuf\n`, [['two-or-more-extra-mbufs', v('ip6s_mext2m')]]);
  xo.close();
  p(v('ip6s_exthdrtoolong'), 'dropped-header-too-long', 'packet%s whose headers are not contiguous');
  p(v('ip6s_nogif'), 'discard-tunnel-no-gif', "tunneling packet%s that can't find gif");
  p(v('ip6s_toomanyhdr'), 'dropped-too-many-headers', 'packet%s discarded because of too many headers');
  xo.open('source-address-selection');
  p(v('ip6s_sources_none'), 'address-selection-failures', 'failure%s of source address selection');
  const scopes: [string, string, string][] = [
    ['ip6s_sources_sameif', 'outgoing-interface', 'source addresses on an outgoing I/F'],
    ['ip6s_sources_otherif', 'non-outgoing-interface', 'source addresses on a non-outgoing I/F'],
    ['ip6s_sources_samescope', 'same-source', 'source addresses of same scope'],
    ['ip6s_sources_otherscope', 'different-scope', 'source addresses of a different scope'],
    ['ip6s_sources_deprecated', 'deprecated-source', 'deprecated source addresses'],
  ];
  for (const [field, list, title] of scopes) {
    const a = arr(field);
    let hdr = true;
    for (let i = 0; i < 16; i++) {
      const c = a[i] ?? 0;
      if (!c) continue;
      if (hdr) {
        xo.emit(`\t${title}\n`);
        hdr = false;
      }
      xo.instance(list);
      const label = i === 1 ? 'interface-local' : i === 2 ? 'link-local' : i === 5 ? 'site-local' : i === 14 ? 'global' : undefined;
      if (label) p(c, 'count', `${label}%s`, '\t\t');
      else xo.emit(`\t\t${c} addresses scope=${i ? `0x${i.toString(16)}` : '0'}\n`, [['count', c]]);
      xo.close();
    }
  }
  const rules = arr('ip6s_sources_rule');
  let rhdr = true;
  for (let i = 0; i < 16; i++) {
    const c = rules[i] ?? 0;
    if (!c) continue;
    if (rhdr) {
      xo.emit('\tSource addresses selection rule applied:\n');
      rhdr = false;
    }
    xo.instance('rules-applied');
    xo.emit(`\t\t${c} ${SRCRULE[i]}\n`, [
      ['name', SRCRULE[i]],
      ['count', c],
    ]);
    xo.close();
  }
  xo.close();
  xo.close();
}

function icmp6Stats(ctx: Ctx, name: string): void {
  type S = Record<string, number & number[]> & { icp6s_outerrhist?: Record<string, number> };
  const s = fetchStats<S>(ctx, 'net.inet6.icmp6.stats', () => ({}) as S);
  if (!s) return;
  const { xo, o } = ctx;
  const v = (k: string): number => (s[k] as number) ?? 0;
  xo.emit(`${name}:\n`);
  xo.open(name);
  const { p } = printer(ctx);
  p(v('icp6s_error'), 'icmp6-calls', 'call%s to icmp6_error');
  p(v('icp6s_canterror'), 'errors-not-generated-from-message', 'error%s not generated in response to an icmp6 message');
  p(v('icp6s_toofreq'), 'errors-discarded-by-rate-limitation', 'error%s not generated because of rate limitation');
  histogram(ctx, s.icp6s_outhist as number[], 256, 'output-histogram', 'Output histogram', icmp6TypeName);
  p(v('icp6s_badcode'), 'dropped-bad-code', 'message%s with bad code fields');
  p(v('icp6s_tooshort'), 'dropped-too-short', 'message%s < minimum length');
  p(v('icp6s_checksum'), 'dropped-bad-checksum', 'bad checksum%s');
  p(v('icp6s_badlen'), 'dropped-bad-length', 'message%s with bad length');
  histogram(ctx, s.icp6s_inhist as number[], 256, 'input-histogram', 'Input histogram', icmp6TypeName);
  xo.emit('\tHistogram of error messages to be generated:\n');
  xo.open('errors');
  const eh = s.icp6s_outerrhist ?? {};
  const e5 = (field: string, key: string, text: string): void => {
    const n = eh[field] ?? 0;
    if (n || o.s <= 1) xo.emit(`\t\t${n} ${text}\n`, [[key, n]]);
  };
  e5('icp6errs_dst_unreach_noroute', 'no-route', 'no route');
  e5('icp6errs_dst_unreach_admin', 'admin-prohibited', 'administratively prohibited');
  e5('icp6errs_dst_unreach_beyondscope', 'beyond-scope', 'beyond scope');
  e5('icp6errs_dst_unreach_addr', 'address-unreachable', 'address unreachable');
  e5('icp6errs_dst_unreach_noport', 'port-unreachable', 'port unreachable');
  e5('icp6errs_packet_too_big', 'packet-too-big', 'packet too big');
  e5('icp6errs_time_exceed_transit', 'time-exceed-transmit', 'time exceed transit');
  e5('icp6errs_time_exceed_reassembly', 'time-exceed-reassembly', 'time exceed reassembly');
  e5('icp6errs_paramprob_header', 'bad-header', 'erroneous header field');
  e5('icp6errs_paramprob_nextheader', 'bad-next-header', 'unrecognized next header');
  e5('icp6errs_paramprob_option', 'bad-option', 'unrecognized option');
  e5('icp6errs_redirect', 'redirects', 'redirect');
  e5('icp6errs_unknown', 'unknown', 'unknown');
  p(v('icp6s_reflect'), 'reflect', 'message response%s generated');
  p(v('icp6s_nd_toomanyopt'), 'too-many-nd-options', 'message%s with too many ND options');
  p(v('icp6s_nd_badopt'), 'bad-nd-options', 'message%s with bad ND options');
  p(v('icp6s_badns'), 'bad-neighbor-solicitation', 'bad neighbor solicitation message%s');
  p(v('icp6s_badna'), 'bad-neighbor-advertisement', 'bad neighbor advertisement message%s');
  p(v('icp6s_badrs'), 'bad-router-solicitation', 'bad router solicitation message%s');
  p(v('icp6s_badra'), 'bad-router-advertisement', 'bad router advertisement message%s');
  p(v('icp6s_badredirect'), 'bad-redirect', 'bad redirect message%s');
  xo.close();
  p(v('icp6s_pmtuchg'), 'path-mtu-changes', 'path MTU change%s');
  xo.close();
}

// ---------------------------------------------------------------------------
// The socket list (protopr, inet.c).

function protopr(ctx: Ctx, tp: Protox): void {
  const { o, xo } = ctx;
  if (tp.pcb === 'tcp' || tp.pcb === 'udp') {
    if (ctx.done.has(`${tp.pcb}-pcb`)) return;
    ctx.done.add(`${tp.pcb}-pcb`);
  }
  const mib = tp.pcb === 'udp' ? 'net.inet.udp.pcblist' : tp.pcb === 'tcp' ? 'net.inet.tcp.pcblist' : tp.pcb === 'divert' ? 'net.inet.divert.pcblist' : 'net.inet.raw.pcblist';
  let list: PcbEntry[];
  try {
    list = getValue<PcbEntry[]>(ctx, mib);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') ctx.err(`netstat: sysctl: ${mib}: ${strerror(e)}\n`);
    return;
  }
  const af1 = o.af;
  const width = o.A && !o.W ? 18 : !o.W || af1 === 'inet' ? 22 : 45;
  for (const inp of list) {
    const v4 = inp.family === 'inet';
    if ((af1 === 'inet' && !v4) || (af1 === 'inet6' && v4) || (af1 !== 'unspec' && af1 !== 'inet' && af1 !== 'inet6')) continue;
    const wildcard = v4 ? inetLnaof(inp.laddr) === 0 : inp.laddr === '::';
    if (!o.a && wildcard) continue;
    if (ctx.firstSocket) {
      ctx.firstSocket = false;
      let h = o.L ? 'Current listen queue sizes (qlen/incqlen/maxqlen)' : `Active Internet connections${o.a ? ' (including servers)' : ''}`;
      h += '\n';
      if (o.A) h += `${lpad('Tcpcb', 16)} `;
      if (o.L) h += `${lcut('Proto', 5)} ${lcut('Listen', 32)} ${lcut('Local Address', width)}`;
      else h += `${lcut('Proto', 5)} ${lcut('Recv-Q', 6)} ${lcut('Send-Q', 6)} ${lcut('Local Address', width)} ${lcut('Foreign Address', width)} ${lcut('(state)', 11)}`;
      xo.emit(h + '\n');
    }
    // -L lists listen queues, which only TCP sockets have.
    if (o.L) continue;
    xo.instance('socket');
    let line = '';
    if (o.A) {
      line += `${rpad(inp.so.toString(16), 16)} `;
      xo.emit('', [['address', inp.so.toString(16)]]);
    }
    const proto = `${tp.name.slice(0, 3).padEnd(3)}${(v4 ? '4' : '6').padEnd(2)}`;
    line += `${proto} `;
    xo.emit('', [['protocol', `${tp.name}${v4 ? '4' : '6'}`]]);
    line += `${rpad(inp.rcv_cc, 6)} ${rpad(inp.snd_cc, 6)} `;
    xo.emit('', [
      ['receive-bytes-waiting', inp.rcv_cc],
      ['send-bytes-waiting', inp.snd_cc],
    ]);
    // num_port: -n, else 0 for the local port and (lport != fport) for the remote one
    // (taplab does not mark ephemeral ports INP_ANONPORT). It only narrows -A's columns.
    const numLocal = o.numericAddr;
    const numRemote = o.numericAddr || inp.lport !== inp.fport;
    const local = v4 ? inetprint(ctx, inp.laddr, inp.lport, numLocal, width) : inet6print(ctx, inp.laddr, inp.lzone, inp.lport, numLocal);
    const remote = v4 ? inetprint(ctx, inp.faddr, inp.fport, numRemote, width) : inet6print(ctx, inp.faddr, null, inp.fport, numRemote);
    line += local.text + remote.text;
    xo.open('local');
    xo.emit('', [
      ['address', local.addr],
      ['port', local.port],
    ]);
    xo.close();
    xo.open('remote');
    xo.emit('', [
      ['address', remote.addr],
      ['port', remote.port],
    ]);
    xo.close();
    xo.emit(line + '\n');
    xo.close();
  }
}

function inetprint(ctx: Ctx, addr: string, port: number, numPort: boolean, width: number): { text: string; addr: string; port: string } {
  const { o } = ctx;
  const name = addr === '0.0.0.0' ? '*' : addr;
  const shown = o.W ? name : name.slice(0, o.A && !numPort ? 12 : 16);
  const p = port === 0 ? '*' : String(port);
  const line = `${shown}.${p} `;
  return { text: o.W ? `${lpad(line, width)} ` : `${lcut(line, width)} `, addr: shown, port: p };
}

function inet6print(ctx: Ctx, addr: string, zone: string | null, port: number, numeric: boolean): { text: string; addr: string; port: string } {
  const { o } = ctx;
  const name = addr === '::' ? '*' : zone ? `${addr}%${zone}` : addr;
  const shown = name.slice(0, o.W ? 39 : o.A && !numeric ? 12 : 16);
  const p = port === 0 ? '*' : String(port);
  const width = o.W ? 45 : o.A ? 18 : 22;
  return { text: `${lcut(`${shown}.${p}`, width)} `, addr: shown, port: p };
}

// ---------------------------------------------------------------------------
// netstat -r (routepr, route.c) and -rs (rt_stats).

const RT_BITS: [number, string, string][] = [
  [0x1, 'U', 'up'],
  [0x2, 'G', 'gateway'],
  [0x4, 'H', 'host'],
  [0x8, 'R', 'reject'],
  [0x10, 'D', 'dynamic'],
  [0x20, 'M', 'modified'],
  [0x40, 'd', 'done'],
  [0x200, 'X', 'xresolve'],
  [0x800, 'S', 'static'],
  [0x8000, '1', 'proto1'],
  [0x4000, '2', 'proto2'],
  [0x40000, '3', 'proto3'],
  [0x1000, 'B', 'blackhole'],
  [0x400000, 'b', 'broadcast'],
];

function routepr(ctx: Ctx): void {
  const { o, xo } = ctx;
  if (o.fib !== undefined && Number(o.fib) !== 0) {
    ctx.err(`netstat: ${Number(o.fib)}: invalid fib\n`);
    throw new Exit(EX_USAGE);
  }
  let routes: RtEntry[];
  try {
    routes = getValue<RtEntry[]>(ctx, 'net.route.dump');
  } catch (e) {
    ctx.err(`netstat: sysctl: net.route.0.0.dump.0: ${strerror(e)}\n`);
    throw new Exit(1);
  }
  xo.open('route-information');
  xo.emit('Routing tables\n');
  xo.open('route-table');
  let fam: string | undefined;
  let wDst = 18;
  let wGw = 18;
  let wIf = 8;
  for (const r of routes) {
    if (o.af !== 'unspec' && r.family !== o.af) continue;
    if (r.family !== fam) {
      if (fam !== undefined) xo.close();
      fam = r.family;
      const v6 = fam === 'inet6';
      wDst = v6 ? (o.numericAddr ? 33 : 18) : 18;
      wGw = v6 ? (o.numericAddr ? 29 : 18) : 18;
      wIf = v6 ? 8 : o.W ? 10 : 8;
      xo.instance('rt-family');
      const label = v6 ? 'Internet6' : 'Internet';
      xo.emit(`\n${label}:\n`, [['address-family', label]]);
      let h = `${lcut('Destination', wDst)} ${lcut('Gateway', wGw)} ${lcut('Flags', 6)} `;
      if (o.W) h += `${rpad('Use', 8)} ${rpad('Mtu', 6)} `;
      h += `${rpad('Netif'.slice(0, wIf), wIf)} ${rpad('Expire', 6)}\n`;
      xo.emit(h);
    }
    xo.instance('rt-entry');
    const dst = r.prefixlen === null ? r.dst : r.prefixlen === 0 && (r.dst === '0.0.0.0' || r.dst === '::') ? 'default' : `${r.dst}/${r.prefixlen}`;
    const col = (key: string, text: string, width: number): { s: string; protrusion: number } => {
      xo.emit('', [[key, text]]);
      if (width < 0) return { s: `${text} `, protrusion: 0 };
      if (o.W || o.numericAddr) return { s: `${lpad(text, width)} `, protrusion: Math.max(0, text.length - width) };
      return { s: `${lcut(text, width)} `, protrusion: 0 };
    };
    const d = col('destination', dst, wDst);
    const g = col('gateway', r.gateway, wGw - d.protrusion);
    let flags = '';
    for (const [bit, c] of RT_BITS) if (r.flags & bit) flags += c;
    let line = d.s + g.s + `${lpad(flags, Math.max(0, 6 - g.protrusion))} `;
    xo.emit('', [['flags', flags]]);
    if (o.json) xo.emit('', [['flags_pretty', RT_BITS.filter(([bit]) => r.flags & bit).map(([, , n]) => n)]]);
    if (o.W) {
      line += `${rpad(r.pksent, 8)} `;
      xo.emit('', [['use', r.pksent]]);
      if (r.mtu) {
        line += `${rpad(r.mtu, 6)} `;
        xo.emit('', [['mtu', r.mtu]]);
      } else line += `${' '.repeat(6)} `;
    }
    line += o.W ? rpad(r.ifname, wIf) : rpad(r.ifname.slice(0, wIf), wIf);
    xo.emit('', [['interface-name', r.ifname]]);
    if (r.expire > 0) {
      line += ` ${rpad(r.expire, 6)}`;
      xo.emit('', [['expire-time', r.expire]]);
    }
    xo.emit(line + '\n');
    xo.close();
  }
  if (fam !== undefined) xo.close();
  xo.close();
  xo.close();
}

function rtStats(ctx: Ctx): void {
  const { xo } = ctx;
  let s: RtStat;
  try {
    s = getValue<RtStat>(ctx, 'net.route.stats');
  } catch (e) {
    ctx.err(`netstat: rtstat: ${strerror(e)}\n`);
    return;
  }
  xo.emit('routing:\n');
  const { p } = printer(ctx);
  p(s.rts_badredirect, 'bad-redirects', 'bad routing redirect%s');
  p(s.rts_dynamic, 'dynamically-created', 'dynamically created route%s');
  p(s.rts_newgateway, 'new-gateways', 'new gateway%s due to redirects');
  p(s.rts_unreach, 'unreachable-destination', 'destination%s found unreachable');
  p(s.rts_wildcard, 'wildcard-uses', 'use%s of a wildcard route');
  p(s.rttrash, 'unused-but-not-freed', 'route%s not in table but not freed');
}

// ---------------------------------------------------------------------------
// netstat -g: multicast routing tables (mroute.c, mroute6.c) and the group
// memberships (FreeBSD 7's mcast.c); -gs: multicast routing statistics.

function mroutepr(ctx: Ctx): void {
  const { o, xo } = ctx;
  if (o.af === 'inet' || o.af === 'unspec') {
    // taplab does no multicast routing: no VIFs, no forwarding cache.
    xo.emit('\nIPv4 Virtual Interface Table is empty\n');
    xo.emit('\nIPv4 Multicast Forwarding Table is empty\n');
    xo.emit('\n');
  }
  if (o.af === 'inet6' || o.af === 'unspec') {
    xo.emit('IPv6 Multicast Interface Table is empty\n');
    xo.emit('\nIPv6 Multicast Forwarding Table is empty\n');
    xo.emit('\n');
  }
  const all = ifmalist(ctx);
  const sections: ['link' | 'inet' | 'inet6', string][] = [
    ['link', 'Link-layer'],
    ['inet', 'IPv4'],
    ['inet6', 'IPv6'],
  ];
  let firstSection = true;
  for (const [fam, title] of sections) {
    if (o.af !== 'unspec' && o.af !== fam) continue;
    if (!firstSection) xo.emit('\n');
    firstSection = false;
    xo.emit(`${title} Multicast Group Memberships\n`);
    xo.emit(`${lpad('Group', 20)}\t${lpad('Link-layer Address', 16)}\t${'Netif'}\n`);
    for (const m of all) {
      if (m.family !== fam) continue;
      const ll = m.lladdr ?? '<none>';
      const ifname = m.ifname.split(':')[0];
      xo.instance('multicast-group-membership');
      xo.emit(`${lpad(m.group, 20)}\t${lpad(ll, 16)}\t${ifname}\n`, [
        ['family', fam],
        ['group-address', m.group],
        ['link-layer-address', ll],
        ['interface-name', ifname],
      ]);
      xo.close();
    }
  }
}

function mrtStats(ctx: Ctx): void {
  const { o } = ctx;
  if (o.af === 'inet' || o.af === 'unspec') ctx.err('netstat: sysctl: net.inet.ip.mrtstat failed.: No such file or directory\n');
  if (o.af === 'inet6' || o.af === 'unspec') ctx.err('netstat: sysctl: net.inet6.ip6.mrt6stat failed.: No such file or directory\n');
}

// ---------------------------------------------------------------------------
// netstat -m (mbpr, mbuf.c): taplab has no mbufs. What holds packets is the
// interface send queues (if_snd: a ring of fixed slots per interface, frames
// copied in) and the UDP socket receive buffers. The layout follows
// netstat -m's "current/free/total" lines:
//
//   <queued>/<free>/<slots> send queue slots in use (current/free/total)
//   <K>K/<K>K/<K>K bytes allocated to send queues (current/free/total)
//   <n> requests for send queue slots denied (queue full)
//   then one line per interface: <name>: <queued>/<maxlen> slots of <size> bytes, <n> denied
//   <n> datagrams in socket receive buffers (<s> sockets)
//   <bytes>/<limit> bytes in socket receive buffers (current/limit)
//   <n> datagrams dropped for lack of socket receive buffer space

function mbpr(ctx: Ctx): void {
  const { xo } = ctx;
  let s: PktBufStats;
  try {
    s = getValue<PktBufStats>(ctx, 'kern.ipc.pktbufs');
  } catch (e) {
    ctx.err(`netstat: sysctl: kern.ipc.pktbufs: ${strerror(e)}\n`);
    throw new Exit(1);
  }
  let len = 0;
  let max = 0;
  let drops = 0;
  let used = 0;
  let bytes = 0;
  for (const q of s.ifqueues) {
    len += q.len;
    max += q.maxlen;
    drops += q.drops;
    used += q.len * q.slotsize;
    bytes += q.bytes;
  }
  const k = (n: number): number => Math.floor(n / 1024);
  xo.open('pktbufs');
  xo.open('send-queues');
  xo.emit(`${len}/${max - len}/${max} send queue slots in use (current/free/total)\n`, [
    ['slots-current', len],
    ['slots-free', max - len],
    ['slots-total', max],
  ]);
  xo.emit(`${k(used)}K/${k(bytes - used)}K/${k(bytes)}K bytes allocated to send queues (current/free/total)\n`, [
    ['bytes-in-use', used],
    ['bytes-free', bytes - used],
    ['bytes-total', bytes],
  ]);
  xo.emit(`${drops} requests for send queue slots denied (queue full)\n`, [['slot-failures', drops]]);
  for (const q of s.ifqueues) {
    xo.instance('interface');
    xo.emit(`\t${q.ifname}: ${q.len}/${q.maxlen} slots of ${q.slotsize} bytes, ${q.drops} denied\n`, [
      ['name', q.ifname],
      ['slots-current', q.len],
      ['slots-total', q.maxlen],
      ['slot-size', q.slotsize],
      ['slot-failures', q.drops],
    ]);
    xo.close();
  }
  xo.close();
  xo.open('socket-buffers');
  xo.emit(`${s.sockets.datagrams} datagrams in socket receive buffers (${s.sockets.count} sockets)\n`, [
    ['datagrams', s.sockets.datagrams],
    ['sockets', s.sockets.count],
  ]);
  xo.emit(`${s.sockets.bytes}/${s.sockets.limit} bytes in socket receive buffers (current/limit)\n`, [
    ['bytes-in-use', s.sockets.bytes],
    ['bytes-limit', s.sockets.limit],
  ]);
  xo.emit(`${s.sockets.drops} datagrams dropped for lack of socket receive buffer space\n`, [['drops', s.sockets.drops]]);
  xo.close();
  xo.close();
}

/** netstat as a Tool (for the CLI, the control socket and labs). */
export const netstatTool: Tool = {
  name: 'netstat',
  summary: 'show network status: sockets, interfaces, statistics, routes, memberships (FreeBSD netstat(1))',
  run: (env, argv) => netstat(env, argv),
};
