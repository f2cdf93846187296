/**
 * `taplab host NAME`: one Host as a long-running process. Its Ethernet
 * interface sits on a Linux TAP (attached to an existing one, or created),
 * it runs on the real clock, and it serves a control socket through which
 * `taplab -j NAME COMMAND` runs tools (ifmcstat, netstat, sysctl...) and
 * host commands (join, leave, send...) on it.
 *
 * Stopping (SIGINT or SIGTERM): the control socket stops listening and its
 * file is removed, every group the host commands joined is left (IGMP and
 * MLD send their leaves or state-change reports, and the process waits,
 * bounded, until the protocols have sent them all), the capture is closed,
 * the TAP is closed, and the process exits 0.
 */
import { RealScheduler, type Scheduler } from '../kern/clock.js';
import { kerr } from '../kern/errno.js';
import { Host } from '../host.js';
import type { EtherDevice } from '../driver/device.js';
import type { Ifnet } from '../driver/ifnet.js';
import { IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS } from '../driver/if_var.js';
import { TapDevice } from '../driver/tap.js';
import { macToString } from '../driver/sockaddr.js';
import { inParse, inToString } from '../inet/in.js';
import { in6Parse, in6ToString } from '../inet/in6.js';
import { SysctlTree } from '../stats/sysctl.js';
import { TOOLS } from '../tools/registry.js';
import { leaveAllGroups, type HeldMembership } from '../tools/hostcmd.js';
import { ControlServer, controlSocketPath } from './control.js';
import { captureHost, type Capture } from './pcapng.js';

export interface HostdOptions {
  name: string;
  /** Attach to this existing (persistent) TAP. */
  attach?: string;
  /** Create a TAP: true lets the kernel pick the name. */
  create?: string | true;
  /** Network namespace of the TAP: a name under /run/netns or a path. */
  netns?: string;
  /** The interface's name on the host (default em0). */
  ifname?: string;
  mac?: string;
  /** IPv4 addresses with prefix length, e.g. 192.0.2.10/24. */
  inet?: string[];
  /** 'auto' (the EUI-64 link-local only, which every interface gets) or ADDR/LEN. */
  inet6?: string[];
  igmpVersion?: number;
  mldVersion?: number;
  robustness?: number;
  /** Write every frame in and out to this pcapng file. */
  pcap?: string;
  /** Control socket path (default controlSocketPath(name)). */
  socketPath?: string;
  /** Tests: run on this device instead of a TAP, on this scheduler. */
  device?: EtherDevice;
  sched?: Scheduler;
}

/** The longest the stop waits for the protocols to send their leaves. */
export const LEAVE_WAIT_MAX_MS = 3000;
/** After the last leave went to the device, the time given to the device to write it. */
const DRAIN_MS = 50;

function oneOf(v: number | undefined, what: string, allowed: number[]): void {
  if (v !== undefined && !allowed.includes(v)) throw kerr('EINVAL', `${what} ${v} is not one of ${allowed.join(', ')}`);
}

function inRange(v: number | undefined, what: string, lo: number, hi: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi)) throw kerr('EINVAL', `${what} ${v} is not an integer from ${lo} to ${hi}`);
}

/** Check the options that need nothing opened, so a mistake costs nothing (EINVAL, a usage error). */
export function checkOptions(o: HostdOptions): void {
  if (!o.device) {
    if (o.attach === undefined && o.create === undefined) throw kerr('EINVAL', 'taplab host needs --attach TAP (an existing TAP) or --create [TAP] (a new one)');
    if (o.attach !== undefined && o.create !== undefined) throw kerr('EINVAL', 'taplab host takes --attach or --create, not both');
  }
  for (const a of o.inet ?? []) {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(a);
    if (!m || !inParse(m[1]) || Number(m[2]) > 32) throw kerr('EINVAL', `--inet ${a}: expected an IPv4 address with a prefix length, like 192.0.2.10/24`);
  }
  for (const a of o.inet6 ?? []) {
    if (a === 'auto') continue;
    const m = /^([^/]+)\/(\d{1,3})$/.exec(a);
    if (!m || !in6Parse(m[1]) || Number(m[2]) > 128) throw kerr('EINVAL', `--inet6 ${a}: expected auto or an IPv6 address with a prefix length, like 2001:db8::10/64`);
  }
  oneOf(o.igmpVersion, '--igmp-version', [1, 2, 3]);
  oneOf(o.mldVersion, '--mld-version', [1, 2]);
  // 1 .. FreeBSD's IGMP_RV_MAX / MLD_RV_MAX.
  inRange(o.robustness, '--robustness', 1, 7);
}

export class HostDaemon {
  private stopping: Promise<StopReport> | undefined;

  private constructor(
    readonly host: Host,
    readonly sched: Scheduler,
    readonly ifp: Ifnet,
    readonly server: ControlServer,
    readonly tapName: string,
    private readonly capture: Capture | undefined,
    readonly opts: HostdOptions,
  ) {}

  /** Build the host, claim its control socket, open the TAP, configure, start capturing. */
  static async start(o: HostdOptions): Promise<HostDaemon> {
    checkOptions(o);
    const sched = o.sched ?? new RealScheduler(true);
    const host = new Host(o.name, sched);
    const tree = new SysctlTree(host);
    let server: ControlServer | undefined;
    let capture: Capture | undefined;
    try {
      // The socket first: a second host of the same name is refused before it touches the TAP.
      let ifp: Ifnet | undefined;
      server = await ControlServer.start({
        host,
        tree,
        tools: TOOLS,
        path: o.socketPath ?? controlSocketPath(o.name),
        info: () => `${host.name} pid ${process.pid} ${ifp ? `${ifp.if_xname} ${describeAddrs(host, ifp)}` : '(starting)'}`,
      });
      // Capture from before the interface attaches, so its first frames (DAD, the first reports) are in the file.
      if (o.pcap) capture = captureHost(host, o.pcap);
      let device: EtherDevice;
      let tapName: string;
      if (o.device) {
        device = o.device;
        tapName = '(test device)';
      } else {
        const tap = TapDevice.open({
          name: o.attach ?? (o.create === true ? undefined : o.create),
          attach: o.attach !== undefined,
          netns: o.netns,
          up: true,
        });
        device = tap;
        tapName = tap.name;
      }
      try {
        // Configured while down, then brought up: the first frames read from the device meet a
        // receive filter that already holds the addresses' groups (224.0.0.1 with the first
        // IPv4 address), so nothing the kernel queued at open is dropped for want of them.
        ifp = host.addEther(device, { name: o.ifname ?? 'em0', mac: o.mac, up: false });
      } catch (e) {
        device.close();
        throw e;
      }
      if (o.igmpVersion !== undefined) host.igmp.forceVersion(ifp, o.igmpVersion as 1 | 2 | 3);
      if (o.mldVersion !== undefined) host.mld.forceVersion(ifp, o.mldVersion as 1 | 2);
      if (o.robustness !== undefined) {
        host.igmp.ifinfo(ifp).config.rv = o.robustness;
        host.mld.ifinfo(ifp).config.rv = o.robustness;
      }
      for (const a of o.inet ?? []) host.inet.v4.addAddress(ifp, a);
      for (const a of o.inet6 ?? []) if (a !== 'auto') host.inet.v6.addAddress(ifp, a);
      const flags = host.ioctl(SIOCGIFFLAGS, { ifr_name: ifp.if_xname }).ifr_flags ?? 0;
      host.ioctl(SIOCSIFFLAGS, { ifr_name: ifp.if_xname, ifr_flags: flags | IFF_UP });
      return new HostDaemon(host, sched, ifp, server, tapName, capture, o);
    } catch (e) {
      try {
        capture?.close();
      } catch {
        /* the start failed already; that error is the one to report */
      }
      await server?.close();
      host.destroy();
      if (!o.sched && sched instanceof RealScheduler) sched.shutdown();
      throw e;
    }
  }

  /** The line printed at start. */
  banner(): string {
    const where = this.opts.device ? 'a test device' : `TAP ${this.tapName}${this.opts.netns ? ` in netns ${this.opts.netns}` : ''}`;
    return (
      `taplab host ${this.host.name}: ${this.ifp.if_xname} ${macToString(this.ifp.if_lladdr.lladdr)} on ${where}, ` +
      `${describeAddrs(this.host, this.ifp)}; control socket ${this.server.path}` +
      (this.opts.pcap ? `; capturing to ${this.opts.pcap}` : '')
    );
  }

  /**
   * Stop: close the control socket (removing its file), leave every group,
   * wait (bounded) until IGMP/MLD have sent the leaves, close the capture and
   * the device. Safe to call twice (the second call returns the first's result).
   */
  stop(): Promise<StopReport> {
    return (this.stopping ??= this.doStop());
  }

  private async doStop(): Promise<StopReport> {
    await this.server.close();
    const left = leaveAllGroups(this.host);
    const waitedMs = await this.waitLeaves(left);
    await this.wait(DRAIN_MS);
    const packets = this.capture?.packets();
    let captureError: string | undefined;
    try {
      this.capture?.close();
    } catch (e) {
      captureError = e instanceof Error ? e.message : String(e);
    }
    this.host.destroy();
    if (!this.opts.sched && this.sched instanceof RealScheduler) this.sched.shutdown();
    return { left, waitedMs, packets, captureError };
  }

  private wait(ms: number): Promise<void> {
    return new Promise((r) => this.sched.callout(ms, r, 'hostd stop'));
  }

  /** Poll, on the host's clock, until the protocols have released every group left (or the bound). */
  private async waitLeaves(left: HeldMembership[]): Promise<number> {
    const t0 = this.sched.now();
    const stillHeld = () =>
      left.some((m) => {
        const ifp = this.host.ifunit(m.ifname);
        if (!ifp) return false;
        if (m.family === 'inet') return !!this.host.inet.v4.findGroup(ifp, inParse(m.group)!);
        return !!this.host.inet.v6.findGroup(ifp, in6Parse(m.group)!);
      });
    while (stillHeld() && this.sched.now() - t0 < LEAVE_WAIT_MAX_MS) await this.wait(20);
    return Math.round(this.sched.now() - t0);
  }
}

export interface StopReport {
  left: HeldMembership[];
  waitedMs: number;
  packets: number | undefined;
  /** The capture's write error, if it met one. */
  captureError?: string;
}

function describeAddrs(host: Host, ifp: Ifnet): string {
  const v4 = host.inet.v4.addresses(ifp).map((a) => `inet ${inToString(a.addr)}/${a.plen}`);
  const v6 = host.inet.v6.addresses(ifp).map((a) => `inet6 ${in6ToString(a.addr)}${(a.addr[0] === 0xfe && (a.addr[1] & 0xc0) === 0x80) ? `%${ifp.if_xname}` : ''}/${a.plen}`);
  const all = [...v4, ...v6];
  return all.length ? all.join(', ') : 'no addresses';
}

/**
 * Run a host until SIGINT or SIGTERM; returns the exit status (0).
 * `out` gets the start line and the stop summary.
 */
export async function runHostd(o: HostdOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const d = await HostDaemon.start(o);
  out(d.banner());
  // The host's kernel messages (dmesg) as they are written, like a console.
  const unlog = d.host.msgbuf.observe((l) => process.stderr.write(`taplab host ${o.name}: kernel: ${l.text}\n`));
  const sig = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      // Further signals while stopping are ignored: the stop is bounded.
      process.on('SIGINT', ignore);
      process.on('SIGTERM', ignore);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  const r = await d.stop();
  unlog();
  process.off('SIGINT', ignore);
  process.off('SIGTERM', ignore);
  const groups = r.left.length ? `left ${r.left.length} group${r.left.length === 1 ? '' : 's'} (${r.left.map((m) => m.group).join(', ')}) in ${r.waitedMs} ms` : 'no groups to leave';
  const cap = r.captureError ? `; the capture failed: ${r.captureError}` : r.packets !== undefined ? `; ${r.packets} frames captured to ${o.pcap}` : '';
  out(`taplab host ${o.name}: ${sig}: ${groups}${cap}; stopped`);
  return 0;
}

function ignore(): void {}
