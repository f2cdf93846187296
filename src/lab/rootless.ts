/**
 * Rootless labs: as a normal user, taplab runs what needs CAP_NET_ADMIN
 * (labs with kernel hosts or bridges, the demo, `taplab host`) by
 * re-executing itself inside a new user and network namespace,
 *
 *   setpriv --pdeathsig KILL unshare --user --map-root-user --net --mount --kill-child=SIGTERM -- node ... taplab ARGS
 *
 * with TAPLAB_REEXEC=1, where it is root of its own namespaces: the lab's
 * namespaces, bridges and veths are made there and vanish with it (the
 * chain dies with this process: setpriv's death signal kills unshare, whose
 * --kill-child ends the re-executed taplab, whose namespace holders die
 * with it). When the kernel does not allow it, one line says why and what
 * to do, and the command exits 77 (EX_NOPERM). Labs with only memory
 * segments never need privileges and are never re-executed.
 *
 * What a user namespace cannot give: opening /dev/net/tun is an ordinary
 * file permission check against the real user, so with the device at mode
 * 0600 (owner root) no TAP can be made rootless; most distributions ship it
 * 0666 (creating a TAP then needs CAP_NET_ADMIN in the namespace, which the
 * re-executed taplab has).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants, userInfo } from 'node:os';
import type { Lab } from './labfile.js';

export interface PrivilegeNeed {
  /** What needs the privileges, as the start of a sentence ("labs/02.yaml has kernel hosts or bridges"). */
  what: string;
  /** Namespaces are made (unshare --net, ip netns add): CAP_SYS_ADMIN as well. */
  namespaces: boolean;
  /** TAPs are made or attached (/dev/net/tun). */
  taps: boolean;
  /** `ip netns add` is used: /run/netns must be writable. */
  namedNetns?: boolean;
}

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const EX_NOPERM = 77;

/** What a lab needs: undefined for a lab with only memory segments and taplab hosts. */
export function labPrivilegeNeed(lab: Lab, file: string): PrivilegeNeed | undefined {
  const bridges = new Set(lab.segments.filter((s) => s.type === 'bridge').map((s) => s.name));
  const kernelHosts = lab.hosts.some((h) => h.kind === 'kernel');
  if (!kernelHosts && bridges.size === 0) return undefined;
  const taps = lab.hosts.some((h) => h.kind === 'taplab' && h.interfaces.some((i) => bridges.has(i.segment)));
  return { what: `${file} has ${kernelHosts ? 'kernel hosts' : 'bridges'}${taps ? ' and taplab hosts on TAPs' : ''}`, namespaces: true, taps };
}

/** The effective capability set of this process. */
function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/** Whether this process can do what `need` needs without a user namespace. */
export function privileged(need: PrivilegeNeed): boolean {
  if (process.getuid?.() === 0) return true;
  const caps = effectiveCaps();
  const has = (c: number) => ((caps >> BigInt(c)) & 1n) === 1n;
  return has(CAP_NET_ADMIN) && (!need.namespaces || has(CAP_SYS_ADMIN));
}

function whoAmI(): string {
  try {
    return `user ${userInfo().username}`;
  } catch {
    return `uid ${process.getuid?.()}`;
  }
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** What to tell an administrator when user namespaces are refused. */
function usernsHint(): string {
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') return 'sudo sysctl -w kernel.unprivileged_userns_clone=1';
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') return 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0';
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0') return 'sudo sysctl -w user.max_user_namespaces=15000';
  return 'check user.max_user_namespaces and any container or security policy that forbids `unshare --user`';
}

export type RootlessPlan = { kind: 'here' } | { kind: 'refuse'; message: string } | { kind: 'reexec' };

/**
 * Decide: run here (root, the capabilities, or already re-executed), re-execute
 * in a user namespace, or refuse with the one sentence that says what to do.
 */
export function rootlessPlan(me: string, need: PrivilegeNeed, env: NodeJS.ProcessEnv = process.env): RootlessPlan {
  if (env.TAPLAB_REEXEC || process.platform !== 'linux' || privileged(need)) return { kind: 'here' };
  const who = whoAmI();
  const probe = spawnSync('unshare', ['--user', '--map-root-user', '--net', '--mount', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error)
    return { kind: 'refuse', message: `${me}: ${need.what}, which needs CAP_NET_ADMIN, and taplab cannot run it rootless: unshare (util-linux) cannot be run (${probe.error.message}); install util-linux, or run it as root (sudo)` };
  if (probe.status !== 0)
    return {
      kind: 'refuse',
      message: `${me}: ${need.what}, which needs CAP_NET_ADMIN; taplab would run it rootless in a user namespace of its own, but this kernel does not let ${who} make one (${(probe.stderr || '').trim().split('\n').pop() || `unshare exited ${probe.status}`}): run it as root (sudo), or allow unprivileged user namespaces (${usernsHint()})`,
    };
  if (need.taps) {
    const tun = '/dev/net/tun';
    if (!existsSync(tun)) return { kind: 'refuse', message: `${me}: ${need.what}, and ${tun} is missing: load the TUN/TAP driver (sudo modprobe tun), or run it as root` };
    try {
      accessSync(tun, constants.R_OK | constants.W_OK);
    } catch {
      let mode = '';
      try {
        const st = statSync(tun);
        mode = ` (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner ${st.uid === 0 ? 'root' : `uid ${st.uid}`})`;
      } catch {
        /* the mode is only a detail of the message */
      }
      return {
        kind: 'refuse',
        message:
          `${me}: ${need.what}; ${tun}${mode} cannot be opened by ${who}, not even in the user namespace taplab would run in, so no TAP can be made rootless: ` +
          `run it as root (sudo), or let users open the TAP device as most distributions do (sudo chmod 0666 ${tun}; making a TAP still needs CAP_NET_ADMIN, which taplab has in its own namespace)`,
      };
    }
  }
  return { kind: 'reexec' };
}

/**
 * In the re-executed taplab (TAPLAB_REEXEC=1, root of its own user, network
 * and mount namespaces): give `ip netns add` a writable, private /run/netns.
 */
function prepareChild(need: PrivilegeNeed): void {
  if (!need.namedNetns || process.getuid?.() !== 0) return;
  // Over /run/netns when it is there; else over /run (this private view then lacks the rest of /run).
  const where = existsSync('/run/netns') ? '/run/netns' : '/run';
  spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'taplab-rootless', where], { stdio: 'ignore', timeout: 10_000 });
}

/**
 * For a command that needs `need` (undefined: nothing): undefined to go on
 * here, or the exit status to return (77 and the one message when it cannot
 * run; the re-executed taplab's status when it ran there).
 */
export async function rootless(me: string, need: PrivilegeNeed | undefined, err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number | undefined> {
  if (!need) return undefined;
  if (process.env.TAPLAB_REEXEC) {
    prepareChild(need);
    return undefined;
  }
  const plan = rootlessPlan(me, need);
  if (plan.kind === 'here') return undefined;
  if (plan.kind === 'refuse') {
    err(`${plan.message}\n`);
    return EX_NOPERM;
  }
  return reexec();
}

/** Run this same command again inside new user, network and mount namespaces; its exit status. */
function reexec(): Promise<number> {
  const argv = ['--pdeathsig', 'KILL', 'unshare', '--user', '--map-root-user', '--net', '--mount', '--kill-child=SIGTERM', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const child = spawn('setpriv', argv, { stdio: 'inherit', env: { ...process.env, TAPLAB_REEXEC: '1' } });
  // The re-executed taplab is unshare's child: signals for this process are passed on to it.
  // A Ctrl-C on a terminal reaches it already (same process group), so SIGINT is passed on only without one.
  const forward = (sig: NodeJS.Signals) => {
    if (sig === 'SIGINT' && process.stdin.isTTY) return;
    if (child.pid === undefined) return;
    let kids: string[] = [];
    try {
      kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      /* unshare has gone already */
    }
    for (const k of kids) {
      try {
        process.kill(Number(k), sig);
      } catch {
        /* gone */
      }
    }
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, forward);
  return new Promise<number>((resolve) => {
    child.on('error', (e) => {
      for (const s of sigs) process.off(s, forward);
      process.stderr.write(`taplab: cannot re-execute in a user namespace: ${e.message}\n`);
      resolve(EX_NOPERM);
    });
    child.on('exit', (code, signal) => {
      for (const s of sigs) process.off(s, forward);
      resolve(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
    });
  });
}

/** What a lab file needs (undefined when it needs nothing, or cannot be read: the command then says what is wrong with it). */
export async function labFileNeed(file: string): Promise<PrivilegeNeed | undefined> {
  const { loadLabFile } = await import('./labfile.js');
  try {
    return labPrivilegeNeed(loadLabFile(file).lab, file);
  } catch {
    return undefined;
  }
}
