/**
 * dmesg(8): print the host's kernel message buffer, read from sysctl
 * kern.msgbuf (so it also works on a snapshot). -c clears the buffer after
 * printing it (writing kern.msgbuf_clear), on a live host only.
 *
 *   dmesg [-c]
 */
import { KernError } from '../kern/errno.js';
import { getopt, getoptMessage } from './getopt.js';
import type { Tool, ToolEnv } from './tool.js';

const EX_USAGE = 64;
const EX_OSERR = 71;

const USAGE = 'usage: dmesg [-c]\n';

const HELP = `${USAGE}
Print the host's kernel messages: warnings the stack logged for its
operator, such as an older IGMP or MLD querier heard on a link (RFC 9776
section 7.3.1), oldest first. Read from sysctl kern.msgbuf.

  -c       clear the message buffer after printing it (kern.msgbuf_clear)
  --help   this text
`;

export const dmesgTool: Tool = {
  name: 'dmesg',
  summary: "print the host's kernel messages (kern.msgbuf)",
  run(env: ToolEnv, argv: string[]): number {
    if (argv[0] === '--help') {
      env.out(HELP);
      return 0;
    }
    let clear = false;
    const { items, operands } = getopt(argv, 'c');
    for (const it of items) {
      if (it.error) {
        env.err(getoptMessage('dmesg', it) + USAGE);
        return EX_USAGE;
      }
      if (it.opt === 'c') clear = true;
    }
    if (operands.length) {
      env.err(`dmesg: unexpected argument ${JSON.stringify(operands[0])}\n${USAGE}`);
      return EX_USAGE;
    }
    try {
      const text = String(env.tree.get('kern.msgbuf').value);
      env.out(text);
      if (clear) {
        if (!env.writer) {
          env.err('dmesg: -c needs a live host (a snapshot cannot be cleared)\n');
          return EX_OSERR;
        }
        env.writer.set('kern.msgbuf_clear', 1);
      }
      return 0;
    } catch (e) {
      if (e instanceof KernError) {
        env.err(`dmesg: ${e.message}\n`);
        return EX_OSERR;
      }
      throw e;
    }
  },
};
