/**
 * Private network namespaces for labs, demos and benchmarks, through
 * iproute2. Each namespace is created with a unique name and removed in a
 * finally block; a namespace's TAPs, veths and bridges go with it.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { kerr } from '../kern/errno.js';

export interface Netns {
  readonly name: string;
  readonly path: string;
  /** Run a command inside the namespace; throws with its stderr when it fails. */
  exec(cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number }): string;
  /** `ip <args>` inside the namespace. */
  ip(...args: string[]): string;
}

/** Whether this process may create namespaces and TAPs; the reason when not. */
export function netAdminStatus(): { ok: boolean; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'TAP devices and network namespaces need Linux' };
  if (spawnSync('ip', ['-V']).error) return { ok: false, reason: 'iproute2 (`ip`) is not installed; run scripts/install-deps.sh as root' };
  if (process.getuid?.() !== 0 && !hasCapNetAdmin())
    return {
      ok: false,
      reason:
        'creating TAPs and namespaces needs CAP_NET_ADMIN: run as root (sudo); as a normal user taplab runs labs in a user namespace of its own when the kernel allows it, and TAPs there need /dev/net/tun to be open to the user (mode 0666)',
    };
  return { ok: true, reason: '' };
}

function hasCapNetAdmin(): boolean {
  try {
    // This process's own capabilities (not those of a child such as cat).
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
    return !!m && (BigInt(`0x${m[1]}`) & (1n << 12n)) !== 0n;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000 });
  if (r.error) throw kerr('EIO', `${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw kerr('EIO', `${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Create a uniquely named namespace with loopback up. */
export function createNetns(prefix = 'taplab'): Netns {
  const name = `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  run('ip', ['netns', 'add', name]);
  const ns: Netns = {
    name,
    path: `/run/netns/${name}`,
    exec: (cmd, args, opts) => run('ip', ['netns', 'exec', name, cmd, ...args], opts),
    ip: (...args) => run('ip', ['-n', name, ...args]),
  };
  try {
    ns.ip('link', 'set', 'lo', 'up');
  } catch (e) {
    deleteNetns(ns);
    throw e;
  }
  return ns;
}

export function deleteNetns(ns: Netns): void {
  spawnSync('ip', ['netns', 'del', ns.name], { timeout: 10_000 });
}

export async function withNetns<T>(prefix: string, fn: (ns: Netns) => Promise<T> | T): Promise<T> {
  const ns = createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    deleteNetns(ns);
  }
}
