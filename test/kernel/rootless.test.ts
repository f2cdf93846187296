/**
 * Rootless labs (src/lab/rootless.ts): `taplab run` as the unprivileged user
 * nobody (uid 65534, dropped to with setpriv, which also ties the run to
 * this test with a death signal), with a clean environment.
 *
 *  - A memory-only lab passes, in real and in virtual time, without any
 *    re-execution: a fake `unshare` first in PATH would make a re-execution
 *    fail, and it leaves a mark if it is ever run.
 *  - A lab with kernel hosts and a bridge (no TAPs) passes when the kernel
 *    lets nobody make a user namespace (taplab re-executes itself in one),
 *    or prints one line that says what to do and exits 77; likewise the lab
 *    shell on it.
 *  - A lab with a taplab host on a bridge needs a TAP: it passes when
 *    /dev/net/tun can be opened by nobody, else one line (naming
 *    /dev/net/tun and chmod 0666) and exit 77. Then the same lab and the
 *    demo run again as nobody with a 0666 TAP device bound over
 *    /dev/net/tun in a private mount namespace (the machine's own device is
 *    not touched), and must pass: the advice of the message works.
 *  - Nothing is left behind in the machine's namespace (netdevs, /run/netns).
 *
 * Needs root (to become nobody); skipped with the reason otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NOBODY = 65534;

function skipReason(): string {
  if (process.platform !== 'linux') return 'rootless labs need Linux';
  if (process.getuid?.() !== 0) return 'the rootless tests become the user nobody, which needs root (run them with sudo)';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is missing';
  if (spawnSync('unshare', ['--version']).status !== 0) return 'unshare (util-linux) is missing';
  if (spawnSync('ip', ['-V']).status !== 0) return '`ip` (iproute2) is not installed';
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(join(root, 'src/tools/cli.ts'))})`], { timeout: 10_000 });
  if (r.status !== 0) return `the user nobody cannot read the sources in ${root}`;
  return '';
}
const skip = skipReason();
if (skip) console.warn(`\n*** rootless tests SKIPPED: ${skip} ***\n`);

const MEMORY_LAB = `
name: rootless memory lab
seed: 3
duration: 2s
segments:
  lan: { type: memory }
hosts:
  r1:
    interfaces:
      - { name: em0, segment: lan, inet: 192.0.2.1/24, querier: { igmp: { version: 3, qi: 2, qri: 1, startup_count: 1 } } }
  h1:
    interfaces:
      - { name: em0, segment: lan, inet: 192.0.2.10/24 }
steps:
  - at: 500ms
    h1: join 239.1.1.1
expect:
  - r1: querier
    contains: 239.1.1.1
`;

const KERNEL_LAB = `
name: rootless kernel lab
seed: 1
duration: 3s
segments:
  br0:
    type: bridge
    snooping: true
    querier: true
    igmp_version: 3
    query_interval: 2s
    query_response_interval: 1s
    inet: 192.0.2.1/24
kernel:
  k1:
    interfaces:
      - { name: eth0, segment: br0, inet: 192.0.2.21/24 }
  k2:
    interfaces:
      - { name: eth0, segment: br0, inet: 192.0.2.22/24 }
steps:
  - at: 500ms
    k1: join 239.1.2.3
  - at: 1s
    expect:
      mdb: br0
      within: 3s
      has: [{ group: 239.1.2.3, port: k1.eth0 }]
expect:
  - k1: ip maddr show dev eth0
    contains: 239.1.2.3
`;

const TAP_LAB = `
name: rootless lab with a TAP
seed: 1
duration: 3s
segments:
  br0:
    type: bridge
    snooping: true
    querier: true
    igmp_version: 3
    query_interval: 2s
    query_response_interval: 1s
    inet: 192.0.2.1/24
hosts:
  h1:
    interfaces:
      - { name: em0, segment: br0, inet: 192.0.2.10/24 }
kernel:
  k1:
    interfaces:
      - { name: eth0, segment: br0, inet: 192.0.2.21/24 }
steps:
  - at: 500ms
    h1: join 239.1.1.1
  - at: 1s
    expect:
      mdb: br0
      within: 3s
      has: [{ group: 239.1.1.1, port: h1.em0 }]
`;

let dir: string;
beforeAll(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'taplab-rootless-'));
  chmodSync(dir, 0o755);
  for (const [f, text] of [['memory.yaml', MEMORY_LAB], ['kernel.yaml', KERNEL_LAB], ['tap.yaml', TAP_LAB]]) writeFileSync(join(dir, f), text, { mode: 0o644 });
  // A fake unshare that leaves a mark: a memory lab must never get as far as running it.
  mkdirSync(join(dir, 'fakebin'), { mode: 0o755 });
  writeFileSync(join(dir, 'fakebin', 'unshare'), `#!/bin/sh\ntouch ${join(dir, 'run', 'UNSHARE-WAS-RUN')}\nexit 1\n`, { mode: 0o755 });
  mkdirSync(join(dir, 'run'), { mode: 0o777 });
  chmodSync(join(dir, 'run'), 0o777);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `taplab ARGS` as nobody with a clean environment, bounded: on timeout the
 * process is killed by its PID (its re-executed child dies with it).
 * `wrap` puts commands before the drop to nobody (run as root), e.g. a private mount namespace.
 */
function asNobody(args: string[], o: { input?: string; path?: string; wrap?: (cmd: string[]) => string[]; timeoutMs?: number } = {}): Promise<Run> {
  const env = ['env', '-i', `PATH=${o.path ?? process.env.PATH}`, 'HOME=/nonexistent', `TAPLAB_RUNTIME_DIR=${join(dir, 'run')}`];
  const cmd = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--pdeathsig', 'KILL', '--', ...env, process.execPath, '--import', 'tsx', join(root, 'test/helpers/taplab_cli.ts'), ...args];
  const full = o.wrap ? o.wrap(cmd) : cmd;
  return new Promise((resolve) => {
    const child = spawn(full[0], full.slice(1), { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, o.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}

function machineState(): { links: string; netns: string[] } {
  return {
    links: spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.replace(/^\d+: /gm, '').split('\n').map((l) => l.split(':')[0]).sort().join(' '),
    netns: existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('taplab')).sort() : [],
  };
}

/** Whether nobody may make a user namespace here. */
function usernsAllowed(): boolean {
  return spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', 'unshare', '--user', '--map-root-user', '--net', '--', 'true'], { timeout: 10_000 }).status === 0;
}

/** Whether nobody may open /dev/net/tun. */
function tunOpenable(): boolean {
  return spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', 'sh', '-c', 'exec 3<>/dev/net/tun'], { timeout: 10_000 }).status === 0;
}

describe.skipIf(!!skip)('rootless labs (as nobody)', () => {
  it('a memory-only lab passes in real and virtual time, and is never re-executed', async () => {
    const before = machineState();
    const path = `${join(dir, 'fakebin')}:${process.env.PATH}`;
    const real = await asNobody(['run', '-q', join(dir, 'memory.yaml')], { path });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain('PASS: 1 of 1 check held (rootless memory lab, seed 3, real time)');
    const virt = await asNobody(['run', '-q', '--virtual-time', join(dir, 'memory.yaml')], { path });
    expect(virt.code, virt.stderr).toBe(0);
    expect(virt.stdout).toContain('virtual time');
    const shell = await asNobody(['shell', '--virtual-time', join(dir, 'memory.yaml')], { path, input: 'h1 join 239.1.1.1\nwait 1s\nr1 querier\nexit\n' });
    expect(shell.code, shell.stderr).toBe(0);
    expect(shell.stdout).toMatch(/group 239\.1\.1\.1/);
    expect(existsSync(join(dir, 'run', 'UNSHARE-WAS-RUN'))).toBe(false);
    expect(machineState()).toEqual(before);
  }, 120_000);

  it('a lab with kernel hosts on a bridge passes in a user namespace of its own, or says in one line why not (77)', async () => {
    const before = machineState();
    const r = await asNobody(['run', '-q', join(dir, 'kernel.yaml')]);
    if (usernsAllowed()) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('PASS: 2 of 2 checks held (rootless kernel lab, seed 1, real time)');
      const sh = await asNobody(['shell', join(dir, 'kernel.yaml')], { input: 'k1 ip -br link show dev eth0\nk2 ip -br addr show dev eth0\nexit\n' });
      expect(sh.code, sh.stderr).toBe(0);
      expect(sh.stdout).toMatch(/^eth0@if\d+ +UP/m);
      expect(sh.stdout).toMatch(/192\.0\.2\.22\/24/);
    } else {
      expect(r.code).toBe(77);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/user namespace/);
      expect(r.stderr).toMatch(/sudo/);
    }
    expect(machineState()).toEqual(before);
  }, 120_000);

  it('a lab with a TAP passes, or says in one line that /dev/net/tun is closed to the user and what to do (77)', async () => {
    const before = machineState();
    const r = await asNobody(['run', '-q', join(dir, 'tap.yaml')]);
    if (usernsAllowed() && tunOpenable()) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('PASS');
    } else {
      expect(r.code, r.stdout).toBe(77);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      if (usernsAllowed()) {
        expect(lines[0]).toMatch(/^taplab run: .*tap\.yaml has kernel hosts and taplab hosts on TAPs; \/dev\/net\/tun \(mode 0600, owner root\) cannot be opened by user nobody/);
        expect(lines[0]).toContain('run it as root (sudo)');
        expect(lines[0]).toContain('sudo chmod 0666 /dev/net/tun');
      }
    }
    expect(machineState()).toEqual(before);
  }, 120_000);

  it('with a TAP device nobody may open (bound over /dev/net/tun in a private mount namespace), the TAP lab and the demo pass rootless', async (ctx) => {
    if (!usernsAllowed()) return ctx.skip();
    const tun = join(dir, 'tun');
    const mk = spawnSync('mknod', ['-m', '0666', tun, 'c', '10', '200']);
    if (mk.status !== 0) {
      console.warn(`*** private TAP device test SKIPPED: mknod failed: ${mk.stderr}`);
      return ctx.skip();
    }
    const wrap = (cmd: string[]) => ['unshare', '--mount', '--', 'sh', '-c', `mount --bind ${tun} /dev/net/tun && exec "$@"`, 'sh', ...cmd];
    const probe = spawnSync(wrap(['sh', '-c', 'exec 3<>/dev/net/tun'])[0], wrap(['sh', '-c', 'exec 3<>/dev/net/tun']).slice(1), { timeout: 10_000 });
    if (probe.status !== 0) {
      console.warn('*** private TAP device test SKIPPED: the bound device cannot be opened (a nodev mount?)');
      return ctx.skip();
    }
    const before = machineState();
    const r = await asNobody(['run', '-q', join(dir, 'tap.yaml')], { wrap });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('PASS: 1 of 1 check held (rootless lab with a TAP, seed 1, real time)');
    const demo = await asNobody(['demo'], { wrap });
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain('result: the filter works');
    expect(machineState()).toEqual(before);
  }, 120_000);
});
