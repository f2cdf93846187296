import { describe, expect, it } from 'vitest';
import { vlab } from '../helpers/vlab.js';
import { TOOLS, runOnHost } from '../../src/tools/registry.js';

describe('every tool, in-process on a lab host', () => {
  const L = vlab(5);
  const seg = L.segment();
  const h = L.host('h1');
  const em0 = L.attach(h, seg, { name: 'em0', mac: '02:00:00:00:0a:01' });
  h.inet.v4.addAddress(em0, '192.0.2.10/24');
  L.run(3000);

  it.each([...TOOLS.keys()])('%s --help prints its usage to stdout and exits 0', async (name) => {
    const r = await runOnHost(h, [name, '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`usage:.*\\b${name}\\b`, 'i'));
  });

  it('runs tools by name and refuses unknown ones with the list', async () => {
    const r = await runOnHost(h, ['ifmcstat', '-i', 'em0', '-f', 'inet']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^em0:\n\tinet 192\.0\.2\.10\n/);
    const bad = await runOnHost(h, ['frobnicate']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/^taplab: frobnicate: unknown command \(commands: .*ifmcstat.*netstat.*\)\n$/);
  });
});
