/**
 * The curriculum's kernel labs (those with a Linux bridge or kernel hosts)
 * run for real, as `taplab run` runs them: each must pass, and afterwards
 * the machine must have no new network device and no new network
 * namespace (the runner's namespaces are held by processes that die with
 * the lab). Without CAP_NET_ADMIN or the TAP addon the suite is skipped
 * and says why.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tapAddonAvailable } from '../../src/driver/native.js';
import { loadLabFile } from '../../src/lab/labfile.js';
import { labNeedsKernel, runLab, type LabResult } from '../../src/lab/runner.js';
import { canUseNetns } from '../helpers/netns.js';

const can = canUseNetns();
const skipReason = !can.ok ? can.reason : !tapAddonAvailable() ? 'the native TAP addon is not built (npm run build:native)' : '';
if (skipReason) console.warn(`\n*** kernel curriculum labs SKIPPED: ${skipReason} ***\n`);

const LABS = join(import.meta.dirname, '..', '..', 'labs');
const kernelLabs = readdirSync(LABS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
  .map((d) => ({ dir: d.name, file: join(LABS, d.name, 'lab.yaml') }))
  .filter((l) => labNeedsKernel(loadLabFile(l.file).lab))
  .sort((a, b) => a.dir.localeCompare(b.dir));

/** The network devices of this (the test's) namespace, by name. */
function netdevs(): Set<string> {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 5000 });
  return new Set([...r.stdout.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1]));
}

const OWN_NS = readlinkSync('/proc/self/ns/net');

/** pid -> parent pid, for every process. */
function parents(): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      m.set(Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  return m;
}

/** The network namespaces (by inode) that this process's descendants are in, other than ours: the lab's. */
function descendantNamespaces(): Set<string> {
  const pp = parents();
  const out = new Set<string>();
  for (const pid of pp.keys()) {
    let p: number | undefined = pid;
    for (let n = 0; p && p !== process.pid && n < 64; n++) p = pp.get(p);
    if (p !== process.pid || pid === process.pid) continue;
    try {
      const ns = readlinkSync(`/proc/${pid}/ns/net`);
      if (ns !== OWN_NS) out.add(ns);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Every network namespace some process on the machine is in, by inode. */
function liveNamespaces(): Set<string> {
  const out = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.add(readlinkSync(`/proc/${pid}/ns/net`));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The inodes of the namespaces named under /run/netns. */
function namedNamespaces(): Set<string> {
  const out = new Set<string>();
  try {
    for (const n of readdirSync('/run/netns')) {
      const r = spawnSync('stat', ['-L', '-c', '%i', `/run/netns/${n}`], { encoding: 'utf8', timeout: 2000 });
      if (r.status === 0) out.add(`net:[${r.stdout.trim()}]`);
    }
  } catch {
    /* no /run/netns */
  }
  return out;
}

function minus(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

async function settle(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

function failures(r: LabResult): string {
  return [r.error ?? '', ...r.checks.filter((c) => !c.ok).map((c) => `${c.label} (${c.where}): ${c.seen}`)].filter(Boolean).join('\n');
}

describe.skipIf(!!skipReason)('the curriculum\'s kernel labs, for real', () => {
  it('there are kernel labs (querier election, bridge snooping)', () => {
    expect(kernelLabs.map((l) => l.dir)).toEqual(expect.arrayContaining(['05-querier-election', '07-bridge-snooping']));
  });

  for (const l of kernelLabs) {
    it(
      `${l.dir} passes and leaves no netdev or namespace behind`,
      async () => {
        const lab = loadLabFile(l.file).lab;
        const devsBefore = netdevs();
        // Watch which namespaces the lab's processes live in while it runs.
        const labNs = new Set<string>();
        const watch = setInterval(() => descendantNamespaces().forEach((n) => labNs.add(n)), 200);
        const t0 = Date.now();
        let r: LabResult;
        try {
          r = await runLab(lab, {});
        } finally {
          clearInterval(watch);
        }
        const wall = Date.now() - t0;
        expect(failures(r)).toBe('');
        expect(r.ok).toBe(true);
        expect(r.clock).toBe('real');
        expect(r.checks.length).toBeGreaterThanOrEqual(5);
        // A kernel lab should stay short (the curriculum's budget is about 20 s).
        expect(wall).toBeLessThan(25_000);
        // The bridges, TAPs and veths live in the lab's namespaces: none may appear here,
        expect(minus(netdevs(), devsBefore).filter((d) => /^(br\d|tap\d|veth\d|[a-z]\w*-(em|eth)\d)/.test(d))).toEqual([]);
        // and every namespace the lab's processes were in must be gone with them.
        expect(labNs.size).toBeGreaterThanOrEqual(1); // at least the switch namespace of the bridges
        const leftover = () => [...labNs].filter((n) => liveNamespaces().has(n) || namedNamespaces().has(n));
        await settle(() => leftover().length === 0, 5000);
        expect(leftover()).toEqual([]);
        expect(descendantNamespaces().size).toBe(0);
      },
      60_000,
    );
  }
});
