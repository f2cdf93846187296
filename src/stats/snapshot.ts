/**
 * Host snapshots: every leaf of a host's sysctl tree at one instant, in a
 * file, the taplab analogue of a kernel core. `taplab -j NAME snapshot FILE`
 * writes one; `ifmcstat -M FILE` (and the other tools' -M) read it through
 * SnapshotTree, which answers get/list/name2oid/describe exactly as the live
 * tree answered them, and refuses writes.
 *
 * File format (JSON, UTF-8), version 1:
 *   { "format": "taplab-snapshot", "version": 1,
 *     "host": "h1", "taken": "2026-11-26T14:00:00.000Z",
 *     "leaves": [ { "name", "oid": [..], "fmt", "descr", "writable",
 *                   "value": <typed value>, "bytes": "<base64>" } ... ] }
 * Leaves whose read fails at snapshot time are recorded with
 * "error": {"errno", "message"} and answer that error when read.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { isKernError, kerr, KernError, type ErrnoName } from '../kern/errno.js';
import type { SysctlInfo, SysctlTree, SysctlValue } from './sysctl.js';

export const SNAPSHOT_FORMAT = 'taplab-snapshot';
export const SNAPSHOT_VERSION = 1;

interface SnapshotLeaf {
  name: string;
  oid: number[];
  fmt: string;
  descr: string;
  writable: boolean;
  value?: unknown;
  bytes?: string;
  error?: { errno: string; message: string };
}

export interface SnapshotFile {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  host: string;
  taken: string;
  leaves: SnapshotLeaf[];
}

/** Read every leaf of a live tree. */
export function takeSnapshot(tree: SysctlTree): SnapshotFile {
  const leaves: SnapshotLeaf[] = [];
  for (const name of tree.list()) {
    const d = tree.describe(name);
    const leaf: SnapshotLeaf = { name, oid: d.oid, fmt: d.fmt, descr: d.descr, writable: d.writable };
    try {
      const v = tree.get(name);
      leaf.value = v.value;
      leaf.bytes = Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength).toString('base64');
    } catch (e) {
      if (!isKernError(e)) throw e;
      leaf.error = { errno: e.code, message: e.message.replace(/^[A-Z0-9]+: /, '') };
    }
    leaves.push(leaf);
  }
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    host: tree.host.name,
    taken: new Date(tree.host.sched.wallNow()).toISOString(),
    leaves,
  };
}

/** Write a snapshot of a live tree to `path` (EACCES/ENOENT... with the path when the file cannot be written). */
export function writeSnapshot(tree: SysctlTree, path: string): SnapshotFile {
  const snap = takeSnapshot(tree);
  try {
    writeFileSync(path, JSON.stringify(snap) + '\n', { mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw kerr(code in ERRNO_NAMES ? (code as ErrnoName) : 'EIO', `snapshot: cannot write ${path}: ${(e as Error).message}`);
  }
  return snap;
}

const ERRNO_NAMES: Record<string, true> = { EACCES: true, ENOENT: true, EPERM: true, ENOSPC: true, EEXIST: true } as const;

/** A tree read back from a snapshot: the same answers, no writes. */
export class SnapshotTree {
  private readonly byName = new Map<string, SnapshotLeaf>();
  private readonly byOid = new Map<string, SnapshotLeaf>();
  private readonly order: string[];

  constructor(readonly snapshot: SnapshotFile, readonly path = '(memory)') {
    for (const l of snapshot.leaves) {
      this.byName.set(l.name, l);
      this.byOid.set(l.oid.join('.'), l);
    }
    this.order = snapshot.leaves.map((l) => l.name);
  }

  /** The host the snapshot was taken of. */
  get hostName(): string {
    return this.snapshot.host;
  }

  private leaf(name: string | number[]): SnapshotLeaf {
    const l = typeof name === 'string' ? this.byName.get(name) : this.byOid.get(name.join('.'));
    if (!l) {
      const text = typeof name === 'string' ? name : `{${name.join(',')}}`;
      throw kerr('ENOENT', `sysctl ${text}: unknown oid (in snapshot ${this.path} of host ${this.snapshot.host})`);
    }
    return l;
  }

  get(name: string | number[]): SysctlValue {
    const l = this.leaf(name);
    if (l.error) throw new KernError(l.error.errno as ErrnoName, l.error.message);
    return { value: l.value, bytes: new Uint8Array(Buffer.from(l.bytes ?? '', 'base64')) };
  }

  set(name: string | number[]): never {
    const l = this.leaf(name);
    throw kerr('EPERM', `sysctl ${l.name}: snapshot ${this.path} is read-only`);
  }

  list(prefix?: string): string[] {
    if (prefix === undefined || prefix === '') return [...this.order];
    const hits = this.order.filter((n) => n === prefix || n.startsWith(prefix + '.'));
    if (hits.length === 0) throw kerr('ENOENT', `sysctl ${prefix}: unknown oid (in snapshot ${this.path})`);
    return hits;
  }

  name2oid(name: string): number[] {
    return [...this.leaf(name).oid];
  }

  describe(name: string | number[]): SysctlInfo {
    const l = this.leaf(name);
    return { name: l.name, oid: [...l.oid], fmt: l.fmt, descr: l.descr, writable: false };
  }
}

/** Read a snapshot file; errors name the file and say what is wrong with it. */
export function readSnapshot(path: string): SnapshotTree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw kerr(code in ERRNO_NAMES ? (code as ErrnoName) : 'EIO', `${path}: ${code === 'ENOENT' ? 'no such snapshot file' : (e as Error).message}`);
  }
  let snap: unknown;
  try {
    snap = JSON.parse(text);
  } catch (e) {
    throw kerr('EINVAL', `${path}: not a taplab snapshot (not JSON: ${(e as Error).message})`);
  }
  const s = snap as Partial<SnapshotFile>;
  if (!s || typeof s !== 'object' || s.format !== SNAPSHOT_FORMAT) throw kerr('EINVAL', `${path}: not a taplab snapshot (no "format": "${SNAPSHOT_FORMAT}")`);
  if (s.version !== SNAPSHOT_VERSION) throw kerr('EINVAL', `${path}: snapshot version ${String(s.version)} is not supported (this taplab reads version ${SNAPSHOT_VERSION})`);
  if (!Array.isArray(s.leaves) || typeof s.host !== 'string') throw kerr('EINVAL', `${path}: snapshot has no "leaves" list or "host" name`);
  for (const [i, l] of s.leaves.entries())
    if (!l || typeof l.name !== 'string' || !Array.isArray(l.oid) || typeof l.fmt !== 'string')
      throw kerr('EINVAL', `${path}: snapshot leaf ${i} lacks a name, oid or fmt`);
  return new SnapshotTree(s as SnapshotFile, path);
}
