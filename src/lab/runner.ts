/**
 * `taplab run LAB`: build a lab's topology, run its steps on the timeline,
 * check its expectations, print what happened, and tear everything down.
 *
 * Programs (and the lab shell) use LabSession directly:
 *
 *   const { lab } = loadLabFile('labs/01-igmpv3-join.yaml');
 *   const s = await LabSession.start(lab, { virtualTime: true, seed: 1 });
 *   try {
 *     s.onLine((l) => console.log(l.text));          // timeline lines as they happen
 *     await s.command('h1', ['join', '239.1.1.1']);  // any tool on a taplab host; a command on a kernel host
 *     await s.advanceTo(5000);                       // move the lab clock (virtual) or wait (real)
 *     const r = await s.check(someCheckSpec);        // { ok, seen }
 *   } finally {
 *     await s.close();                               // every TAP, bridge, veth and namespace goes
 *   }
 *
 * and runLab(lab, opts) runs the whole file: steps at their times, then the
 * top-level checks at the end, returning a LabResult (the CLI prints it).
 *
 * Kernel side: one "switch" namespace holds every bridge segment (a Linux
 * bridge with the segment's name), with a TAP per taplab interface and the
 * switch end of a veth pair per kernel interface as its ports; each kernel
 * host is a namespace of its own with the other end of its veths. All of
 * them are LabNamespaces (labns.ts), held by processes that die with the
 * runner, so nothing outlives it, not even after SIGKILL.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { RealScheduler, VirtualScheduler, type Scheduler } from '../kern/clock.js';
import { KernError, kerr } from '../kern/errno.js';
import { Random } from '../kern/random.js';
import { Host } from '../host.js';
import type { Ifnet } from '../driver/ifnet.js';
import { IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS } from '../driver/if_var.js';
import { Segment, type SegmentPort } from '../driver/segment.js';
import type { RouterConfig } from '../mgmd/router.js';
import { runOnHost, sysctlTreeOf } from '../tools/registry.js';
import { captureInterface, type Capture } from './pcapng.js';
import { LabNamespace } from './labns.js';
import {
  formatTime,
  parseKernelSocketCommand,
  type BridgeSettings,
  type CheckSpec,
  type HostSpec,
  type IfRef,
  type InterfaceSpec,
  type Lab,
  type MdbMatch,
  type QuerierSpec,
  type StepSpec,
} from './labfile.js';
import { formatEventLine, fromIgmpEvent, fromMldEvent, matchesPacketFilter, parseMembershipFrame, sameAddress, type MembershipEvent } from './timeline.js';

// ---------------------------------------------------------------- options and results

export interface RunOptions {
  /** Seed of every random choice (default: the lab's seed, else 1). */
  seed?: number;
  /** Write a pcapng file per taplab interface into this directory (HOST-IF.pcapng). */
  pcapDir?: string;
  /** Run in virtual time (only labs with memory segments and no kernel hosts). */
  virtualTime?: boolean;
  /** Stop the lab early (Ctrl-C): the session tears down and the result says so. */
  signal?: AbortSignal;
  /** Called with each step as it starts (progress). */
  onStep?: (index: number, total: number, step: StepSpec) => void;
}

export type TimelineKind = 'message' | 'step' | 'output' | 'note' | 'check';

export interface TimelineLine {
  timeMs: number;
  kind: TimelineKind;
  /** The line as printed (times included). */
  text: string;
  /** The message, for kind 'message'. */
  event?: MembershipEvent;
}

export interface CheckResult {
  label: string;
  /** file:line:col of the check. */
  where: string;
  ok: boolean;
  /** What was seen, in a sentence or a few lines. */
  seen: string;
  /** When it was checked (ms since the lab started). */
  atMs: number;
}

export interface LabResult {
  name: string;
  file: string;
  ok: boolean;
  seed: number;
  clock: 'virtual' | 'real';
  /** Lab time at the end (ms). */
  endMs: number;
  timeline: TimelineLine[];
  checks: CheckResult[];
  /** Set when the lab could not be built or was interrupted. */
  error?: string;
  interrupted?: boolean;
}

/** Refuse --virtual-time for a lab that needs the kernel; a sentence why, or undefined. */
export function virtualTimeRefusal(lab: Lab): string | undefined {
  return lab.virtualTimeRefusal ? `--virtual-time needs a lab with only memory segments and no kernel hosts: ${lab.virtualTimeRefusal}` : undefined;
}

/** Whether a lab needs CAP_NET_ADMIN (namespaces, bridges, TAPs). */
export function labNeedsKernel(lab: Lab): boolean {
  return lab.hosts.some((h) => h.kind === 'kernel') || lab.segments.some((s) => s.type === 'bridge');
}

// ---------------------------------------------------------------- the kernel host's socket process

/**
 * The socket process of a kernel host: node dgram sockets in the host's
 * namespace holding its joins until a leave (or until the lab ends, when
 * closing its stdin ends it and the kernel drops the memberships). One JSON
 * request per line in, one reply per line out.
 */
const KERNEL_SOCKETS_JS = String.raw`
const dgram = require('node:dgram');
const readline = require('node:readline');
const socks = new Map();
async function sock(v6, ifname) {
  const key = (v6 ? '6/' : '4/') + ifname;
  let s = socks.get(key);
  if (!s) {
    s = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    await new Promise((res, rej) => { s.once('error', rej); s.bind(0, () => { s.off('error', rej); res(); }); });
    socks.set(key, s);
  }
  return s;
}
let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  chain = chain.then(async () => {
    let reply;
    try {
      const c = JSON.parse(line);
      const s = await sock(c.v6, c.ifname);
      const iface = c.v6 ? '::%' + c.ifname : c.ifaddr;
      if (c.verb === 'join') {
        if (c.sources.length) for (const src of c.sources) s.addSourceSpecificMembership(src, c.group, iface);
        else s.addMembership(c.group, iface);
      } else if (c.verb === 'leave') {
        if (c.sources.length) for (const src of c.sources) s.dropSourceSpecificMembership(src, c.group, iface);
        else s.dropMembership(c.group, iface);
      } else if (c.verb === 'send') {
        s.setMulticastInterface(iface);
        if (c.v6) s.setMulticastTTL(c.ttl); else s.setMulticastTTL(c.ttl);
        for (let i = 0; i < c.count; i++) await new Promise((res, rej) => s.send(c.data, c.port, c.group, (e) => (e ? rej(e) : res())));
      }
      reply = { ok: true };
    } catch (e) {
      reply = { ok: false, error: (e && (e.code ? e.code + ': ' : '') + e.message) || String(e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
process.stdin.on('end', () => process.exit(0));
`;

/** Capture IGMP and MLD frames on every interface of the switch namespace: "IFNAME PKTTYPE HEX" per frame. */
const CAPTURE_PY = String.raw`
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    et = data[12:14]
    if et == b'\x08\x00':
        if len(data) < 34 or data[23] != 2:
            continue
    elif et == b'\x86\xdd':
        if len(data) < 54 or data[20] != 0:
            continue
    else:
        continue
    sys.stdout.write("%s %d %s\n" % (addr[0], addr[2], data.hex()))
    sys.stdout.flush()
`;

const PACKET_OUTGOING = 4;

class LineReader {
  private buf = '';
  constructor(stream: NodeJS.ReadableStream, onLine: (line: string) => void) {
    stream.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        onLine(line);
      }
    });
  }
}

class KernelSockets {
  private readonly pending: ((r: { ok: boolean; error?: string }) => void)[] = [];
  private exited = false;

  constructor(
    readonly proc: ChildProcess,
    private readonly label: string,
  ) {
    proc.stdin!.on('error', () => {});
    new LineReader(proc.stdout!, (line) => {
      try {
        this.pending.shift()?.(JSON.parse(line) as { ok: boolean; error?: string });
      } catch {
        /* not a reply */
      }
    });
    proc.on('exit', () => {
      this.exited = true;
      for (const p of this.pending.splice(0)) p({ ok: false, error: `the socket process of ${label} ended` });
    });
  }

  request(sched: Scheduler, req: object, timeoutMs = 10_000): Promise<{ ok: boolean; error?: string }> {
    if (this.exited) return Promise.resolve({ ok: false, error: `the socket process of ${this.label} is not running` });
    return new Promise((resolve) => {
      const timer = sched.callout(timeoutMs, () => resolve({ ok: false, error: `no reply from the socket process of ${this.label} within ${timeoutMs} ms` }), 'kernel socket reply');
      this.pending.push((r) => {
        timer.stop();
        resolve(r);
      });
      this.proc.stdin!.write(`${JSON.stringify(req)}\n`);
    });
  }

  close(): void {
    this.proc.stdin?.end();
    if (this.proc.pid !== undefined && this.proc.exitCode === null) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

// ---------------------------------------------------------------- the session

interface TaplabIf {
  spec: InterfaceSpec;
  ifp: Ifnet;
  /** Memory segments: the port (cable pull = setLink). */
  port?: SegmentPort;
  /** Bridge segments: the TAP's name in the switch namespace. */
  bridgePort?: string;
}

interface TaplabHost {
  spec: HostSpec;
  host: Host;
  ifs: TaplabIf[];
}

interface KernelHost {
  spec: HostSpec;
  ns: LabNamespace;
  /** The switch-side name of each interface's veth, by interface name. */
  bridgePorts: Map<string, string>;
  sockets?: KernelSockets;
}

const EV_CAP = 100_000;

/** A running lab: its hosts, segments, namespaces and record of events. */
export class LabSession {
  readonly sched: Scheduler;
  readonly seed: number;
  /** Lab time 0, on the scheduler's clock. */
  private t0 = Infinity;
  readonly taplab = new Map<string, TaplabHost>();
  readonly kernel = new Map<string, KernelHost>();
  readonly memorySegments = new Map<string, Segment>();
  /** The namespace of the bridges (undefined without bridge segments). */
  switchNs: LabNamespace | undefined;
  /** Bridge-side device name -> the interface on it. */
  private readonly portOwner = new Map<string, IfRef>();
  private readonly bridgeMacs = new Map<string, string>();
  readonly events: MembershipEvent[] = [];
  readonly lines: TimelineLine[] = [];
  private readonly listeners: ((l: TimelineLine) => void)[] = [];
  private readonly unobserve: (() => void)[] = [];
  private readonly captures: Capture[] = [];
  private readonly namespaces: LabNamespace[] = [];
  private captureProc: ChildProcess | undefined;
  private readonly recentBridge = new Map<string, number>();
  private closed = false;
  private readonly exitHook = () => this.killProcessesNow();

  private constructor(
    readonly lab: Lab,
    readonly opts: RunOptions,
  ) {
    this.seed = opts.seed ?? lab.seed ?? 1;
    this.sched = opts.virtualTime ? new VirtualScheduler() : new RealScheduler(true);
  }

  /** Build the topology. Throws KernError (and has torn down what it built) when it cannot. */
  static async start(lab: Lab, opts: RunOptions = {}): Promise<LabSession> {
    if (opts.virtualTime) {
      const why = virtualTimeRefusal(lab);
      if (why) throw kerr('EINVAL', why);
    }
    const s = new LabSession(lab, opts);
    try {
      await s.build();
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  /** Lab time in milliseconds. */
  now(): number {
    return Math.max(0, this.sched.now() - this.t0);
  }

  /** Watch timeline lines as they are added. Returns an unsubscribe function. */
  onLine(fn: (l: TimelineLine) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private add(kind: TimelineKind, text: string, event?: MembershipEvent, timeMs = this.now()): void {
    const l: TimelineLine = { timeMs, kind, text, ...(event ? { event } : {}) };
    this.lines.push(l);
    for (const fn of this.listeners) fn(l);
  }

  private stamp(ms: number): string {
    return `${(ms / 1000).toFixed(3).padStart(8)}s`;
  }

  private record(e: MembershipEvent, show: boolean, who: string): void {
    if (this.events.length < EV_CAP) this.events.push(e);
    if (show) this.add('message', formatEventLine(e, who), e, e.timeMs);
  }

  private whoOf(host: string, ifname: string): string {
    const h = this.lab.hosts.find((x) => x.name === host);
    return h && h.interfaces.length > 1 ? `${host}.${ifname}` : host;
  }

  // ------------------------------------------------------------ building

  private async build(): Promise<void> {
    const rng = new Random(this.seed);
    const needKernel = labNeedsKernel(this.lab);
    if (needKernel) process.on('exit', this.exitHook);
    for (const seg of this.lab.segments)
      if (seg.type === 'memory') this.memorySegments.set(seg.name, new Segment(this.sched, seg.seed !== undefined ? new Random(seg.seed) : rng.fork(), { name: seg.name, loss: seg.loss, delayMs: seg.delayMs }));
      else rng.fork(); // keep the streams of later segments independent of the kinds of earlier ones
    if (this.lab.segments.some((s) => s.type === 'bridge')) {
      this.switchNs = await this.newNamespace('the bridges');
      try {
        await this.startBridgeCapture();
      } catch (e) {
        // The lab still runs; only the kernel side of the timeline (and kernel packets checks) is missing.
        this.add('note', `${this.stamp(0)}  # no capture on the bridges, so kernel hosts' and bridges' messages are not shown: ${(e as Error).message}`);
      }
      for (const seg of this.lab.segments) if (seg.type === 'bridge') await this.createBridge(seg.name, seg.settings, seg.inet, seg.inet6);
    }
    const names = new Set(this.lab.segments.map((s) => s.name));
    let n = 0;
    const portName = (host: string, ifname: string, kind: string): string => {
      let p = `${host}-${ifname}`;
      if (Buffer.byteLength(p) > 15 || names.has(p)) p = `${kind}${n++}`;
      while (names.has(p)) p = `${kind}${n++}`;
      names.add(p);
      return p;
    };
    for (const spec of this.lab.hosts) {
      const hostSeed = rng.u32();
      if (spec.kind === 'taplab') await this.buildTaplabHost(spec, hostSeed, portName);
      else await this.buildKernelHost(spec, portName);
    }
    for (const seg of this.lab.segments) if (seg.type === 'bridge') await this.finishBridge(seg.name, seg.settings);
    this.t0 = this.sched.now();
  }

  private async newNamespace(label: string): Promise<LabNamespace> {
    const ns = await LabNamespace.create(this.sched, label);
    this.namespaces.push(ns);
    return ns;
  }

  private async startBridgeCapture(): Promise<void> {
    const ns = this.switchNs!;
    const proc = ns.spawn('python3', ['-u', '-c', CAPTURE_PY]);
    this.captureProc = proc;
    proc.stdin!.on('error', () => {});
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = this.sched.callout(10_000, () => reject(kerr('ETIMEDOUT', 'the bridge capture (python3) did not start within 10 s')), 'capture start');
      proc.on('error', (e) => {
        timer.stop();
        reject(kerr('EIO', `cannot start the bridge capture (python3): ${e.message}`));
      });
      proc.on('exit', (code) => {
        timer.stop();
        if (!ready) reject(kerr('EIO', `the bridge capture (python3) exited ${code}: ${err.trim()}`));
      });
      new LineReader(proc.stdout!, (line) => {
        if (!ready) {
          if (line === 'ready') {
            ready = true;
            timer.stop();
            resolve();
          }
          return;
        }
        this.bridgeFrame(line);
      });
    });
  }

  /** A frame seen in the switch namespace: a kernel host's message, or the bridge's own. */
  private bridgeFrame(line: string): void {
    const [ifname, pkttype, hex] = line.split(' ');
    if (!hex) return;
    const frame = Uint8Array.from(Buffer.from(hex, 'hex'));
    const m = parseMembershipFrame(frame);
    if (!m) return;
    const t = this.now();
    const owner = this.portOwner.get(ifname);
    const srcMac = Buffer.from(frame.subarray(6, 12)).toString('hex');
    const outgoing = Number(pkttype) === PACKET_OUTGOING;
    if (owner && this.kernel.has(owner.host)) {
      // On the switch side of a kernel host's veth: incoming = the kernel host sent it.
      const ev: MembershipEvent = { timeMs: t, host: owner.host, ifname: owner.ifname, dir: outgoing ? 'in' : 'out', ...m };
      this.record(ev, !outgoing, this.whoOf(owner.host, owner.ifname));
    }
    const bridge = [...this.bridgeMacs].find(([, mac]) => mac === srcMac)?.[0];
    if (bridge && outgoing) {
      // The bridge's own query goes out of every port: show it once.
      const last = this.recentBridge.get(hex);
      this.recentBridge.set(hex, t);
      if (last === undefined || t - last > 200) this.record({ timeMs: t, host: bridge, ifname: bridge, dir: 'out', ...m }, true, `${bridge} (bridge)`);
    }
  }

  private bridgeArgs(s: BridgeSettings, withQuerier: boolean): string[] {
    const a: string[] = [];
    const cs = (ms: number) => String(Math.round(ms / 10));
    if (s.snooping !== undefined) a.push('mcast_snooping', s.snooping ? '1' : '0');
    if (s.igmpVersion !== undefined) a.push('mcast_igmp_version', String(s.igmpVersion));
    if (s.mldVersion !== undefined) a.push('mcast_mld_version', String(s.mldVersion));
    if (s.queryInterval !== undefined) a.push('mcast_query_interval', cs(s.queryInterval));
    if (s.queryResponseInterval !== undefined) a.push('mcast_query_response_interval', cs(s.queryResponseInterval));
    if (s.startupQueryInterval !== undefined) a.push('mcast_startup_query_interval', cs(s.startupQueryInterval));
    if (s.startupQueryCount !== undefined) a.push('mcast_startup_query_count', String(s.startupQueryCount));
    if (s.lastMemberInterval !== undefined) a.push('mcast_last_member_interval', cs(s.lastMemberInterval));
    if (s.lastMemberCount !== undefined) a.push('mcast_last_member_count', String(s.lastMemberCount));
    if (s.membershipInterval !== undefined) a.push('mcast_membership_interval', cs(s.membershipInterval));
    if (s.querierInterval !== undefined) a.push('mcast_querier_interval', cs(s.querierInterval));
    if (withQuerier && s.querier !== undefined) a.push('mcast_querier', s.querier ? '1' : '0');
    return a;
  }

  private async createBridge(name: string, s: BridgeSettings, inet: string[], inet6: string[]): Promise<void> {
    const ns = this.switchNs!;
    // Timers first, the querier last (the bridge reads them when it starts querying).
    // A fixed MAC: a bridge otherwise takes its lowest port's, and its own queries are told apart by it.
    const mac = `02:b7:00:00:00:${(this.bridgeMacs.size + 1).toString(16).padStart(2, '0')}`;
    await ns.ip('link', 'add', name, 'address', mac, 'type', 'bridge', 'mcast_snooping', s.snooping === false ? '0' : '1', 'mcast_query_use_ifaddr', '1', ...this.bridgeArgs({ ...s, snooping: undefined }, false));
    for (const a of inet) await ns.ip('addr', 'add', a, 'dev', name);
    for (const a of inet6) await ns.ip('-6', 'addr', 'add', a, 'dev', name, 'nodad');
    await ns.ip('link', 'set', name, 'up');
    this.bridgeMacs.set(name, mac.replace(/:/g, ''));
  }

  private async finishBridge(name: string, s: BridgeSettings): Promise<void> {
    const ns = this.switchNs!;
    if (s.fastLeave) for (const [port, ref] of this.portOwner) if (this.segmentOf(ref) === name) await ns.exec('bridge', ['link', 'set', 'dev', port, 'fastleave', 'on']);
    if (s.querier) await ns.ip('link', 'set', name, 'type', 'bridge', 'mcast_querier', '1');
  }

  private segmentOf(ref: IfRef): string | undefined {
    return this.lab.hosts.find((h) => h.name === ref.host)?.interfaces.find((i) => i.name === ref.ifname)?.segment;
  }

  private async buildTaplabHost(spec: HostSpec, seed: number, portName: (h: string, i: string, k: string) => string): Promise<void> {
    const host = new Host(spec.name, this.sched, { seed });
    const th: TaplabHost = { spec, host, ifs: [] };
    this.taplab.set(spec.name, th);
    this.unobserve.push(host.igmp.observe((ev) => this.record(fromIgmpEvent(spec.name, ev, this.now()), ev.dir === 'out', this.whoOf(spec.name, ev.ifp.if_xname))));
    this.unobserve.push(host.mld.observe((ev) => this.record(fromMldEvent(spec.name, ev, this.now()), ev.dir === 'out', this.whoOf(spec.name, ev.ifp.if_xname))));
    // The host's kernel messages (warnings for the operator), on the timeline as notes.
    this.unobserve.push(host.msgbuf.observe((l) => this.add('note', `${this.stamp(l.timeMs)}  ${spec.name}: kernel: ${l.text}`, undefined, l.timeMs)));
    for (const i of spec.interfaces) {
      const seg = this.lab.segments.find((s) => s.name === i.segment)!;
      let ifp: Ifnet;
      const tif: Partial<TaplabIf> = { spec: i };
      if (seg.type === 'memory') {
        const port = this.memorySegments.get(seg.name)!.port(`${spec.name}.${i.name}`);
        tif.port = port;
        ifp = host.addEther(port, { name: i.name, mac: i.mac, up: false });
      } else {
        const { TapDevice } = await import('../driver/tap.js');
        const name = portName(spec.name, i.name, 'tap');
        const tap = TapDevice.open({ name, netns: this.switchNs!.path, up: true });
        try {
          ifp = host.addEther(tap, { name: i.name, mac: i.mac, up: false });
        } catch (e) {
          tap.close();
          throw e;
        }
        tif.bridgePort = name;
        this.portOwner.set(name, { host: spec.name, ifname: i.name });
        await this.switchNs!.ip('link', 'set', name, 'master', seg.name, 'up');
      }
      tif.ifp = ifp;
      th.ifs.push(tif as TaplabIf);
      if (this.opts.pcapDir) {
        mkdirSync(this.opts.pcapDir, { recursive: true });
        this.captures.push(captureInterface(ifp, pathJoin(this.opts.pcapDir, `${spec.name}-${i.name}.pcapng`)));
      }
      if (i.igmpVersion !== undefined) host.igmp.forceVersion(ifp, i.igmpVersion as 1 | 2 | 3);
      if (i.mldVersion !== undefined) host.mld.forceVersion(ifp, i.mldVersion as 1 | 2);
      for (const a of i.inet) host.inet.v4.addAddress(ifp, a);
      for (const a of i.inet6) host.inet.v6.addAddress(ifp, a);
      const flags = host.ioctl(SIOCGIFFLAGS, { ifr_name: ifp.if_xname }).ifr_flags ?? 0;
      host.ioctl(SIOCSIFFLAGS, { ifr_name: ifp.if_xname, ifr_flags: flags | IFF_UP });
      if (i.querier?.igmp) host.igmp.enableQuerier(ifp, routerConfig(i.querier.igmp, 'igmp'));
      if (i.querier?.mld) host.mld.enableQuerier(ifp, { ...routerConfig(i.querier.mld, 'mld'), ...(i.querier.mld.version ? { version: i.querier.mld.version as 1 | 2 } : {}) });
    }
  }

  private async buildKernelHost(spec: HostSpec, portName: (h: string, i: string, k: string) => string): Promise<void> {
    const ns = await this.newNamespace(`kernel host ${spec.name}`);
    const kh: KernelHost = { spec, ns, bridgePorts: new Map() };
    this.kernel.set(spec.name, kh);
    const sw = this.switchNs!;
    for (const i of spec.interfaces) {
      const port = portName(spec.name, i.name, 'veth');
      await sw.ip('link', 'add', port, 'type', 'veth', 'peer', 'name', i.name, 'netns', String(ns.pid));
      kh.bridgePorts.set(i.name, port);
      this.portOwner.set(port, { host: spec.name, ifname: i.name });
      await sw.ip('link', 'set', port, 'master', i.segment, 'up');
      if (i.mac) await ns.ip('link', 'set', i.name, 'address', i.mac);
      if (i.igmpVersion !== undefined) await ns.exec('sysctl', ['-qw', `net.ipv4.conf.${i.name}.force_igmp_version=${i.igmpVersion}`]);
      if (i.mldVersion !== undefined) await ns.exec('sysctl', ['-qw', `net.ipv6.conf.${i.name}.force_mld_version=${i.mldVersion}`]);
    }
    for (const [k, v] of spec.sysctl) {
      const r = await ns.exec('sysctl', ['-qw', `${k}=${v}`], { allowFail: true });
      if (r.code !== 0) throw kerr('EINVAL', `${spec.where}: kernel host ${spec.name}: sysctl ${k}=${v} failed: ${r.stderr.trim() || `exit status ${r.code}`}`);
    }
    for (const i of spec.interfaces) {
      for (const a of i.inet) await ns.ip('addr', 'add', a, 'dev', i.name);
      for (const a of i.inet6) await ns.ip('-6', 'addr', 'add', a, 'dev', i.name, 'nodad');
      await ns.ip('link', 'set', i.name, 'up');
    }
  }

  // ------------------------------------------------------------ time

  /** Move the lab clock to `ms` (virtual time: advance; real time: wait). Returns early when aborted. */
  async advanceTo(ms: number): Promise<void> {
    const target = this.t0 + ms;
    if (this.sched instanceof VirtualScheduler) {
      if (target > this.sched.now()) this.sched.advance(target - this.sched.now());
      return;
    }
    const left = target - this.sched.now();
    if (left <= 0) return;
    const signal = this.opts.signal;
    if (signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const c = this.sched.callout(left, done, 'lab timeline');
      function done() {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      function onAbort() {
        c.stop();
        done();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ------------------------------------------------------------ commands

  /**
   * Run a command on a host: any taplab tool on a taplab host (runOnHost);
   * on a kernel host, join/leave/send through its socket process and
   * anything else through `sh -c` in its namespace.
   */
  async command(hostName: string, argv: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    const th = this.taplab.get(hostName);
    if (th) return runOnHost(th.host, argv, { signal: this.opts.signal });
    const kh = this.kernel.get(hostName);
    if (!kh) throw kerr('ENXIO', `no host named ${hostName} in lab ${this.lab.name}`);
    if (argv[0] === 'join' || argv[0] === 'leave' || argv[0] === 'send') {
      const c = parseKernelSocketCommand(argv, kh.spec);
      if (typeof c === 'string') return { stdout: '', stderr: `${argv[0]}: ${c}\n`, code: 64 };
      if (!kh.sockets) kh.sockets = new KernelSockets(kh.ns.spawn(process.execPath, ['-e', KERNEL_SOCKETS_JS]), `kernel host ${hostName}`);
      const ifs = kh.spec.interfaces.find((i) => i.name === c.ifname)!;
      const v6 = !!c.group.includes(':');
      const r = await kh.sockets.request(this.sched, { ...c, v6, ifaddr: ifs.inet[0]?.split('/')[0] });
      return r.ok ? { stdout: '', stderr: '', code: 0 } : { stdout: '', stderr: `${argv[0]}: ${r.error}\n`, code: 71 };
    }
    const line = argv.map((a) => (/^[A-Za-z0-9_./:=,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
    const r = await kh.ns.exec('sh', ['-c', line], { allowFail: true, timeoutMs: 30_000 });
    return r;
  }

  /** Run one step of the lab now (at its time, the runner's job). Failures become a failed CheckResult. */
  async runStep(step: StepSpec): Promise<CheckResult[]> {
    const t = this.now();
    const a = step.action;
    if (step.note) this.add('note', `${this.stamp(t)}  # ${step.note}`);
    const fail = (label: string, seen: string): CheckResult[] => {
      this.add('output', `${' '.repeat(11)}✗ ${seen.trimEnd().replace(/\n/g, `\n${' '.repeat(13)}`)}`);
      return [{ label, where: step.where, ok: false, seen, atMs: t }];
    };
    try {
      switch (a.kind) {
        case 'note':
          return [];
        case 'pause':
          this.add('step', `${this.stamp(t)}  pause ${formatTime(a.ms)}`);
          return [];
        case 'command': {
          this.add('step', `${this.stamp(t)}  ${a.host}: ${a.line}`);
          const r = await this.command(a.host, a.argv);
          const out = r.stdout.trimEnd();
          if (out) this.add('output', out.split('\n').map((l) => `${' '.repeat(12)}${l}`).join('\n'));
          if (r.code !== 0) return fail(`step ${a.host}: ${a.line}`, `exit ${r.code}: ${(r.stderr || r.stdout).trim()}`);
          return [];
        }
        case 'link': {
          this.add('step', `${this.stamp(t)}  link ${a.iface.host}.${a.iface.ifname} ${a.up ? 'up' : 'down'}`);
          await this.setLink(a.iface, a.up);
          return [];
        }
        case 'version': {
          this.add('step', `${this.stamp(t)}  version ${a.iface.host}.${a.iface.ifname}${a.igmp !== undefined ? ` igmp ${a.igmp}` : ''}${a.mld !== undefined ? ` mld ${a.mld}` : ''}`);
          await this.setVersion(a.iface, a.igmp, a.mld);
          return [];
        }
        case 'bridge': {
          this.add('step', `${this.stamp(t)}  bridge ${a.segment} ${this.bridgeArgs(a.settings, true).join(' ')}${a.settings.fastLeave !== undefined ? ` fast_leave ${a.settings.fastLeave}` : ''}`);
          await this.setBridge(a.segment, a.settings);
          return [];
        }
        case 'expect': {
          const out: CheckResult[] = [];
          for (const c of a.checks) out.push(await this.check(c));
          return out;
        }
      }
    } catch (e) {
      if (e instanceof KernError) return fail(`step at ${step.where}`, e.message);
      throw e;
    }
  }

  async setLink(ref: IfRef, up: boolean): Promise<void> {
    const th = this.taplab.get(ref.host);
    const tif = th?.ifs.find((i) => i.spec.name === ref.ifname);
    if (tif?.port) return tif.port.setLink(up);
    const port = tif?.bridgePort ?? this.kernel.get(ref.host)?.bridgePorts.get(ref.ifname);
    if (!port) throw kerr('ENXIO', `no interface ${ref.host}.${ref.ifname}`);
    await this.switchNs!.ip('link', 'set', port, up ? 'up' : 'down');
  }

  async setVersion(ref: IfRef, igmp?: number, mld?: number): Promise<void> {
    const th = this.taplab.get(ref.host);
    if (th) {
      const ifp = th.ifs.find((i) => i.spec.name === ref.ifname)!.ifp;
      if (igmp !== undefined) th.host.igmp.forceVersion(ifp, igmp as 0 | 1 | 2 | 3);
      if (mld !== undefined) th.host.mld.forceVersion(ifp, mld as 0 | 1 | 2);
      return;
    }
    const kh = this.kernel.get(ref.host)!;
    if (igmp !== undefined) await kh.ns.exec('sysctl', ['-qw', `net.ipv4.conf.${ref.ifname}.force_igmp_version=${igmp}`]);
    if (mld !== undefined) await kh.ns.exec('sysctl', ['-qw', `net.ipv6.conf.${ref.ifname}.force_mld_version=${mld}`]);
  }

  async setBridge(segment: string, s: BridgeSettings): Promise<void> {
    const args = this.bridgeArgs(s, true);
    if (args.length) await this.switchNs!.ip('link', 'set', segment, 'type', 'bridge', ...args);
    if (s.fastLeave !== undefined)
      for (const [port, ref] of this.portOwner) if (this.segmentOf(ref) === segment) await this.switchNs!.exec('bridge', ['link', 'set', 'dev', port, 'fastleave', s.fastLeave ? 'on' : 'off']);
  }

  // ------------------------------------------------------------ checks

  /** Evaluate a check now, retrying for its `within` time. */
  async check(c: CheckSpec): Promise<CheckResult> {
    const start = this.now();
    let r = await this.checkOnce(c);
    while (!r.ok && this.now() - start < c.withinMs && !this.opts.signal?.aborted) {
      await this.advanceTo(Math.min(this.now() + 100, start + c.withinMs));
      r = await this.checkOnce(c);
    }
    const res: CheckResult = { label: c.label, where: c.where, ok: r.ok, seen: r.seen, atMs: this.now() };
    this.add('check', `${this.stamp(res.atMs)}  ${res.ok ? '✓' : '✗'} ${res.label}: ${res.seen.split('\n')[0]}`);
    return res;
  }

  private async checkOnce(c: CheckSpec): Promise<{ ok: boolean; seen: string }> {
    switch (c.kind) {
      case 'output': {
        const r = await this.command(c.host, c.argv);
        // What a terminal shows: the output, then any error message (a check of a failing command looks for its error).
        const out = r.stderr ? `${r.stdout}${r.stdout && !r.stdout.endsWith('\n') ? '\n' : ''}${r.stderr}` : r.stdout;
        const problems: string[] = [];
        if (r.code !== c.exit) problems.push(`exit ${r.code}, not ${c.exit}${r.stderr ? ` (${r.stderr.trim().split('\n')[0]})` : ''}`);
        for (const s of c.contains) if (!out.includes(s)) problems.push(`no ${JSON.stringify(s)}`);
        for (const s of c.notContains) if (out.includes(s)) problems.push(`${JSON.stringify(s)} is there`);
        for (const m of c.matches) if (!new RegExp(m, 'm').test(out)) problems.push(`nothing matches /${m}/`);
        if (problems.length === 0) return { ok: true, seen: describeOk(c) };
        return { ok: false, seen: `${problems.join('; ')}; the output was:\n${indent(out.trimEnd() || '(empty)')}` };
      }
      case 'sysctl': {
        let value: string;
        const th = this.taplab.get(c.host);
        if (th) {
          let v = sysctlTreeOf(th.host).get(c.name).value;
          for (const part of c.field ? c.field.split('.') : []) {
            if (v === null || typeof v !== 'object' || !(part in v)) return { ok: false, seen: `${c.name} has no field ${c.field}` };
            v = (v as Record<string, unknown>)[part];
          }
          value = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
        } else {
          const r = await this.kernel.get(c.host)!.ns.exec('sysctl', ['-n', c.name], { allowFail: true });
          if (r.code !== 0) return { ok: false, seen: `sysctl ${c.name}: ${r.stderr.trim()}` };
          value = r.stdout.trim();
        }
        const num = Number(value);
        let ok = true;
        if (c.equals !== undefined) ok &&= typeof c.equals === 'number' ? num === c.equals : typeof c.equals === 'boolean' ? (num !== 0) === c.equals : value === c.equals;
        if (c.min !== undefined) ok &&= num >= c.min;
        if (c.max !== undefined) ok &&= num <= c.max;
        const want = [c.equals !== undefined ? `= ${c.equals}` : '', c.min !== undefined ? `>= ${c.min}` : '', c.max !== undefined ? `<= ${c.max}` : ''].filter(Boolean).join(', ');
        return { ok, seen: `${c.name}${c.field ? ` ${c.field}` : ''} is ${value}${ok ? '' : ` (expected ${want})`}` };
      }
      case 'mdb': {
        const entries = await this.mdb(c.segment);
        const problems: string[] = [];
        for (const m of c.has) if (!entries.some((e) => mdbMatches(e, m, this.portOwner))) problems.push(`no ${showMatch(m)}`);
        for (const m of c.lacks) if (entries.some((e) => mdbMatches(e, m, this.portOwner))) problems.push(`${showMatch(m)} is there`);
        const shown = entries.map((e) => showEntry(e, this.portOwner)).join('; ') || 'empty';
        return problems.length ? { ok: false, seen: `${problems.join('; ')}; the MDB holds: ${shown}` } : { ok: true, seen: `the MDB holds: ${shown}` };
      }
      case 'packets': {
        const to = Math.min(c.toMs, this.now());
        const onIf = this.events.filter((e) => e.host === c.iface.host && e.ifname === c.iface.ifname && e.timeMs >= c.fromMs && e.timeMs <= to);
        const hits = onIf.filter((e) => matchesPacketFilter(e, c));
        const n = hits.length;
        const ok = c.count !== undefined ? n === c.count : (c.min === undefined || n >= c.min) && (c.max === undefined || n <= c.max) && (c.min !== undefined || c.max !== undefined || n >= 1);
        const want = c.count !== undefined ? `exactly ${c.count}` : [c.min !== undefined ? `at least ${c.min}` : '', c.max !== undefined ? `at most ${c.max}` : ''].filter(Boolean).join(' and ') || 'at least 1';
        const when = `[${formatTime(c.fromMs)}, ${formatTime(to)}]`;
        let seen = `${n} matching message${n === 1 ? '' : 's'} in ${when}${ok ? '' : ` (expected ${want})`}`;
        if (ok && n) seen += `, first at ${formatTime(hits[0].timeMs)}`;
        if (!ok)
          seen += onIf.length
            ? `; all ${onIf.length} on ${c.iface.host}.${c.iface.ifname} in the window:\n${onIf.slice(0, 12).map((e) => `  ${formatTime(e.timeMs)} ${e.dir} ${e.src} → ${e.dst} ${e.text}`).join('\n')}${onIf.length > 12 ? '\n  ...' : ''}`
            : `; ${c.iface.host}.${c.iface.ifname} saw no IGMP or MLD message in the window`;
        return { ok, seen: seen.trimEnd() };
      }
    }
  }

  /** The MDB of a bridge segment (`bridge -j -d mdb show dev BR`). */
  async mdb(segment: string): Promise<MdbEntry[]> {
    const out = (await this.switchNs!.exec('bridge', ['-j', '-d', 'mdb', 'show', 'dev', segment])).stdout;
    const j = JSON.parse(out || '[]') as { mdb?: MdbEntry[] }[];
    return j.flatMap((x) => x.mdb ?? []);
  }

  /** The bridge-side device of an interface on a bridge (a TAP or a veth end), for `bridge` commands. */
  bridgePortOf(ref: IfRef): string | undefined {
    for (const [port, r] of this.portOwner) if (r.host === ref.host && r.ifname === ref.ifname) return port;
    return undefined;
  }

  // ------------------------------------------------------------ teardown

  private killProcessesNow(): void {
    for (const kh of this.kernel.values()) kh.sockets?.close();
    if (this.captureProc?.pid !== undefined && this.captureProc.exitCode === null) {
      try {
        process.kill(this.captureProc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of this.namespaces) ns.close();
  }

  /** Tear everything down: hosts (their TAPs), helper processes, namespaces (their bridges and veths). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unobserve) u();
    const errors: string[] = [];
    for (const c of this.captures) {
      try {
        c.close();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    for (const th of this.taplab.values()) th.host.destroy();
    this.killProcessesNow();
    process.off('exit', this.exitHook);
    if (this.sched instanceof RealScheduler) this.sched.shutdown();
    if (errors.length) throw kerr('EIO', `capture: ${errors.join('; ')}`);
  }
}

function routerConfig(q: QuerierSpec, fam: 'igmp' | 'mld'): Partial<RouterConfig> {
  const c: Partial<RouterConfig> = {};
  if (fam === 'igmp' && q.version !== undefined) c.generation = q.version as 1 | 2 | 3;
  if (q.rv !== undefined) c.rv = q.rv;
  if (q.qi !== undefined) c.qi = q.qi;
  if (q.qri !== undefined) c.qri = q.qri;
  if (q.lmqi !== undefined) c.lmqiMs = q.lmqi;
  if (q.lmqc !== undefined) c.lmqc = q.lmqc;
  if (q.startupCount !== undefined) c.startupQueryCount = q.startupCount;
  if (q.startupInterval !== undefined) c.startupQueryIntervalMs = q.startupInterval;
  return c;
}

export interface MdbEntry {
  port: string;
  grp: string;
  src?: string;
  state?: string;
  filter_mode?: string;
  source_list?: { address: string; timer: string }[];
  flags?: string[];
}

function portText(port: string, owners: Map<string, IfRef>): string {
  const o = owners.get(port);
  return o ? `${o.host}.${o.ifname}` : port;
}

function mdbMatches(e: MdbEntry, m: MdbMatch, owners: Map<string, IfRef>): boolean {
  if (!sameAddress(e.grp, m.group)) return false;
  if (m.port) {
    const o = owners.get(e.port);
    if (!o || o.host !== m.port.host || o.ifname !== m.port.ifname) return false;
  }
  if (m.mode && e.filter_mode !== m.mode) return false;
  if (m.source) {
    const inList = (e.source_list ?? []).some((s) => sameAddress(s.address, m.source!) && parseFloat(s.timer) > 0);
    if (!(e.src && sameAddress(e.src, m.source)) && !inList) return false;
  } else if (e.src) return false;
  return true;
}

function showMatch(m: MdbMatch): string {
  return `${m.source ? `(${m.source}, ${m.group})` : m.group}${m.port ? ` on ${m.port.host}.${m.port.ifname}` : ''}${m.mode ? ` ${m.mode}` : ''}`;
}

function showEntry(e: MdbEntry, owners: Map<string, IfRef>): string {
  const srcs = (e.source_list ?? []).map((s) => s.address);
  return `${e.src ? `(${e.src}, ${e.grp})` : e.grp} on ${portText(e.port, owners)}${e.filter_mode ? ` ${e.filter_mode}` : ''}${srcs.length ? ` {${srcs.join(', ')}}` : ''}`;
}

function describeOk(c: Extract<CheckSpec, { kind: 'output' }>): string {
  const parts = [...c.contains.map((s) => `has ${JSON.stringify(s)}`), ...c.notContains.map((s) => `no ${JSON.stringify(s)}`), ...c.matches.map((m) => `matches /${m}/`)];
  return parts.length ? parts.join(', ') : `exit ${c.exit}`;
}

function indent(s: string): string {
  return s
    .split('\n')
    .slice(0, 40)
    .map((l) => `    ${l}`)
    .join('\n');
}

// ---------------------------------------------------------------- the whole lab

/**
 * Run a lab from start to end: build, steps at their times, the top-level
 * checks at the end, teardown (always). `onLine` sees timeline lines as
 * they happen. Never throws for a failing lab: the result says what failed.
 */
export async function runLab(lab: Lab, opts: RunOptions = {}, onLine?: (l: TimelineLine) => void): Promise<LabResult> {
  const seed = opts.seed ?? lab.seed ?? 1;
  const result: LabResult = { name: lab.name, file: lab.file, ok: false, seed, clock: opts.virtualTime ? 'virtual' : 'real', endMs: 0, timeline: [], checks: [] };
  let s: LabSession;
  try {
    s = await LabSession.start(lab, opts);
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    return result;
  }
  if (onLine) {
    for (const l of s.lines) onLine(l); // what happened while the topology came up
    s.onLine(onLine);
  }
  try {
    for (let i = 0; i < lab.steps.length; i++) {
      const step = lab.steps[i];
      await s.advanceTo(step.atMs);
      if (opts.signal?.aborted) break;
      opts.onStep?.(i, lab.steps.length, step);
      result.checks.push(...(await s.runStep(step)));
    }
    if (!opts.signal?.aborted) await s.advanceTo(lab.endMs);
    if (!opts.signal?.aborted) for (const c of lab.expect) result.checks.push(await s.check(c));
    if (opts.signal?.aborted) {
      result.interrupted = true;
      result.error = `interrupted at ${formatTime(s.now())}`;
    }
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  } finally {
    result.endMs = s.now();
    result.timeline = s.lines;
    try {
      await s.close();
    } catch (e) {
      result.error ??= (e as Error).message;
    }
  }
  result.ok = !result.error && result.checks.every((c) => c.ok);
  return result;
}
