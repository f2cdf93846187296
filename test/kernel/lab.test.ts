/**
 * taplab run on a kernel lab (labs/02-kernel-bridge.yaml: a Linux bridge with
 * snooping and querier, a taplab host on a TAP, a kernel host in a namespace),
 * run as a separate process like a person runs it. After a normal end, after
 * Ctrl-C (SIGINT) and after SIGKILL of the runner mid-lab, nothing it made is
 * left: no network namespace it created (looked for through every process's
 * /proc/PID/ns/net and every open namespace fd), no new netdev in this
 * namespace, no new name under /run/netns, no process it started.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canUseNetns } from '../helpers/netns.js';
import { tapAddonAvailable } from '../../src/driver/native.js';

const can = canUseNetns();
const skipReason = !can.ok
  ? can.reason
  : !tapAddonAvailable()
    ? 'the native TAP addon is not built (npm run build:native)'
    : spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status !== 0
      ? 'setpriv (util-linux) is not installed'
      : '';
if (skipReason) console.warn(`\n*** kernel lab tests SKIPPED: ${skipReason} ***\n`);

const LAB = 'labs/02-kernel-bridge.yaml';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every network namespace some process is in or holds open, by inode (net:[N]). */
function allNetns(): Set<string> {
  const out = new Set<string>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      out.add(readlinkSync(`/proc/${pid}/ns/net`));
    } catch {
      continue;
    }
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
          if (l.startsWith('net:[')) out.add(l);
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* gone or not ours to read */
    }
  }
  return out;
}

/** The processes descended from `root` (by PPid), with their network namespaces. */
function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const st = readFileSync(`/proc/${d}/status`, 'utf8');
      parent.set(Number(d), Number(/^PPid:\s*(\d+)/m.exec(st)?.[1] ?? 0));
    } catch {
      /* gone */
    }
  }
  const out = new Map<number, string>();
  const isUnder = (p: number): boolean => {
    for (let x = parent.get(p), n = 0; x && n < 64; x = parent.get(x), n++) if (x === root) return true;
    return false;
  };
  for (const p of parent.keys()) {
    if (!isUnder(p)) continue;
    try {
      out.set(p, readlinkSync(`/proc/${p}/ns/net`));
    } catch {
      /* gone */
    }
  }
  return out;
}

function links(): string[] {
  return spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1].trim().split('@')[0])
    .sort();
}

function netnsNames(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0])
    // Other kernel test files running in parallel make their own (taplab-t-*, taplab-*); the lab never names one.
    .sort();
}

interface Runner {
  child: ChildProcess;
  out: () => string;
  done: Promise<number | null>;
  /** Namespace inodes and PIDs seen among the runner's processes while it ran. */
  seenNs: Set<string>;
  seenPids: Set<number>;
}

function startRunner(args: string[]): Runner {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/taplab_cli.ts', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const own = readlinkSync('/proc/self/ns/net');
  const seenNs = new Set<string>();
  const seenPids = new Set<number>();
  let running = true;
  const watch = (async () => {
    while (running) {
      for (const [pid, ns] of descendants(child.pid!)) {
        seenPids.add(pid);
        if (ns !== own) seenNs.add(ns);
      }
      await sleep(100);
    }
  })();
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      running = false;
      void watch.then(() => resolve(code));
    }),
  );
  return { child, out: () => out, done, seenNs, seenPids };
}

async function waitFor(what: string, pred: () => boolean, timeoutMs: number, state: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${state()}`);
    await sleep(50);
  }
}

/** Nothing the runner made is left (bounded wait: the kernel frees namespaces asynchronously). */
async function expectNoLeaks(r: Runner, before: { links: string[]; names: string[] }, minNs = 2): Promise<void> {
  expect(r.seenNs.size, 'the runner made namespaces (a switch and a kernel host)').toBeGreaterThanOrEqual(minNs);
  await waitFor(
    'the lab\'s namespaces and processes to go',
    () => {
      const now = allNetns();
      return [...r.seenNs].every((ns) => !now.has(ns)) && [...r.seenPids].every((p) => !existsPid(p));
    },
    10_000,
    () => `namespaces left: ${[...r.seenNs].filter((ns) => allNetns().has(ns)).join(', ')}; processes left: ${[...r.seenPids].filter(existsPid).join(', ')}`,
  );
  expect(links()).toEqual(before.links);
  const added = netnsNames().filter((n) => !before.names.includes(n) && !n.startsWith('taplab-'));
  expect(added).toEqual([]);
}

function existsPid(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s*Z/m.test(st); // a zombie has no namespace left
  } catch {
    return false;
  }
}

describe.skipIf(!!skipReason)('taplab run with kernel hosts and a Linux bridge (namespaces tied to the runner)', () => {
  it(`${LAB} passes, and leaves no namespace, netdev or process behind`, async () => {
    const before = { links: links(), names: netnsNames() };
    const t = Date.now();
    const r = startRunner([LAB]);
    const code = await r.done;
    const wall = Date.now() - t;
    expect(code, r.out()).toBe(0);
    expect(r.out()).toMatch(/^PASS: 6 of 6 checks held/m);
    expect(r.out()).toMatch(/k1 → 224\.0\.0\.22  IGMPv3 report: (ALLOW|IS_IN)\(232\.1\.1\.1 \{198\.51\.100\.7\}\)/);
    expect(r.out()).toMatch(/br0 \(bridge\) → 224\.0\.0\.1  IGMPv3 general query/);
    expect(r.out()).toMatch(/h1 → 224\.0\.0\.22  IGMPv3 report: TO_EX\(239\.1\.1\.1 \{\}\)/);
    await expectNoLeaks(r, before);
    console.log(`kernel lab: ${wall} ms wall for a 9 s lab; namespaces seen ${r.seenNs.size}, processes ${r.seenPids.size}`);
  }, 60_000);

  it('a runner killed with SIGKILL mid-lab leaves no namespace, netdev or process behind', async () => {
    const before = { links: links(), names: netnsNames() };
    const r = startRunner([LAB]);
    await waitFor('the lab to reach its k1 join step', () => r.out().includes('k1: join 232.1.1.1'), 30_000, r.out);
    await sleep(300);
    expect(r.seenNs.size).toBeGreaterThanOrEqual(2);
    process.kill(r.child.pid!, 'SIGKILL');
    const code = await r.done;
    expect(code).toBeNull();
    await expectNoLeaks(r, before);
  }, 60_000);

  it('Ctrl-C (SIGINT) stops the lab, tears it down and exits 130', async () => {
    const before = { links: links(), names: netnsNames() };
    const r = startRunner([LAB]);
    await waitFor('the lab to reach its k1 join step', () => r.out().includes('k1: join 232.1.1.1'), 30_000, r.out);
    process.kill(r.child.pid!, 'SIGINT');
    const code = await r.done;
    expect(code, r.out()).toBe(130);
    expect(r.out()).toMatch(/interrupted at \d+\.\d{3}s/);
    await expectNoLeaks(r, before);
  }, 60_000);

  it('a kernel host sysctl the kernel refuses ends the lab with one error naming the file, host and sysctl; nothing is left', async () => {
    const before = { links: links(), names: netnsNames() };
    const dir = mkdtempSync(join(tmpdir(), 'taplab-badsysctl-'));
    try {
      const file = join(dir, 'lab.yaml');
      writeFileSync(file, readFileSync(LAB, 'utf8').replace('net.ipv4.conf.all.force_igmp_version: 0', 'net.ipv4.conf.all.force_igmp_verison: 0'));
      const r = startRunner([file]);
      const code = await r.done;
      expect(code, r.out()).toBe(71);
      const lines = r.out().split('\n').filter((l) => l.includes('force_igmp_verison'));
      expect(lines, r.out()).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: kernel host k1: sysctl net\\.ipv4\\.conf\\.all\\.force_igmp_verison=0 failed: `));
      // (The build fails within moments: the 100 ms sampling may see none of its namespaces.)
      await expectNoLeaks(r, before, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
