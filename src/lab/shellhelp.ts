/**
 * The help of the lab shell: `taplab shell --help` and `help` at its prompt
 * print these. Kept apart from shell.ts so the CLI can show it without
 * loading the runner.
 */

/** The shell's own commands: name, arguments, one line. */
export const SHELL_COMMANDS: readonly (readonly [string, string, string])[] = [
  ['HOST', 'COMMAND [ARGS...]', 'run COMMAND on HOST: a taplab tool on a taplab host (h1 ifmcstat -v, h1 join 239.1.1.1, r1 querier), a shell command in the namespace of a kernel host (k1 ip maddr; join/leave/send through its sockets)'],
  ['hosts', '', 'list the lab\'s hosts, their interfaces and control sockets'],
  ['steps', '', 'list the steps of the lab\'s timeline (> marks the next)'],
  ['step', '[N]', 'run the next step (or the next N): wait until it is due, then run it'],
  ['run', '', 'run the remaining steps, wait until the lab\'s end and check its expectations'],
  ['expect', '', 'check the lab\'s expectations (its top-level expect list) now; a packets check whose window has not opened is not due yet'],
  ['wait', 'DURATION', 'let the lab\'s clock run (2s, 500ms, 1m30s); in virtual time this is how time passes'],
  ['time', '', 'the lab\'s clock, the next step and the lab\'s end'],
  ['timeline', 'on|off', 'show the membership messages and step lines as they happen (default on)'],
  ['help', '[COMMAND]', 'this list, or the help of a shell command'],
  ['exit', '', 'tear the lab down and leave (also quit, Ctrl-D, or Ctrl-C twice at an empty prompt)'],
];

export function shellCommandsHelp(indent = '  '): string {
  const rows = SHELL_COMMANDS.map(([n, a, d]) => [`${n}${a ? ` ${a}` : ''}`, d]);
  const w = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `${indent}${l.padEnd(w)}  ${d}`).join('\n');
}

/** The text after the options in `taplab shell --help` (and `taplab run --help` for --shell). */
export function shellHelpText(): string {
  return `
The shell builds the lab's topology (nothing of its timeline runs until you say so) and gives a
prompt, in the spirit of Mininet's CLI, with history and tab completion of host names, commands
and tool names. Its commands:
${shellCommandsHelp()}

Tools print their output as they print it; Ctrl-C stops a running command (netstat -w 1) and at the
prompt clears the line, like a shell; a second Ctrl-C at the prompt leaves. The lab's taplab hosts
also serve control sockets named after them while the shell runs, so from another terminal
  taplab -j h1 ifmcstat -v
reaches h1 (a host of that name already running is refused). Everything the lab made (TAPs,
bridges, veths, namespaces, sockets) goes when the shell ends: exit, Ctrl-D, Ctrl-C twice,
SIGTERM, or an error.

taplab run LAB --shell runs the lab's steps and checks first (as taplab run does), then opens the
prompt on the live lab instead of tearing it down.

Kernel hosts and bridges need CAP_NET_ADMIN: as a normal user, taplab re-executes itself in a new
user and network namespace when the kernel allows it (README: Rootless labs); labs with only memory
segments need no privileges at all.`;
}
