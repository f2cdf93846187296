/**
 * TapDevice: an EtherDevice on a Linux TAP (/dev/net/tun), through the
 * native addon. The kernel is the other end of the cable: what we transmit
 * the kernel receives on the TAP interface, and what the kernel sends out of
 * the TAP arrives in our input batches, filtered by TUNSETTXFILTER.
 */
import { existsSync } from 'node:fs';
import { ERRNO, KernError, type ErrnoName } from '../kern/errno.js';
import type { DeviceHandlers, DeviceStats, EtherDevice, HwFilter } from './device.js';
import { loadTapAddon, TUN_FLT_ALLMULTI, type NativeError, type NativeHandle, type NativePaths, type NativeStats, type TapAddon } from './native.js';

export interface TapOpenOptions {
  /** Interface name (1..15 bytes). Omitted: the kernel picks tapN. Required with attach. */
  name?: string;
  /** Network namespace to create the TAP in: a path (/run/netns/NAME) or a name under /run/netns. */
  netns?: string;
  /** Attach to an existing persistent TAP instead of creating one (ENXIO if it does not exist). */
  attach?: boolean;
  /** Bring the kernel side of the link up (IFF_UP) right away. */
  up?: boolean;
  /** Most frames drained per wake-up (1..4096, default 256). */
  batch?: number;
  /** Bytes per input slot, i.e. the largest frame (1518..262144, default 2048). */
  slotSize?: number;
  /** Use io_uring for batched writes when the kernel allows it (default true); false forces write(). */
  ioUring?: boolean;
  /**
   * The receive path, when the kernel allows it (otherwise read(), and readNote says why):
   *  - 'batch' (the default): batches of RWF_NOWAIT reads on the io_uring write
   *    ring, one io_uring_enter per batch instead of one read() per frame;
   *  - true or 'multishot': an io_uring multishot read (kernel 6.7+) into a
   *    provided-buffer ring over the input slots (on Linux 6.18 no cheaper than read());
   *  - false: one read() per frame.
   */
  uringRead?: boolean | 'batch' | 'multishot';
}

/** DeviceStats plus the kernel's own counters for the TAP (kernel tx = towards us). */
export interface TapStats extends DeviceStats {
  txDropped: number;
  rxDropped: number;
  txPackets: number;
  rxPackets: number;
  txBytes: number;
  rxBytes: number;
  txErrors: number;
}

const IFNAMSIZ = 16;
const MIN_SLOT = 1518; // MTU 1500 + Ethernet header + one VLAN tag
const MAX_SLOT = 262_144;
const MAX_BATCH = 4096;

/**
 * Check an interface name as the Linux kernel does (dev_valid_name), so a
 * person gets a sentence instead of a bare EINVAL from an ioctl.
 */
export function validateIfName(name: unknown): asserts name is string {
  const rule = 'interface names are 1 to 15 bytes, not "." or "..", without "/", ":" or whitespace';
  if (typeof name !== 'string') throw new KernError('EINVAL', `interface name must be a string (${rule})`);
  const shown = JSON.stringify(name);
  if (name.length === 0) throw new KernError('EINVAL', `interface name is empty; ${rule}`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes >= IFNAMSIZ)
    throw new KernError('EINVAL', `interface name ${shown} is ${bytes} bytes long; ${rule}`);
  if (name === '.' || name === '..') throw new KernError('EINVAL', `interface name ${shown} is reserved; ${rule}`);
  const bad = /[/:\s\0]/.exec(name);
  if (bad) {
    const what = bad[0] === '/' || bad[0] === ':' ? `"${bad[0]}"` : 'whitespace or a NUL';
    throw new KernError('EINVAL', `interface name ${shown} contains ${what}; ${rule}`);
  }
}

function resolveNetns(netns: string): string {
  if (typeof netns !== 'string' || netns.length === 0)
    throw new KernError('EINVAL', 'netns must be a namespace name or a path such as /run/netns/NAME');
  const path = netns.includes('/') ? netns : `/run/netns/${netns}`;
  if (!existsSync(path))
    throw new KernError('ENOENT', `network namespace ${path} does not exist (create it with \`ip netns add NAME\`)`);
  return path;
}

function checkInt(what: string, v: number | undefined, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new KernError('EINVAL', `TAP option ${what} is ${v}; it must be an integer from ${min} to ${max}`);
  return v;
}

const CAPABILITY_HELP =
  'creating or attaching a TAP needs CAP_NET_ADMIN: run as root, or give node the capability with ' +
  '`sudo setcap cap_net_admin+ep $(readlink -f $(which node))`, or in a user namespace (`unshare -Urn`), where /dev/net/tun must be open to the user (mode 0666)';

/** Turn an error from the addon into a KernError naming the device and what to do. */
function mapOpenError(e: unknown, name: string | undefined, netns: string | undefined, attach: boolean): KernError {
  if (e instanceof KernError) return e;
  const ne = e as NativeError;
  const code = ne?.code ?? 'EIO';
  const step = ne?.syscall ?? 'open';
  const dev = name ?? 'the new TAP';
  const where = netns ? `network namespace ${netns}` : 'this network namespace';
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return new KernError(
        code,
        `${dev}: permission denied (${code} from ${step}); ${CAPABILITY_HELP}` +
          (attach ? '; a persistent TAP created with `ip tuntap add ... user U` can also be opened by user U' : ''),
      );
    case 'ENODEV':
      if (step === 'if_nametoindex')
        return new KernError(
          'ENXIO',
          `${dev}: no interface named ${JSON.stringify(name)} exists in ${where}; attach needs an existing ` +
            `persistent TAP (\`ip tuntap add dev ${name} mode tap\`), or open it without attach to create it`,
        );
      break;
    case 'ENOENT':
      if (step === 'open netns') return new KernError('ENOENT', `network namespace ${netns} does not exist`);
      if (step.includes('/dev/net/tun'))
        return new KernError('ENXIO', '/dev/net/tun does not exist: load the tun module (`modprobe tun`)');
      break;
    case 'EINVAL':
      if (step === 'setns') return new KernError('EINVAL', `${netns} is not a network namespace file`);
      if (step === 'TUNSETIFF')
        return new KernError(
          'EINVAL',
          attach
            ? `${dev}: the interface in ${where} is not a TAP with IFF_TAP|IFF_NO_PI (a TUN, a multiqueue or vnet_hdr TAP, or another kind of device)`
            : `${dev}: the kernel refused the TAP name or flags (TUNSETIFF EINVAL)`,
        );
      break;
    case 'EBUSY':
      if (step === 'TUNSETIFF')
        return new KernError(
          'EBUSY',
          attach
            ? `${dev} in ${where} is already open elsewhere; a TAP without IFF_MULTI_QUEUE takes one opener`
            : `${dev}: an interface of that name already exists in ${where} (an open TAP, a persistent TAP or another ` +
                'device); choose another name, or pass attach: true to open a persistent TAP',
        );
      break;
  }
  return nativeToKern(ne, dev);
}

/** Generic mapping: keep the errno name when taplab knows it, else EIO. */
function nativeToKern(ne: NativeError | undefined, dev: string): KernError {
  const code = ne?.code ?? 'EIO';
  const kcode: ErrnoName = code in ERRNO ? (code as ErrnoName) : 'EIO';
  return new KernError(kcode, `${dev}: ${ne?.message ?? String(ne)}${kcode !== code ? ` (${code})` : ''}`);
}

function deletedError(name: string, errnoName: string): KernError {
  if (errnoName === 'EBADFD' || errnoName === 'ENODEV' || errnoName === 'ENXIO')
    return new KernError(
      'ENXIO',
      `${name}: the TAP device was deleted from the kernel (its file descriptor now fails with ${errnoName}); ` +
        'the link is down for good: close this device and open a new TAP',
    );
  return new KernError('EIO', `${name}: the TAP file descriptor failed with ${errnoName}; the link is down`);
}

export class TapDevice implements EtherDevice {
  readonly kind = 'tap';
  /** The kernel's name for the interface. */
  readonly name: string;
  /** The interface index in the TAP's own network namespace. */
  readonly ifindex: number;
  /** The namespace path the TAP lives in, or undefined for this process's namespace. */
  readonly netns: string | undefined;
  /** Whether batched writes go through io_uring (now: a fallback may have turned it off since open). */
  get ioUring(): boolean {
    return this.paths().ioUring;
  }
  /** The write path and why, e.g. "io_uring, 256 entries, fixed file". */
  get writePath(): string {
    return this.paths().writePath;
  }
  /** The receive path in use: batched io_uring reads, an io_uring multishot read, or one read() per frame. */
  get readPath(): 'io_uring-batch' | 'io_uring-multishot' | 'read' {
    const m = this.paths().readMode;
    return m === 'read' ? 'read' : m === 'batch' ? 'io_uring-batch' : 'io_uring-multishot';
  }
  /** The receive path and why, e.g. "io_uring batched reads (RWF_NOWAIT, one enter per batch), fixed file". */
  get readNote(): string {
    return this.paths().readPath;
  }
  /** Largest frame carried: the input slot size. */
  readonly maxFrame: number;
  /** Most frames per input batch. */
  readonly batch: number;

  private readonly addon: TapAddon;
  private readonly handle: NativeHandle;
  private readonly arena: Uint8Array;
  private readonly lengths: Uint32Array;
  private handlers: DeviceHandlers | undefined;
  private closed = false;
  private deadError: KernError | undefined;
  /** The kernel side is up (IFF_UP at open, then as the addon's link watcher reports it). */
  private carrier = true;
  /** The I/O paths as last read from the addon (kept after close). */
  private lastPaths: NativePaths;
  private lastStats: TapStats = {
    drops: 0, txDropped: 0, rxDropped: 0, txPackets: 0, rxPackets: 0, txBytes: 0, rxBytes: 0, txErrors: 0,
  };

  private constructor(addon: TapAddon, opts: TapOpenOptions, netns: string | undefined) {
    const r = (() => {
      try {
        return addon.open({ ...opts, netns });
      } catch (e) {
        throw mapOpenError(e, opts.name, netns, opts.attach ?? false);
      }
    })();
    this.addon = addon;
    this.handle = r.handle;
    this.name = r.name;
    this.ifindex = r.ifindex;
    this.netns = netns;
    this.carrier = r.kernelUp;
    this.lastPaths = { ioUring: r.ioUring, writePath: r.writePath, readMode: r.readMode, readPath: r.readPath };
    this.maxFrame = r.slotSize;
    this.batch = r.batch;
    this.arena = new Uint8Array(r.arena);
    this.lengths = r.lengths;
  }

  /**
   * Create a TAP (or attach to a persistent one), synchronously. Throws a
   * KernError: EINVAL for a bad name or option, ENXIO when the addon is not
   * built or attach finds no such interface, EBUSY when the name is taken,
   * EPERM/EACCES without CAP_NET_ADMIN.
   */
  static open(opts: TapOpenOptions = {}): TapDevice {
    if (opts.name !== undefined) validateIfName(opts.name);
    if (opts.attach && opts.name === undefined)
      throw new KernError('EINVAL', 'attach needs the name of an existing TAP (option name)');
    const batch = checkInt('batch', opts.batch, 1, MAX_BATCH, 256);
    const slotSize = checkInt('slotSize', opts.slotSize, MIN_SLOT, MAX_SLOT, 2048);
    const netns = opts.netns === undefined ? undefined : resolveNetns(opts.netns);
    const addon = loadTapAddon();
    return new TapDevice(
      addon,
      {
        name: opts.name,
        attach: !!opts.attach,
        up: !!opts.up,
        batch,
        slotSize,
        ioUring: opts.ioUring ?? true,
        uringRead: opts.uringRead ?? 'batch',
      },
      netns,
    );
  }

  start(handlers: DeviceHandlers): void {
    if (this.closed) throw new KernError('EBADF', `${this.name}: start() on a closed TAP device`);
    if (this.handlers) throw new KernError('EBUSY', `${this.name}: start() was already called`);
    this.handlers = handlers;
    const slot = this.maxFrame;
    this.addon.start(
      this.handle,
      (count) => handlers.input(this.arena, slot, this.lengths, count),
      () => handlers.writable(),
      (up, errnoName) => {
        // No error: the kernel side went down or up (ip link set ... down/up), a cable pulled or put back.
        if (!errnoName) {
          this.carrier = up;
          return handlers.linkState(up);
        }
        this.deadError = deletedError(this.name, errnoName);
        handlers.linkState(false, this.deadError);
      },
    );
  }

  transmit(buf: Uint8Array, slotSize: number, first: number, lengths: Uint32Array, count: number): number {
    if (this.closed) throw new KernError('EBADF', `${this.name}: transmit on a closed TAP device`);
    if (this.deadError) throw this.deadError;
    if (count === 0) return 0;
    try {
      return this.addon.write(this.handle, buf, slotSize, first, lengths, count);
    } catch (e) {
      const ne = e as NativeError;
      if (ne?.code === 'EBADFD' || ne?.code === 'ENODEV') {
        this.deadError ??= deletedError(this.name, ne.code);
        throw this.deadError;
      }
      if (ne?.code === 'EINVAL' && !ne.syscall)
        throw new KernError('EINVAL', `${this.name}: transmit: ${ne.message}`);
      throw nativeToKern(ne, this.name);
    }
  }

  setFilter(filter: HwFilter): void {
    if (this.closed) throw new KernError('EBADF', `${this.name}: setFilter on a closed TAP device`);
    if (this.deadError) throw this.deadError;
    let flags = 0;
    let addrs: Uint8Array;
    if (filter.promisc) {
      addrs = new Uint8Array(0); // count 0 turns the kernel filter off: everything passes
    } else {
      if (filter.allmulti) flags |= TUN_FLT_ALLMULTI;
      if (filter.addrs.length > 0xffff)
        throw new KernError('EINVAL', `${this.name}: ${filter.addrs.length} filter addresses is more than the TAP filter takes`);
      // An empty list would mean "filter off" to the kernel; one all-zero
      // address (which no frame carries) keeps it on and passes nothing.
      const list = filter.addrs.length ? filter.addrs : [new Uint8Array(6)];
      addrs = new Uint8Array(list.length * 6);
      list.forEach((a, i) => {
        if (a.length !== 6)
          throw new KernError('EINVAL', `${this.name}: filter address ${i} is ${a.length} bytes long; MAC addresses are 6 bytes`);
        addrs.set(a, i * 6);
      });
    }
    try {
      this.addon.setFilter(this.handle, flags, addrs);
    } catch (e) {
      throw nativeToKern(e as NativeError, this.name);
    }
  }

  linkUp(): boolean {
    return !this.closed && !this.deadError && this.carrier;
  }

  /** drops = the kernel's tx_dropped for the TAP (including frames its filter rejected). */
  stats(): TapStats {
    if (this.closed) return { ...this.lastStats };
    let s: NativeStats | null = null;
    try {
      s = this.addon.stats(this.handle);
    } catch {
      s = null;
    }
    if (s) this.lastStats = { drops: s.txDropped, ...s };
    return { ...this.lastStats };
  }

  private paths(): NativePaths {
    if (!this.closed) this.lastPaths = this.addon.paths(this.handle);
    return this.lastPaths;
  }

  close(): void {
    if (this.closed) return;
    this.paths(); // keep the paths in use at the end readable after close
    this.stats(); // and the last counters
    this.closed = true;
    this.addon.close(this.handle);
  }
}
