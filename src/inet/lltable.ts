/**
 * The link-layer address cache shared by ARP and ND (FreeBSD's lltable and
 * llentry): per interface, protocol address -> MAC, with an expiry, the
 * datagrams held while the address is being resolved, and the solicitation
 * retries. The protocols supply how to ask and how to send.
 */
import type { Callout, Scheduler } from '../kern/clock.js';
import type { Ifnet } from '../driver/ifnet.js';
import { addrKey } from './in_mcast.js';

export interface LlEntry {
  addr: Uint8Array;
  mac: Uint8Array | null;
  /** Scheduler time at which a resolved entry goes stale. */
  expires: number;
  /** Datagrams waiting for the MAC (la_hold). */
  hold: Uint8Array[];
  /** Solicitations sent for the current resolution. */
  asked: number;
  timer: Callout | undefined;
}

export interface LlTableOptions {
  sched: Scheduler;
  /** Most datagrams held per entry; the oldest goes first. */
  maxHold: number;
  lifetimeMs: number;
  retransMs: number;
  maxTries: number;
  /** Send one solicitation; false when it cannot be sent (no source address). */
  solicit(ifp: Ifnet, addr: Uint8Array): boolean;
  /** Send a held datagram now that the MAC is known. */
  output(ifp: Ifnet, dgram: Uint8Array, mac: Uint8Array): void;
  /** Datagrams dropped: held past maxHold, or when resolution gave up. */
  dropped?(n: number, gaveUp: boolean): void;
  label: string;
}

export class LlTable {
  private readonly tables = new WeakMap<Ifnet, Map<string, LlEntry>>();

  constructor(private readonly o: LlTableOptions) {}

  private table(ifp: Ifnet): Map<string, LlEntry> {
    let t = this.tables.get(ifp);
    if (!t) this.tables.set(ifp, (t = new Map()));
    return t;
  }

  entries(ifp: Ifnet): LlEntry[] {
    return [...this.table(ifp).values()];
  }

  /** The MAC of `addr`, or null when the datagram (copied) waits for a solicitation's answer. */
  resolve(ifp: Ifnet, addr: Uint8Array, dgram: Uint8Array): Uint8Array | null {
    const t = this.table(ifp);
    const key = addrKey(addr);
    const now = this.o.sched.now();
    let e = t.get(key);
    if (e?.mac && e.expires > now) return e.mac;
    if (!e || e.mac) {
      e?.timer?.stop();
      e = { addr: Uint8Array.from(addr), mac: null, expires: 0, hold: [], asked: 0, timer: undefined };
      t.set(key, e);
    }
    if (e.hold.length >= this.o.maxHold) {
      e.hold.shift();
      this.o.dropped?.(1, false);
    }
    e.hold.push(Uint8Array.from(dgram));
    if (e.asked === 0) this.ask(ifp, e);
    return null;
  }

  private ask(ifp: Ifnet, e: LlEntry): void {
    if (!this.o.solicit(ifp, e.addr)) return;
    e.asked++;
    e.timer = this.o.sched.callout(
      this.o.retransMs,
      () => {
        if (e.mac) return;
        if (e.asked >= this.o.maxTries) {
          this.o.dropped?.(e.hold.length, true);
          this.table(ifp).delete(addrKey(e.addr));
          return;
        }
        this.ask(ifp, e);
      },
      `${this.o.label} retry`,
    );
  }

  /**
   * Learn or refresh a neighbor's MAC (RFC 826 / RFC 4861 §7.2.5): an
   * existing entry is updated; a new one is made only when `create`.
   * Held datagrams go out.
   */
  learn(ifp: Ifnet, addr: Uint8Array, mac: Uint8Array, create: boolean): void {
    const t = this.table(ifp);
    const key = addrKey(addr);
    let e = t.get(key);
    if (!e) {
      if (!create) return;
      e = { addr: Uint8Array.from(addr), mac: null, expires: 0, hold: [], asked: 0, timer: undefined };
      t.set(key, e);
    }
    e.timer?.stop();
    e.timer = undefined;
    e.mac = Uint8Array.from(mac);
    e.asked = 0;
    e.expires = this.o.sched.now() + this.o.lifetimeMs;
    const held = e.hold;
    e.hold = [];
    for (const d of held) this.o.output(ifp, d, e.mac);
  }

  /** Forget an interface's entries (link gone, address removed). */
  flush(ifp: Ifnet): void {
    for (const e of this.table(ifp).values()) e.timer?.stop();
    this.tables.delete(ifp);
  }
}
