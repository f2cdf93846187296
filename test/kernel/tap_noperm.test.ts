/**
 * Without CAP_NET_ADMIN a TAP cannot be made; the error must say so and say
 * how to run taplab instead. The child process drops the capability from its
 * bounding set before it starts (setpriv), and aims at a private namespace,
 * so even a surprise success could not touch the machine's own interfaces.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tapAddonAvailable } from '../../src/driver/native.js';
import { canUseNetns, withNetns } from '../helpers/netns.js';

const can = canUseNetns();
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
const skipReason = !can.ok ? can.reason : !tapAddonAvailable() ? 'the native TAP addon is not built' : !hasSetpriv ? 'setpriv (util-linux) is missing' : '';
if (skipReason) console.warn(`\n*** no-CAP_NET_ADMIN test SKIPPED: ${skipReason} ***\n`);

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe.skipIf(!!skipReason)('TAP without CAP_NET_ADMIN', () => {
  it('fails with EPERM and a sentence that says how to run taplab', () =>
    withNetns(async (ns) => {
      const script = `
        import('${join(root, 'node_modules/tsx/dist/esm/api/index.mjs')}').then(async ({ tsImport }) => {
          const { TapDevice } = await tsImport('${join(root, 'src/driver/tap.ts')}', import.meta.url);
          try { TapDevice.open({ name: 'tnoperm0', netns: '${ns.path}' }); console.log('OPENED'); }
          catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
        });`;
      const r = spawnSync('setpriv', ['--bounding-set=-net_admin', '--inh-caps=-net_admin', '--', process.execPath, '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 30_000,
        cwd: root,
      });
      const out = r.stdout.trim().split('\n').pop() ?? '';
      expect(out, r.stderr).not.toBe('OPENED');
      const e = JSON.parse(out) as { code: string; message: string };
      expect(e.code).toBe('EPERM');
      expect(e.message).toMatch(/CAP_NET_ADMIN|root/);
      expect(e.message).toMatch(/setcap cap_net_admin\+ep/);
      expect(e.message).toMatch(/unshare -Urn/);
      expect((await ns.hasLink('tnoperm0'))).toBe(false);
    }));
});
