/**
 * Network namespaces whose lifetime is tied to the lab's process, so that
 * nothing outlives a lab, even one killed with SIGKILL.
 *
 * Each namespace is held by one process, started as
 *
 *   setpriv --pdeathsig KILL unshare --net -- sh -c 'echo ready; exec cat'
 *
 * and entered through /proc/PID/ns/net (nsenter --net=..., setns for the
 * TAP addon). It is never named under /run/netns. When the runner exits
 * for any reason the holder dies (the kernel sends it SIGKILL as its
 * parent dies, and its stdin reaches end-of-file besides); with no process
 * and no open file left in it, the kernel frees the namespace and every
 * device in it: bridges, veth pairs (both ends), TAPs. Long-lived helpers
 * in a namespace (the kernel hosts' socket processes, the capture) are
 * started the same way, with --pdeathsig KILL.
 *
 * Waits are bounded and use the lab's scheduler (a RealScheduler: these
 * labs run in real time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import type { Scheduler } from '../kern/clock.js';
import { kerr } from '../kern/errno.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Kill the command (SIGKILL, by its PID) after this long; default 10 s. */
  timeoutMs?: number;
  /** Resolve on a non-zero exit instead of rejecting. */
  allowFail?: boolean;
  input?: string;
}

/** Sleep on a scheduler (a callout), for real-time waits in labs. */
export function sleepOn(sched: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => void sched.callout(ms, resolve, 'lab sleep'));
}

/** Run a command, bounded by a callout on `sched`; the child is killed by its PID when the time is up. */
export function execBounded(sched: Scheduler, cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(kerr('EIO', `${cmd}: ${(e as Error).message}`));
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = sched.callout(
      timeoutMs,
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      `exec ${cmd} timeout`,
    );
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      timer.stop();
      reject(kerr('EIO', `${cmd} ${args.join(' ')}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      timer.stop();
      const c = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
      if (timedOut) reject(kerr('ETIMEDOUT', `${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms and was killed`));
      else if (c !== 0 && !opts.allowFail) reject(kerr('EIO', `${cmd} ${args.join(' ')} failed (exit ${c}): ${(stderr || stdout).trim()}`));
      else resolve({ stdout, stderr, code: c });
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** A network namespace held by a child process of this one. */
export class LabNamespace {
  private closed = false;

  private constructor(
    readonly label: string,
    private readonly holder: ChildProcess,
    readonly pid: number,
    private readonly sched: Scheduler,
  ) {}

  /** The namespace file, for nsenter --net= and for TapDevice.open({ netns }). */
  get path(): string {
    return `/proc/${this.pid}/ns/net`;
  }

  /** The namespace's inode (net:[N]), to tell namespaces apart in leak checks. */
  inode(): string {
    return readlinkSync(this.path);
  }

  /** Start a holder and wait (bounded) until it is inside its new namespace, with loopback up. */
  static async create(sched: Scheduler, label: string, timeoutMs = 10_000): Promise<LabNamespace> {
    const holder = spawn('setpriv', ['--pdeathsig', 'KILL', 'unshare', '--net', '--', 'sh', '-c', 'echo ready; exec cat'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    holder.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    holder.stdin!.on('error', () => {});
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = sched.callout(
        timeoutMs,
        () => {
          holder.kill('SIGKILL');
          reject(kerr('ETIMEDOUT', `namespace for ${label}: unshare did not start within ${timeoutMs} ms`));
        },
        'netns holder start',
      );
      holder.on('error', (e) => {
        timer.stop();
        reject(kerr('EIO', `namespace for ${label}: cannot run setpriv/unshare (util-linux): ${e.message}`));
      });
      holder.on('exit', (code) => {
        timer.stop();
        reject(kerr(/Operation not permitted/.test(err) ? 'EPERM' : 'EIO', `namespace for ${label}: unshare --net failed (exit ${code}): ${err.trim() || 'no message'}; creating namespaces needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root)`));
      });
      holder.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready\n')) {
          timer.stop();
          holder.removeAllListeners('exit');
          resolve(holder.pid!);
        }
      });
    });
    const ns = new LabNamespace(label, holder, pid, sched);
    try {
      await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    } catch (e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  /** Run a command inside the namespace (nsenter --net), bounded. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult> {
    if (this.closed) return Promise.reject(kerr('ENXIO', `the namespace of ${this.label} is gone`));
    return execBounded(this.sched, 'nsenter', [`--net=${this.path}`, '--', cmd, ...args], opts);
  }

  /** `ip ARGS` inside the namespace. */
  async ip(...args: string[]): Promise<string> {
    return (await this.exec('ip', args)).stdout;
  }

  /**
   * Start a long-lived process inside the namespace that dies with this
   * process (pdeathsig KILL). The caller ends it by its PID.
   */
  spawn(cmd: string, args: string[]): ChildProcess {
    if (this.closed) throw kerr('ENXIO', `the namespace of ${this.label} is gone`);
    return spawn('setpriv', ['--pdeathsig', 'KILL', 'nsenter', `--net=${this.path}`, '--', cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** End the holder (by its PID); the namespace goes once nothing else is in it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.holder.stdin?.end();
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
