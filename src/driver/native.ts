/**
 * The native TAP addon (native/tap.c, built to build/Release/taplab_tap.node),
 * loaded lazily so that taplab works without it on in-memory segments.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernError } from '../kern/errno.js';

/** An opaque native device handle. */
export type NativeHandle = object & { readonly __taplabTap?: never };

export interface NativeOpenOptions {
  name?: string;
  /** Path of a network namespace file, e.g. /run/netns/NAME. */
  netns?: string;
  attach?: boolean;
  up?: boolean;
  batch?: number;
  slotSize?: number;
  ioUring?: boolean;
  /** Receive path: false = read() per frame, 'batch' = batched io_uring reads, true or 'multishot' = the multishot read. */
  uringRead?: boolean | 'batch' | 'multishot';
}

export interface NativePaths {
  /** Whether writes go through io_uring. */
  ioUring: boolean;
  /** Which write path is in use, and why (e.g. "io_uring, 256 entries, fixed file"). */
  writePath: string;
  /** The receive path in use: read() per frame, batched io_uring reads, or the multishot read. */
  readMode: 'read' | 'batch' | 'multishot';
  /** Which receive path is in use, and why. */
  readPath: string;
}

export interface NativeOpenResult extends NativePaths {
  handle: NativeHandle;
  /** The kernel's name for the interface. */
  name: string;
  /** The interface index in the TAP's namespace. */
  ifindex: number;
  /** Whether the kernel side is up (IFF_UP) now. */
  kernelUp: boolean;
  /** Input arena: `batch` slots of `slotSize` bytes, written by C, read by JS during onInput. */
  arena: ArrayBuffer;
  /** Input frame lengths, one per slot, written by C. */
  lengths: Uint32Array;
  batch: number;
  slotSize: number;
}

/** The kernel's counters for the TAP (its tx = frames towards us), 32-bit. */
export interface NativeStats {
  txDropped: number;
  rxDropped: number;
  txPackets: number;
  rxPackets: number;
  txBytes: number;
  rxBytes: number;
  /** Frames we wrote that the kernel refused one by one (runts, oversize). */
  txErrors: number;
}

/** Errors thrown by the addon: `code` is the Linux errno name ("EBUSY"). */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export interface TapAddon {
  readonly hasLiburing: boolean;
  open(opts: NativeOpenOptions): NativeOpenResult;
  start(
    handle: NativeHandle,
    onInput: (count: number) => void,
    onWritable: () => void,
    onLinkState: (up: boolean, errnoName: string) => void,
  ): void;
  /** Returns how many frames were accepted; fewer than `count` = back-pressure, onWritable follows. */
  write(handle: NativeHandle, buf: Uint8Array, slotSize: number, first: number, lengths: Uint32Array, count: number): number;
  /** TUNSETTXFILTER; `addrs` holds count*6 bytes. Returns the number of exact entries. */
  setFilter(handle: NativeHandle, flags: number, addrs: Uint8Array): number;
  /** null when the interface no longer exists (or the handle is closed). */
  stats(handle: NativeHandle): NativeStats | null;
  /** The I/O paths in use now: a fallback (a kernel that refuses RWF_NOWAIT, a failed ring) may change them after open. */
  paths(handle: NativeHandle): NativePaths;
  close(handle: NativeHandle): void;
}

/** TUN_FLT_ALLMULTI from linux/if_tun.h. */
export const TUN_FLT_ALLMULTI = 1;

const here = dirname(fileURLToPath(import.meta.url));

/** The addon's path: build/ at the package root (from src/driver or dist/driver). */
export function addonPath(): string {
  let dir = here;
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'build', 'Release', 'taplab_tap.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return resolve(here, '..', '..', 'build', 'Release', 'taplab_tap.node');
}

let cached: TapAddon | undefined;

/** Load the addon once; throws KernError ENXIO saying how to build it. */
export function loadTapAddon(): TapAddon {
  if (cached) return cached;
  const path = addonPath();
  if (process.platform !== 'linux') {
    throw new KernError('ENXIO', `TAP devices need Linux; this is ${process.platform}`);
  }
  if (!existsSync(path)) {
    throw new KernError(
      'ENXIO',
      `the native TAP addon is not built (no ${path}); build it with \`npm run build:native\` ` +
        '(needs a C compiler, make, python3 and the Node headers; as root `bash scripts/install-deps.sh` installs them)',
    );
  }
  try {
    const require = createRequire(import.meta.url);
    cached = require(path) as TapAddon;
    return cached;
  } catch (e) {
    throw new KernError(
      'ENXIO',
      `the native TAP addon at ${path} does not load (${(e as Error).message}); rebuild it with \`npm run build:native\``,
    );
  }
}

/** Whether the addon is available, without throwing. */
export function tapAddonAvailable(): boolean {
  try {
    loadTapAddon();
    return true;
  } catch {
    return false;
  }
}
