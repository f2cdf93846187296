/**
 * The host commands of `taplab -j NAME ...`: join, leave, block, unblock,
 * send, groups and snapshot. They act on a live host (env.host) the way a
 * program on that host would, through UDP sockets and the RFC 3678 socket
 * API, so IGMP and MLD react exactly as they do for any other socket.
 *
 * The memberships are held by sockets the host keeps for these commands:
 * one socket per interface and address family, made on first use, and more
 * when a command names one with --socket (two programs on one host). Every
 * command uses the protocol-independent calls of RFC 3678 §5.1
 * (MCAST_JOIN_GROUP, MCAST_JOIN_SOURCE_GROUP, MCAST_BLOCK_SOURCE, ...):
 *
 *   join G                       MCAST_JOIN_GROUP                 EXCLUDE {}
 *   join G --include S1,S2       MCAST_JOIN_SOURCE_GROUP per S    INCLUDE {S1,S2}
 *   join G --exclude S1,S2       MCAST_JOIN_GROUP + MCAST_BLOCK_SOURCE per S
 *   leave G                      MCAST_LEAVE_GROUP
 *   leave G --source S           MCAST_LEAVE_SOURCE_GROUP per S
 *   block G S / unblock G S      MCAST_BLOCK_SOURCE / MCAST_UNBLOCK_SOURCE
 *
 * Errors of the socket layer (EADDRINUSE for a second join, EADDRNOTAVAIL
 * for leaving a group not joined...) print as one line and exit 71
 * (EX_OSERR, as the taplab CLI does for an errno error); a bad command line
 * (unknown option, bad address, unknown interface) exits 64 (EX_USAGE).
 */
import { parseArgs } from 'node:util';
import { parseArgsMessage } from './getopt.js';
import type { Host } from '../host.js';
import type { Ifnet } from '../driver/ifnet.js';
import { IFF_LOOPBACK } from '../driver/if_var.js';
import { KernError, kerr } from '../kern/errno.js';
import { inIsMulticast, inIsUnspecified, inParse } from '../inet/in.js';
import { in6IsMulticast, in6IsUnspecified, in6ParseScoped } from '../inet/in6.js';
import { MCAST_EXCLUDE, MCAST_INCLUDE } from '../inet/in_mcast.js';
import {
  IPPROTO_IP,
  IPPROTO_IPV6,
  IP_MULTICAST_IF,
  IP_MULTICAST_TTL,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  MCAST_BLOCK_SOURCE,
  MCAST_JOIN_GROUP,
  MCAST_JOIN_SOURCE_GROUP,
  MCAST_LEAVE_GROUP,
  MCAST_LEAVE_SOURCE_GROUP,
  MCAST_UNBLOCK_SOURCE,
  type UdpSocket,
} from '../inet/socket.js';
import { SysctlTree } from '../stats/sysctl.js';
import { writeSnapshot } from '../stats/snapshot.js';
import type { Tool, ToolEnv } from './tool.js';

const EX_OK = 0;
const EX_USAGE = 64;
const EX_OSERR = 71;

/** The port `send` uses when none is given. */
export const DEFAULT_SEND_PORT = 5000;

type Family = 'inet' | 'inet6';

/** A usage error: printed with the command's usage line, exit 64. */
class Usage extends Error {}

// ---------------------------------------------------------------- the sockets a host keeps

/**
 * The membership sockets of one host, by "ifname/family/name": one per
 * interface and family, and more when a command names one with --socket
 * (two programs on one host, each with its own filter on the same group,
 * whose filters the interface merges).
 */
class HostMemberships {
  readonly sockets = new Map<string, { so: UdpSocket; name: string }>();

  constructor(readonly host: Host) {}

  socket(ifp: Ifnet, family: Family, name = ''): UdpSocket {
    const key = `${ifp.if_xname}/${family}/${name}`;
    let e = this.sockets.get(key);
    if (!e || e.so.closed) this.sockets.set(key, (e = { so: this.host.inet.socket(family), name }));
    return e.so;
  }

  peek(ifp: Ifnet, family: Family, name = ''): UdpSocket | undefined {
    const e = this.sockets.get(`${ifp.if_xname}/${family}/${name}`);
    return e && !e.so.closed ? e.so : undefined;
  }
}

/** Per-host state, keyed by the host itself (nothing is shared between hosts). */
const byHost = new WeakMap<Host, HostMemberships>();

function memberships(host: Host): HostMemberships {
  let m = byHost.get(host);
  if (!m) byHost.set(host, (m = new HostMemberships(host)));
  return m;
}

/** One membership held by the host commands, for `groups` and for shutdown. */
export interface HeldMembership {
  /** The socket's name given with --socket ('' for the default one). */
  socket: string;
  ifname: string;
  family: Family;
  group: string;
  mode: 'include' | 'exclude';
  sources: string[];
}

/** The memberships the host commands hold on `host`, in socket then join order. */
export function heldMemberships(host: Host): HeldMembership[] {
  const out: HeldMembership[] = [];
  for (const { so, name } of memberships(host).sockets.values()) {
    if (so.closed) continue;
    for (const m of so.memberships.values()) {
      out.push({
        socket: name,
        ifname: m.ifp.if_xname,
        family: so.family,
        group: so.ops.format(m.group),
        mode: m.filter.mode === MCAST_INCLUDE ? 'include' : 'exclude',
        sources: [...m.filter.sources.values()].map((a) => so.ops.format(a)),
      });
    }
  }
  return out;
}

/**
 * Leave every group the host commands joined, by closing their sockets (as
 * a process exiting does): the socket layer drops each membership and IGMP
 * and MLD send the leaves or state-change reports the protocols require.
 * Returns what was left.
 */
export function leaveAllGroups(host: Host): HeldMembership[] {
  const held = heldMemberships(host);
  const m = memberships(host);
  for (const { so } of m.sockets.values()) so.close();
  m.sockets.clear();
  return held;
}

// ---------------------------------------------------------------- argument helpers

function hostOf(env: ToolEnv, cmd: string): Host {
  if (!env.host) throw kerr('EOPNOTSUPP', `${cmd} changes a running host and needs one (use taplab -j NAME ${cmd} ...); it cannot run on a snapshot`);
  return env.host;
}

/** The interface named by -i, or the host's only Ethernet interface. */
/**
 * Apply `apply` to each source as one change of interface state (one
 * report); a failure undoes, in reverse, what this command did, so a failed
 * command changes nothing.
 */
function perSource(host: Host, srcs: Addr[], apply: (s: Addr) => void, undo: (s: Addr) => void): void {
  host.inet.atomically(() => {
    const done: Addr[] = [];
    try {
      for (const s of srcs) {
        apply(s);
        done.push(s);
      }
    } catch (e) {
      for (const s of done.reverse()) undo(s);
      throw e;
    }
  });
}

function interfaceOf(host: Host, name: string | undefined): Ifnet {
  if (name !== undefined) {
    const ifp = host.ifunit(name);
    if (!ifp) {
      const names = host.interfaces().map((i) => i.if_xname).join(', ');
      throw kerr('ENXIO', `host ${host.name} has no interface named ${JSON.stringify(name)} (it has ${names})`);
    }
    return ifp;
  }
  const ethers = host.interfaces().filter((i) => !(i.if_flags & IFF_LOOPBACK));
  if (ethers.length === 1) return ethers[0];
  if (ethers.length === 0) throw new Usage(`host ${host.name} has no Ethernet interface; name one with -i`);
  throw new Usage(`host ${host.name} has ${ethers.length} interfaces (${ethers.map((i) => i.if_xname).join(', ')}); name one with -i`);
}

interface Addr {
  family: Family;
  addr: Uint8Array;
  text: string;
}

function parseAddr(text: string): Addr | undefined {
  if (text.includes(':')) {
    const p = in6ParseScoped(text);
    return p && !p.zone ? { family: 'inet6', addr: p.addr, text } : undefined;
  }
  const a = inParse(text);
  return a ? { family: 'inet', addr: a, text } : undefined;
}

function parseGroup(text: string | undefined, cmd: string): Addr {
  if (text === undefined) throw new Usage(`${cmd} needs a group address`);
  const g = parseAddr(text);
  if (!g) throw new Usage(`"${text}" is not an IPv4 or IPv6 address (EINVAL)`);
  const mc = g.family === 'inet' ? inIsMulticast(g.addr) : in6IsMulticast(g.addr);
  if (!mc) throw new Usage(`${text} is not a multicast group (EINVAL)`);
  return g;
}

function parseSource(text: string, group: Addr): Addr {
  const s = parseAddr(text);
  if (!s) throw new Usage(`source "${text}" is not an IPv4 or IPv6 address (EINVAL)`);
  if (s.family !== group.family) throw new Usage(`source ${text} is not of the group's family (${group.family === 'inet' ? 'IPv4' : 'IPv6'}) (EINVAL)`);
  const bad = s.family === 'inet' ? inIsMulticast(s.addr) || inIsUnspecified(s.addr) : in6IsMulticast(s.addr) || in6IsUnspecified(s.addr);
  if (bad) throw new Usage(`${text} cannot be a source address (EINVAL)`);
  return s;
}

/** Sources from comma-separated lists (repeatable options), without duplicates. */
function parseSources(lists: string[] | undefined, group: Addr, opt: string): Addr[] {
  const out: Addr[] = [];
  const seen = new Set<string>();
  for (const list of lists ?? []) {
    for (const t of list.split(',')) {
      if (!t) throw new Usage(`${opt} takes a comma-separated list of source addresses, not ${JSON.stringify(list)}`);
      const s = parseSource(t, group);
      const k = s.addr.join('.');
      if (seen.has(k)) throw new Usage(`source ${t} is given twice in ${opt} (EINVAL)`);
      seen.add(k);
      out.push(s);
    }
  }
  return out;
}

function level(f: Family): number {
  return f === 'inet' ? IPPROTO_IP : IPPROTO_IPV6;
}

const gr = (ifp: Ifnet, g: Addr) => ({ gr_interface: ifp.if_index, gr_group: g.addr });
const gsr = (ifp: Ifnet, g: Addr, s: Addr) => ({ gsr_interface: ifp.if_index, gsr_group: g.addr, gsr_source: s.addr });

/** A socket-layer message as the person at the host prompt reads it. */
function errLine(cmd: string, e: KernError): string {
  // "snapshot: EIO: snapshot: cannot write..." says the command once.
  const msg = e.message.startsWith(`${e.code}: ${cmd}: `) ? `${e.code}: ${e.message.slice(e.code.length + cmd.length + 4)}` : e.message;
  return `${cmd}: ${msg.replace(/\b(this|the) socket's\b/g, "the host's").replace(/\b(this|the) socket\b/g, 'the host')}\n`;
}

interface CmdSpec {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  body(env: ToolEnv, host: Host, values: Record<string, unknown>, positionals: string[]): number | Promise<number>;
}

/** Build a Tool from a spec: option parsing, --help, and the error-to-exit-code rules. */
function makeTool(spec: CmdSpec): Tool {
  const usage = `usage: ${spec.usage}\n`;
  return {
    name: spec.name,
    summary: spec.summary,
    async run(env, argv) {
      let parsed: { values: Record<string, unknown>; positionals: string[] };
      try {
        parsed = parseArgs({ args: argv, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }) as typeof parsed;
      } catch (e) {
        env.err(`${spec.name}: ${parseArgsMessage(e)}\n${usage}`);
        return EX_USAGE;
      }
      if (parsed.values.help) {
        env.out(`${usage}${spec.summary}\n`);
        return EX_OK;
      }
      try {
        const host = hostOf(env, spec.name);
        return await spec.body(env, host, parsed.values, parsed.positionals);
      } catch (e) {
        if (e instanceof Usage) {
          env.err(`${spec.name}: ${e.message}\n${usage}`);
          return EX_USAGE;
        }
        if (e instanceof KernError) {
          env.err(errLine(spec.name, e));
          return EX_OSERR;
        }
        throw e;
      }
    },
  };
}

/** A --socket name: letters, digits, '-' and '_'. */
function socketName(v: unknown): string {
  if (v === undefined) return '';
  const name = String(v);
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new Usage(`--socket ${JSON.stringify(name)}: a socket name is 1 to 32 letters, digits, '-' or '_'`);
  return name;
}

function positionalCount(positionals: string[], min: number, max: number, cmd: string): void {
  if (positionals.length < min) throw new Usage(`${cmd} needs ${min === 1 ? 'a group' : 'a group and a source'}`);
  if (positionals.length > max) throw new Usage(`unexpected argument ${JSON.stringify(positionals[max])}`);
}

function describe(g: Addr, ifp: Ifnet, mode: string, sources: Addr[]): string {
  return `${g.text} on ${ifp.if_xname}: ${mode} {${sources.map((s) => s.text).join(', ')}}`;
}

// ---------------------------------------------------------------- join / leave / block / unblock

export const joinTool = makeTool({
  name: 'join',
  summary: 'join a multicast group on the host (any-source, or --include/--exclude sources; IPv4 and IPv6)',
  usage: 'join GROUP [-i IF] [--include S1,S2,... | --exclude S1,S2,...] [--socket NAME]',
  options: { interface: { type: 'string', short: 'i' }, include: { type: 'string', multiple: true }, exclude: { type: 'string', multiple: true }, socket: { type: 'string', short: 's' } },
  body(env, host, v, pos) {
    positionalCount(pos, 1, 1, 'join');
    const g = parseGroup(pos[0], 'join');
    if (v.include && v.exclude) throw new Usage('--include and --exclude cannot be used together');
    const inc = parseSources(v.include as string[] | undefined, g, '--include');
    const exc = parseSources(v.exclude as string[] | undefined, g, '--exclude');
    const ifp = interfaceOf(host, v.interface as string | undefined);
    const so = memberships(host).socket(ifp, g.family, socketName(v.socket));
    const lv = level(g.family);
    // The socket calls of one command are one change of interface state: one report
    // (ALLOW {S1, S2}, TO_EX {S1, S2}), not one per call.
    if (v.include) {
      perSource(
        host,
        inc,
        (s) => so.setsockopt(lv, MCAST_JOIN_SOURCE_GROUP, gsr(ifp, g, s)),
        (s) => so.setsockopt(lv, MCAST_LEAVE_SOURCE_GROUP, gsr(ifp, g, s)),
      );
      const now = so.getsourcefilter(ifp.if_index, g.addr);
      env.out(`joined ${g.text} on ${ifp.if_xname}: include {${now.sources.join(', ')}}\n`);
      return EX_OK;
    }
    host.inet.atomically(() => {
      so.setsockopt(lv, MCAST_JOIN_GROUP, gr(ifp, g));
      try {
        for (const s of exc) so.setsockopt(lv, MCAST_BLOCK_SOURCE, gsr(ifp, g, s));
      } catch (e) {
        so.setsockopt(lv, MCAST_LEAVE_GROUP, gr(ifp, g));
        throw e;
      }
    });
    env.out(`joined ${describe(g, ifp, 'exclude', exc)}\n`);
    return EX_OK;
  },
});

export const leaveTool = makeTool({
  name: 'leave',
  summary: 'leave a multicast group on the host, or drop sources from a source-specific membership',
  usage: 'leave GROUP [-i IF] [--source S[,S...]]... [--socket NAME]',
  options: { interface: { type: 'string', short: 'i' }, source: { type: 'string', multiple: true }, socket: { type: 'string', short: 's' } },
  body(env, host, v, pos) {
    positionalCount(pos, 1, 1, 'leave');
    const g = parseGroup(pos[0], 'leave');
    const srcs = parseSources(v.source as string[] | undefined, g, '--source');
    const ifp = interfaceOf(host, v.interface as string | undefined);
    const so = memberships(host).peek(ifp, g.family, socketName(v.socket));
    if (!so || !so.memberships.get(ifp, g.addr))
      throw kerr('EADDRNOTAVAIL', `${g.text} on ${ifp.if_xname}: the host has not joined this group there${v.socket ? ` on socket ${v.socket}` : ''} (see \`groups\`)`);
    const lv = level(g.family);
    if (!srcs.length) {
      so.setsockopt(lv, MCAST_LEAVE_GROUP, gr(ifp, g));
      env.out(`left ${g.text} on ${ifp.if_xname}\n`);
      return EX_OK;
    }
    perSource(
      host,
      srcs,
      (s) => so.setsockopt(lv, MCAST_LEAVE_SOURCE_GROUP, gsr(ifp, g, s)),
      (s) => so.setsockopt(lv, MCAST_JOIN_SOURCE_GROUP, gsr(ifp, g, s)),
    );
    const left = so.memberships.get(ifp, g.addr);
    if (!left) env.out(`left ${g.text} on ${ifp.if_xname} (no sources remain)\n`);
    else env.out(`${g.text} on ${ifp.if_xname}: include {${so.getsourcefilter(ifp.if_index, g.addr).sources.join(', ')}}\n`);
    return EX_OK;
  },
});

function blockTool(block: boolean): Tool {
  const name = block ? 'block' : 'unblock';
  return makeTool({
    name,
    summary: block
      ? 'block a source of an any-source (EXCLUDE) membership on the host'
      : 'unblock a source blocked in an any-source (EXCLUDE) membership on the host',
    usage: `${name} GROUP SOURCE [-i IF] [--socket NAME]`,
    options: { interface: { type: 'string', short: 'i' }, socket: { type: 'string', short: 's' } },
    body(env, host, v, pos) {
      positionalCount(pos, 2, 2, name);
      const g = parseGroup(pos[0], name);
      const s = parseSource(pos[1], g);
      const ifp = interfaceOf(host, v.interface as string | undefined);
      const so = memberships(host).peek(ifp, g.family, socketName(v.socket));
      if (!so || !so.memberships.get(ifp, g.addr))
        throw kerr('EADDRNOTAVAIL', `${g.text} on ${ifp.if_xname}: the host has not joined this group there${v.socket ? ` on socket ${v.socket}` : ''} (see \`groups\`)`);
      so.setsockopt(level(g.family), block ? MCAST_BLOCK_SOURCE : MCAST_UNBLOCK_SOURCE, gsr(ifp, g, s));
      const f = so.getsourcefilter(ifp.if_index, g.addr);
      env.out(`${g.text} on ${ifp.if_xname}: ${f.mode === MCAST_EXCLUDE ? 'exclude' : 'include'} {${f.sources.join(', ')}}\n`);
      return EX_OK;
    },
  });
}

export const blockSourceTool = blockTool(true);
export const unblockSourceTool = blockTool(false);

export const groupsTool = makeTool({
  name: 'groups',
  summary: 'list the memberships the host commands (join/leave/block) hold, with filter mode and sources',
  usage: 'groups [-i IF]',
  options: { interface: { type: 'string', short: 'i' } },
  body(env, host, v) {
    const only = v.interface as string | undefined;
    if (only !== undefined) interfaceOf(host, only);
    const rows = heldMemberships(host).filter((m) => only === undefined || m.ifname === only);
    if (!rows.length) {
      env.out('no memberships held by host commands\n');
      return EX_OK;
    }
    const w = Math.max(...rows.map((r) => r.group.length));
    for (const r of rows) env.out(`${r.ifname}\t${r.family.padEnd(5)}\t${r.group.padEnd(w)}\t${r.mode} {${r.sources.join(', ')}}${r.socket ? `\tsocket ${r.socket}` : ''}\n`);
    return EX_OK;
  },
});

// ---------------------------------------------------------------- send

/** GROUP[:PORT], with IPv6 groups as [GROUP]:PORT when a port is given. */
function splitGroupPort(text: string): { group: string; port: number | undefined } {
  let group = text;
  let port: string | undefined;
  const br = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (br) {
    group = br[1];
    port = br[2];
  } else if (!text.includes('::') && text.split(':').length === 2) {
    [group, port] = text.split(':');
  }
  if (port === undefined) return { group, port: undefined };
  return { group, port: parsePort(port, `the port in ${JSON.stringify(text)}`) };
}

function parsePort(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new Usage(`${what} must be a port from 1 to 65535, not ${JSON.stringify(text)}`);
  return Number(text);
}

function parseIntOpt(text: unknown, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const t = String(text);
  if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) throw new Usage(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(t)}`);
  return Number(t);
}

export const sendTool = makeTool({
  name: 'send',
  summary: 'send UDP datagrams to a multicast group from the host',
  usage: 'send GROUP[:PORT] [-i IF] [--port P] [--ttl N] [--count N] [--interval MS] [--data TEXT]',
  options: {
    interface: { type: 'string', short: 'i' },
    port: { type: 'string', short: 'p' },
    ttl: { type: 'string', short: 't' },
    count: { type: 'string', short: 'c' },
    interval: { type: 'string' },
    data: { type: 'string', short: 'd' },
  },
  async body(env, host, v, pos) {
    positionalCount(pos, 1, 1, 'send');
    const gp = splitGroupPort(pos[0]);
    const g = parseGroup(gp.group, 'send');
    const optPort = v.port === undefined ? undefined : parsePort(String(v.port), '--port');
    if (gp.port !== undefined && optPort !== undefined && gp.port !== optPort)
      throw new Usage(`the port is given twice (${gp.port} and --port ${optPort})`);
    const port = gp.port ?? optPort ?? DEFAULT_SEND_PORT;
    const ttl = parseIntOpt(v.ttl, '--ttl', 0, 255);
    const count = parseIntOpt(v.count, '--count', 1, 1_000_000) ?? 1;
    const interval = parseIntOpt(v.interval, '--interval', 0, 3_600_000) ?? 0;
    const data = v.data === undefined ? 'taplab' : String(v.data);
    const ifp = interfaceOf(host, v.interface as string | undefined);
    const so = host.inet.socket(g.family);
    let sent = 0;
    try {
      if (g.family === 'inet') {
        so.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, { imr_ifindex: ifp.if_index });
        if (ttl !== undefined) so.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, ttl);
      } else {
        so.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, ifp.if_index);
        if (ttl !== undefined) so.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
      }
      const bytes = new TextEncoder().encode(data);
      const dst = g.family === 'inet6' && g.text.toLowerCase().startsWith('ff02') ? `${g.text}%${ifp.if_xname}` : g.text;
      for (; sent < count; ) {
        if (env.signal?.aborted) break;
        so.send(bytes, dst, port);
        sent++;
        if (sent < count && interval > 0) {
          try {
            await env.sleep(interval);
          } catch {
            break; // cancelled
          }
        }
      }
    } finally {
      so.close();
    }
    const ttlShown = so.mopts.ttl;
    env.out(`sent ${sent} datagram${sent === 1 ? '' : 's'} of ${new TextEncoder().encode(data).length} bytes to ${g.text} port ${port} on ${ifp.if_xname} (${g.family === 'inet' ? 'ttl' : 'hop limit'} ${ttlShown})\n`);
    return EX_OK;
  },
});

// ---------------------------------------------------------------- snapshot

export const snapshotTool = makeTool({
  name: 'snapshot',
  summary: "write the host's sysctl tree to a file, for ifmcstat -M and friends (a core file's analogue)",
  usage: 'snapshot FILE',
  options: {},
  body(env, host, _v, pos) {
    if (pos.length !== 1) throw new Usage(pos.length ? `unexpected argument ${JSON.stringify(pos[1])}` : 'snapshot needs a file name');
    // hostEnv gives the host's SysctlTree as the writer; anything else gets a fresh tree of the host.
    writeSnapshot(env.writer instanceof SysctlTree ? env.writer : new SysctlTree(host), pos[0]);
    env.out(`wrote a snapshot of host ${host.name} to ${pos[0]}\n`);
    return EX_OK;
  },
});

/** Every host command, for the registry. */
export const HOST_COMMANDS: readonly Tool[] = [joinTool, leaveTool, blockSourceTool, unblockSourceTool, sendTool, groupsTool, snapshotTool];
