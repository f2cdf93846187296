/**
 * The `taplab` command line.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { KernError } from '../kern/errno.js';
import { netAdminStatus } from '../lab/netns.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function main(argv: string[]): Promise<number> {
  const program = new Command('taplab')
    .description('A userspace network lab for IP multicast: BSD-model network stacks on Linux TAP devices.')
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError();

  let code = 0;
  program
    .command('demo')
    .description(
      'Run a host on a TAP in a private network namespace and show the kernel\'s multicast being filtered before and after a join (needs CAP_NET_ADMIN)',
    )
    .action(async () => {
      const st = netAdminStatus();
      if (!st.ok) {
        process.stderr.write(`taplab demo: ${st.reason}\n`);
        code = 77;
        return;
      }
      const { runDemo } = await import('../lab/demo.js');
      code = await runDemo();
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 64;
    if (e instanceof KernError) {
      process.stderr.write(`taplab: ${e.message}\n`);
      return 71;
    }
    throw e;
  }
  return code;
}
