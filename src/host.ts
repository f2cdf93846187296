/**
 * A Host is one network stack, like a FreeBSD VNET: its interfaces and
 * if_index space, its EtherType table, its randomness, and the lab's
 * scheduler. Many hosts may live in one process; nothing is global.
 */
import type { Scheduler } from './kern/clock.js';
import { kerr } from './kern/errno.js';
import { Msgbuf } from './kern/msgbuf.js';
import { Netisr } from './kern/netisr.js';
import { Random } from './kern/random.js';
import type { EtherDevice } from './driver/device.js';
import { ether_create, ether_destroy, type EtherIfOptions } from './driver/ether_drv.js';
import { type EtherInputHandler, type Ifnet, IfnetTable, type Vnet, ifioctl, type IfReq, checkIfName } from './driver/ifnet.js';
import { loop_create } from './driver/if_loop.js';
import { Inet } from './inet/inet.js';
import { Igmp } from './igmp/igmp.js';
import { Mld } from './mld/mld.js';

export interface HostOptions {
  /** Seed for this host's randomness (default derived from the name). */
  seed?: number;
  /**
   * Attach the Internet protocols (default true). A bare host (false) has
   * only the interface layer and Ethernet: for tests of that layer and for
   * benchmarks that register their own EtherType.
   */
  inet?: boolean;
  /**
   * Run IGMP and MLD (default true). Without them the stack still merges
   * socket filters into each group's pending state (t1), but nobody reports
   * or commits it: for tests of the socket layer.
   */
  mgmd?: boolean;
}

export class Host implements Vnet {
  readonly netisr = new Netisr();
  readonly ifnets = new IfnetTable();
  readonly ethertypes = new Map<number, EtherInputHandler>();
  readonly random: Random;
  /** The host's kernel messages (log(9), dmesg, sysctl kern.msgbuf). */
  readonly msgbuf: Msgbuf;
  readonly lo0: Ifnet;
  private readonly inetOrNone: Inet | undefined;
  private readonly igmpOrNone: Igmp | undefined;
  private readonly mldOrNone: Mld | undefined;

  constructor(
    readonly name: string,
    readonly sched: Scheduler,
    opts: HostOptions = {},
  ) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name))
      throw kerr('EINVAL', `host name "${name}" must start with a letter and use at most 32 letters, digits, '-' or '_'`);
    this.random = new Random(opts.seed ?? hashName(name));
    this.msgbuf = new Msgbuf(sched);
    this.lo0 = loop_create(this);
    this.inetOrNone = opts.inet === false ? undefined : new Inet(this);
    this.igmpOrNone = this.inetOrNone && opts.mgmd !== false ? new Igmp(this) : undefined;
    this.mldOrNone = this.inetOrNone && opts.mgmd !== false ? new Mld(this) : undefined;
  }

  /** The MLD host (v1/v2) of this host's IPv6. */
  get mld(): Mld {
    if (!this.mldOrNone) throw kerr('EAFNOSUPPORT', `host ${this.name} was created without the Internet protocols`);
    return this.mldOrNone;
  }

  /** The IGMP host (v1/v2/v3) of this host's IPv4. */
  get igmp(): Igmp {
    if (!this.igmpOrNone) throw kerr('EAFNOSUPPORT', `host ${this.name} was created without the Internet protocols`);
    return this.igmpOrNone;
  }

  /** IPv4, IPv6, ARP, ND, ICMP, UDP sockets and multicast membership. */
  get inet(): Inet {
    if (!this.inetOrNone) throw kerr('EAFNOSUPPORT', `host ${this.name} was created without the Internet protocols`);
    return this.inetOrNone;
  }

  /** Attach an Ethernet interface on a device (a TapDevice or a SegmentPort). */
  addEther(device: EtherDevice, opts: EtherIfOptions = {}): Ifnet {
    if (opts.name !== undefined) checkIfName(opts.name);
    return ether_create(this, device, opts);
  }

  /** Detach an interface and close its device. */
  removeInterface(name: string): void {
    const ifp = this.ifunit(name);
    if (!ifp) throw kerr('ENXIO', `host ${this.name} has no interface named ${name}`);
    if (ifp === this.lo0) throw kerr('EPERM', `${name} is the loopback interface and cannot be removed`);
    ether_destroy(ifp);
  }

  /** Register the input routine of an upper protocol for an EtherType. */
  registerEthertype(type: number, handler: EtherInputHandler): void {
    if (!Number.isInteger(type) || type < 0x0600 || type > 0xffff)
      throw kerr('EINVAL', `EtherType 0x${type.toString(16)} is not valid (0x0600..0xffff)`);
    if (this.ethertypes.has(type)) throw kerr('EEXIST', `host ${this.name}: EtherType 0x${type.toString(16)} already has a handler`);
    this.ethertypes.set(type, handler);
  }

  unregisterEthertype(type: number): void {
    this.ethertypes.delete(type);
  }

  ifunit(name: string): Ifnet | undefined {
    return this.ifnets.ifunit(name);
  }

  interfaces(): Ifnet[] {
    return this.ifnets.list();
  }

  ioctl(cmd: number, ifr: IfReq): IfReq {
    return ifioctl(this, cmd, ifr);
  }

  /** A short form for logs and test failures. */
  toJSON(): string {
    return `host ${this.name}`;
  }

  /** Close every device; the host is unusable afterwards. */
  destroy(): void {
    for (const ifp of this.interfaces()) if (ifp !== this.lo0) ether_destroy(ifp);
  }
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
