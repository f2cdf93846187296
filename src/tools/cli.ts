/**
 * The `taplab` command line.
 *
 *   taplab demo                         the filter demo (needs CAP_NET_ADMIN)
 *   taplab host NAME --attach tap0 ...  one host as a long-running process with a control socket
 *   taplab -j NAME COMMAND [ARGS...]    run a command on a running host (like FreeBSD's jexec)
 *   taplab hosts                        list the running hosts
 *   taplab run LAB [--virtual-time ...] run a lab file (src/lab/runcmd.ts: exit 0 pass, 1 fail, 65 bad file)
 *   taplab shell LAB                    an interactive prompt on a lab (src/lab/shell.ts)
 *
 * As a normal user, demo, host and labs with kernel parts re-execute in a
 * user namespace of their own (src/lab/rootless.ts).
 *
 * Exit codes: 64 usage (EX_USAGE), 69 the host is not there (EX_UNAVAILABLE),
 * 71 an errno error (EX_OSERR), 77 no CAP_NET_ADMIN (EX_NOPERM); with -j, the
 * remote command's own exit status.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { KernError } from '../kern/errno.js';
import { netAdminStatus } from '../lab/netns.js';
import { ControlClient, ControlUnavailable, controlSocketPath, listHosts, runtimeDir } from '../lab/control.js';
import { TOOLS } from './registry.js';
import { shellHelpText } from '../lab/shellhelp.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const EX_USAGE = 64;
const EX_UNAVAILABLE = 69;
const EX_OSERR = 71;
const EX_NOPERM = 77;

function intArg(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} takes a whole number, not ${JSON.stringify(v)}`);
    return Number(v);
  };
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function hostCommandsHelp(): string {
  const rows = [['help', 'list the commands the host serves'], ['info', 'one line about the host (name, pid, interface, addresses)'], ...[...TOOLS.values()].map((t) => [t.name, t.summary])];
  const w = Math.max(...rows.map(([n]) => n.length));
  return rows.map(([n, s]) => `  ${n.padEnd(w)}  ${s}`).join('\n');
}

/**
 * The terminal's streams for a remote command. `sysctl -b` prints raw
 * bytes, which the protocol carries as a binary string (one char per byte):
 * those go out as bytes, everything else as UTF-8 text.
 */
function stdio(cmd: string | undefined, args: string[]): { out(s: string): void; err(s: string): void } {
  const binary = cmd === 'sysctl' && args.some((a) => /^-[a-zA-Z]*b/.test(a));
  return {
    out: (s) => void process.stdout.write(binary ? Buffer.from(s, 'latin1') : s),
    err: (s) => void process.stderr.write(s),
  };
}

/**
 * `taplab -j NAME COMMAND [ARGS...]`: send the command to the host's control
 * socket, stream its output, and exit with its status. The first SIGINT asks
 * the host to cancel the command (netstat -w stops); a second one gives up.
 */
export async function runRemote(
  name: string,
  cmd: string,
  args: string[],
  io: { out(s: string): void; err(s: string): void } = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) },
): Promise<number> {
  let path: string;
  try {
    path = controlSocketPath(name);
  } catch (e) {
    io.err(`taplab: ${(e as Error).message}\n`);
    return EX_USAGE;
  }
  let client: ControlClient;
  try {
    client = await ControlClient.connect(path, name);
  } catch (e) {
    if (e instanceof ControlUnavailable) {
      io.err(`taplab: ${e.message}\n`);
      return e.kind === 'denied' ? EX_NOPERM : EX_UNAVAILABLE;
    }
    throw e;
  }
  // The host runs in its own working directory: a snapshot file name is made absolute here.
  const argv = cmd === 'snapshot' ? args.map((a) => (a.startsWith('-') || isAbsolute(a) ? a : resolve(a))) : args;
  const req = client.request(cmd, argv, io);
  let interrupts = 0;
  let giveUp!: (code: number) => void;
  const gaveUp = new Promise<number>((r) => (giveUp = r));
  const onSigint = () => {
    if (++interrupts === 1) client.cancel(req.id);
    else giveUp(130);
  };
  process.on('SIGINT', onSigint);
  try {
    const end = await Promise.race([req.done, gaveUp.then((code) => ({ exit: code }))]);
    if ('error' in end) {
      io.err(`taplab: host ${name}: ${end.error.message} (${end.error.errno})\n`);
      return EX_USAGE;
    }
    return end.exit;
  } catch (e) {
    io.err(`taplab: host ${name}: ${e instanceof Error ? e.message : String(e)} while running ${cmd}\n`);
    return EX_UNAVAILABLE;
  } finally {
    process.off('SIGINT', onSigint);
    client.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  // `-j NAME COMMAND...` comes before commander: everything after NAME belongs to the remote command.
  const j = argv[0] === '-j' || argv[0] === '--jail' ? 2 : argv[0]?.startsWith('-j') && argv[0].length > 2 ? 1 : 0;
  if (j) {
    const name = j === 2 ? argv[1] : argv[0].slice(2);
    const rest = argv.slice(j);
    if (!name || !rest.length) {
      process.stderr.write('taplab: usage: taplab -j NAME COMMAND [ARGS...] (taplab -j NAME help lists the commands)\n');
      return EX_USAGE;
    }
    return runRemote(name, rest[0], rest.slice(1), stdio(rest[0], rest.slice(1)));
  }

  const program = new Command('taplab')
    .description('A userspace network lab for IP multicast: BSD-model network stacks on Linux TAP devices.')
    .version(pkg.version)
    .usage('[options] [command] | -j NAME COMMAND [ARGS...]')
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Running commands on a host:
  taplab -j NAME COMMAND [ARGS...]   run COMMAND on the running host NAME (started by taplab host NAME),
                                     through its control socket; exits with the command's status
Commands a host serves (taplab -j NAME help):
${hostCommandsHelp()}

Control sockets live in ${runtimeDir()} ($TAPLAB_RUNTIME_DIR, else $XDG_RUNTIME_DIR/taplab, else /run/taplab).
Exit codes: 64 usage, 69 no such host / host not running, 71 errno error, 77 no CAP_NET_ADMIN.`,
    );

  let code = 0;
  program
    .command('demo')
    .allowExcessArguments(false)
    .description(
      'Run a host on a TAP in a private network namespace and show the kernel\'s multicast being filtered before and after a join (needs CAP_NET_ADMIN)',
    )
    .action(async () => {
      const { rootless } = await import('../lab/rootless.js');
      const rc = await rootless('taplab demo', { what: 'the demo makes a TAP in a network namespace', namespaces: true, taps: true, namedNetns: true });
      if (rc !== undefined) return void (code = rc);
      const st = netAdminStatus();
      if (!st.ok) {
        process.stderr.write(`taplab demo: ${st.reason}\n`);
        code = 77;
        return;
      }
      const { runDemo } = await import('../lab/demo.js');
      code = await runDemo();
    });

  program
    .command('host')
    .description('Run one host as a long-running process on a TAP, with a control socket for taplab -j NAME (stop it with SIGINT or SIGTERM)')
    .argument('<name>', 'the host name (letters, digits, - and _); its control socket is NAME.sock in the runtime directory')
    .option('--attach <tap>', 'attach to this existing (persistent) TAP')
    .option('--create [tap]', 'create a TAP (named TAP, or the kernel picks tapN)')
    .option('--netns <ns>', 'open the TAP in this network namespace (a name under /run/netns or a path)')
    .option('--name <ifname>', "the host's interface name", 'em0')
    .option('--mac <mac>', "the interface's MAC (default: a locally administered one derived from the host name)")
    .option('--inet <addr/len>', 'an IPv4 address with prefix length, e.g. 192.0.2.10/24 (repeatable)', collect)
    .option('--inet6 <auto|addr/len>', 'auto (the EUI-64 link-local only, which every interface gets) or an IPv6 address with prefix length (repeatable)', collect)
    .option('--igmp-version <n>', 'force the IGMP version of the interface (1, 2 or 3)', intArg('--igmp-version'))
    .option('--mld-version <n>', 'force the MLD version of the interface (1 or 2)', intArg('--mld-version'))
    .option('--robustness <n>', 'the IGMP/MLD Robustness Variable of the interface (1..7; a querier\'s QRV overrides it)', intArg('--robustness'))
    .option('--pcap <file>', 'write every frame in and out to this pcapng file')
    .action(async (name: string, o: Record<string, unknown>) => {
      const { runHostd, checkOptions } = await import('../lab/hostd.js');
      const opts = {
        name,
        attach: o.attach as string | undefined,
        create: o.create as string | true | undefined,
        netns: o.netns as string | undefined,
        ifname: o.name as string,
        mac: o.mac as string | undefined,
        inet: o.inet as string[] | undefined,
        inet6: o.inet6 as string[] | undefined,
        igmpVersion: o.igmpVersion as number | undefined,
        mldVersion: o.mldVersion as number | undefined,
        robustness: o.robustness as number | undefined,
        pcap: o.pcap as string | undefined,
      };
      try {
        // A wrong option is a usage error (64), found before anything is opened.
        checkOptions(opts);
      } catch (e) {
        if (!(e instanceof KernError)) throw e;
        process.stderr.write(`taplab host ${name}: ${e.message}\n`);
        code = 64;
        return;
      }
      const { rootless } = await import('../lab/rootless.js');
      const rc = await rootless(`taplab host ${name}`, { what: 'a host opens a TAP', namespaces: false, taps: true });
      if (rc !== undefined) return void (code = rc);
      try {
        code = await runHostd(opts);
      } catch (e) {
        if (e instanceof KernError && (e.code === 'EPERM' || e.code === 'EACCES')) {
          process.stderr.write(`taplab host ${name}: ${e.message}\n`);
          code = EX_NOPERM;
          return;
        }
        if (e instanceof KernError) {
          process.stderr.write(`taplab host ${name}: ${e.message}\n`);
          code = EX_OSERR;
          return;
        }
        throw e;
      }
    });

  program
    .command('run')
    .description('Run a lab file: build its topology, run its steps, check its expectations (exit 0 only if all hold; labs/README.md)')
    .argument('<lab>', 'the lab file (YAML), e.g. labs/01-igmpv3-join.yaml')
    .option('--seed <n>', 'seed every random choice (default: the lab\'s seed, else 1)', intArg('--seed'))
    .option('--pcap <dir>', 'write a pcapng file per taplab interface into DIR (HOST-IF.pcapng)')
    .option('--virtual-time', 'run in virtual time (labs with only memory segments and no kernel hosts): milliseconds, same trace every time')
    .option('-q, --quiet', 'print only failed checks and the result')
    .option('--json', 'print the result (timeline, checks) as JSON')
    .option('--shell', 'after the steps and checks, open the lab shell on the live lab instead of tearing it down (taplab shell --help)')
    .action(async (file: string, o: { seed?: number; pcap?: string; virtualTime?: boolean; quiet?: boolean; json?: boolean; shell?: boolean }) => {
      if (o.shell && (o.json || o.quiet)) {
        process.stderr.write('taplab run: --shell is interactive; it takes neither --json nor --quiet\n');
        return void (code = EX_USAGE);
      }
      if (!o.virtualTime) {
        const { rootless, labFileNeed } = await import('../lab/rootless.js');
        const rc = await rootless('taplab run', await labFileNeed(file));
        if (rc !== undefined) return void (code = rc);
      }
      if (o.shell) {
        const { runShellCommand } = await import('../lab/shell.js');
        return void (code = await runShellCommand(file, { seed: o.seed, pcap: o.pcap, virtualTime: o.virtualTime, runFirst: true }));
      }
      const { runLabCommand } = await import('../lab/runcmd.js');
      code = await runLabCommand(file, o);
    });

  program
    .command('shell')
    .description('An interactive prompt on a lab: build its topology, then run tools on its hosts, its steps and its checks when you say (exit or Ctrl-D tears it down)')
    .argument('<lab>', 'the lab file (YAML), e.g. labs/01-igmpv3-join.yaml')
    .option('--seed <n>', 'seed every random choice (default: the lab\'s seed, else 1)', intArg('--seed'))
    .option('--pcap <dir>', 'write a pcapng file per taplab interface into DIR (HOST-IF.pcapng)')
    .option('--virtual-time', 'run in virtual time (labs with only memory segments): the clock moves only with step, run, wait and expect')
    .addHelpText('after', shellHelpText())
    .action(async (file: string, o: { seed?: number; pcap?: string; virtualTime?: boolean }) => {
      if (!o.virtualTime) {
        const { rootless, labFileNeed } = await import('../lab/rootless.js');
        const rc = await rootless('taplab shell', await labFileNeed(file));
        if (rc !== undefined) return void (code = rc);
      }
      const { runShellCommand } = await import('../lab/shell.js');
      code = await runShellCommand(file, { seed: o.seed, pcap: o.pcap, virtualTime: o.virtualTime });
    });

  program
    .command('hosts')
    .description('List the running hosts (control sockets in the runtime directory that answer)')
    .option('-a, --all', 'also list stale sockets (hosts that died without removing theirs)')
    .action(async (o: { all?: boolean }) => {
      const dir = runtimeDir();
      const hosts = (await listHosts(dir)).filter((h) => h.state === 'alive' || o.all);
      if (!hosts.length) {
        process.stdout.write(`no taplab hosts are running (no live control sockets in ${dir})\n`);
        return;
      }
      for (const h of hosts) process.stdout.write(h.state === 'alive' ? `${h.info || h.name}\n` : `${h.name} not running (stale control socket ${h.path})\n`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EX_USAGE;
    if (e instanceof KernError) {
      process.stderr.write(`taplab: ${e.message}\n`);
      return EX_OSERR;
    }
    throw e;
  }
  return code;
}
