/**
 * What every taplab tool (ifmcstat, netstat, sysctl, ifconfig, and the
 * host commands join/leave/send...) is given to run: a way to read the
 * host's sysctl tree, a way to change it (absent when the tree is a
 * snapshot), the interface ioctls (absent likewise), output streams, and
 * a clock for interval modes. The same tool code runs in-process on a
 * lab's hosts, inside `taplab host` for `taplab -j`, and on a snapshot.
 */
import type { SysctlValue } from '../stats/sysctl.js';
import type { IfReq } from '../driver/ifnet.js';
import type { Host } from '../host.js';

/** The read side of a sysctl tree (a live SysctlTree or a snapshot). */
export interface SysctlReader {
  /** Read a leaf by name or numeric OID; throws KernError (ENOENT, EINVAL...). */
  get(name: string | number[]): SysctlValue;
  /** Names of the leaves under a prefix (all without one), in OID order. */
  list(prefix?: string): string[];
  name2oid(name: string): number[];
}

/** A writable tree: SysctlTree. */
export interface SysctlWriter extends SysctlReader {
  set(name: string | number[], value: unknown): void;
}

export interface ToolEnv {
  /** The tree the tool reads. */
  tree: SysctlReader;
  /** Present for a live host: writes (sysctl NAME=VALUE, netstat -z). */
  writer?: SysctlWriter;
  /** Present for a live host: interface ioctls (ifconfig up/down/mtu/promisc). */
  ioctl?: (cmd: number, ifr: IfReq) => IfReq;
  /** Present for a live host: the stack itself, for the host commands (join, send...). */
  host?: Host;
  out(s: string): void;
  err(s: string): void;
  /** Wait `ms` on the host's clock (virtual in virtual-time labs); rejects when aborted. */
  sleep(ms: number): Promise<void>;
  /** Set when the caller wants an interval tool (netstat -w) to stop. */
  signal?: AbortSignal;
}

export interface Tool {
  name: string;
  /** One line for `taplab --help` and the control protocol's `help`. */
  summary: string;
  /** Exit status as the real tool's (0, 1, 64 EX_USAGE, 65 EX_DATAERR, 68, 71...). */
  run(env: ToolEnv, argv: string[]): number | Promise<number>;
}

/** Output collected by runToolToString. */
export interface ToolResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run a tool with its output collected into strings (tests, the control socket's one-shot replies). */
export async function runToolToString(tool: Tool, env: Omit<ToolEnv, 'out' | 'err'>, argv: string[]): Promise<ToolResult> {
  let stdout = '';
  let stderr = '';
  const code = await tool.run({ ...env, out: (s) => void (stdout += s), err: (s) => void (stderr += s) }, argv);
  return { stdout, stderr, code };
}

/**
 * The environment of a tool run against a live host: its sysctl tree for
 * reading and writing, its ioctls, and its scheduler for interval modes.
 */
export function hostEnv(host: Host, tree: SysctlWriter, io: { out(s: string): void; err(s: string): void; signal?: AbortSignal }): ToolEnv {
  return {
    tree,
    writer: tree,
    ioctl: (cmd, ifr) => host.ioctl(cmd, ifr),
    host,
    out: io.out,
    err: io.err,
    signal: io.signal,
    sleep: (ms) =>
      new Promise<void>((resolve, reject) => {
        if (io.signal?.aborted) return reject(io.signal.reason);
        const c = host.sched.callout(ms, () => {
          io.signal?.removeEventListener('abort', onAbort);
          resolve();
        }, 'tool sleep');
        const onAbort = (): void => {
          c.stop();
          reject(io.signal!.reason);
        };
        io.signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };
}
