/**
 * Helpers for kernel integration tests: each test gets its own private
 * network namespace (so nothing touches the machine's interfaces) and the
 * namespace is deleted afterwards, even when the test fails.
 *
 *   const can = canUseNetns();
 *   if (!can.ok) console.warn(`kernel tests skipped: ${can.reason}`);
 *   describe.skipIf(!can.ok)('...', () => {
 *     it('...', () => withNetns(async (ns) => { ... ns.exec('ip', ['link']) ... }));
 *   });
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export interface ExecOptions {
  /** Kill the command (SIGKILL, by its PID) after this long; default 10 s. */
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  /** Written to the command's standard input. */
  input?: string;
}

export interface LinkStats {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
}

export interface Capture {
  /** Resolves once the capture socket is bound (frames sent after this are seen). */
  ready: Promise<void>;
  /** The captured frames as lowercase hex, resolved when `count` were seen or on timeout. */
  frames: Promise<string[]>;
}

export interface CaptureOptions {
  /** Stop after this many matching frames (default 1). */
  count?: number;
  /** Stop after this long even if fewer frames arrived (default 5 s). */
  timeoutMs?: number;
  /** Keep only frames with this EtherType (e.g. 0x88b5). */
  etherType?: number;
}

export interface Netns {
  /** The namespace's name, as `ip netns` shows it (taplab-t-<pid>-<random>). */
  readonly name: string;
  /** The namespace file: /run/netns/<name>. */
  readonly path: string;
  /** Run a command inside the namespace (`ip netns exec`). Rejects on non-zero exit unless allowFail. */
  exec(cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Send raw Ethernet frames (hex strings) out of `ifname` from the kernel side with AF_PACKET, `count` times each (default 1). */
  sendRawFrames(ifname: string, hexFrames: string[], count?: number): Promise<void>;
  /** Capture frames arriving at `ifname` on the kernel side with AF_PACKET (inbound only). */
  capture(ifname: string, opts?: CaptureOptions): Capture;
  /** The kernel's counters for `ifname` from `ip -s -j link show`. */
  linkStats(ifname: string): Promise<LinkStats>;
  /** Whether an interface of that name exists in the namespace. */
  hasLink(ifname: string): Promise<boolean>;
}

const CAP_NET_ADMIN = 12;
let cachedCan: { ok: boolean; reason: string } | undefined;

function hasCapNetAdmin(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return !!m && ((BigInt(`0x${m[1]}`) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Whether kernel tests can run here: Linux, root or CAP_NET_ADMIN, `ip`
 * and python3 present, /dev/net/tun present, and a probe namespace can
 * really be created (containers may forbid it even for root).
 */
export function canUseNetns(): { ok: boolean; reason: string } {
  if (cachedCan) return cachedCan;
  const no = (reason: string) => (cachedCan = { ok: false, reason });
  if (process.platform !== 'linux') return no(`kernel tests need Linux (this is ${process.platform})`);
  if (!hasCapNetAdmin()) return no('kernel tests need root or CAP_NET_ADMIN (run them with sudo)');
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return no('`ip` (iproute2) is not installed');
  if (spawnSync('python3', ['-c', 'pass'], { stdio: 'ignore' }).status !== 0) return no('python3 is not installed');
  if (!existsSync('/dev/net/tun')) return no('/dev/net/tun is missing (modprobe tun)');
  const probe = newName();
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 10_000 });
  if (add.status !== 0) return no(`cannot create a network namespace: ${(add.stderr || '').trim() || 'ip netns add failed'}`);
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore', timeout: 10_000 });
  return (cachedCan = { ok: true, reason: 'root with ip netns' });
}

function newName(): string {
  return `taplab-t-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Spawn a command, bounded in time; the child is killed by its own PID on timeout. */
function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const res = { stdout, stderr, code };
      if (timedOut) reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${stderr}`));
      else if (code !== 0 && !opts.allowFail)
        reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}\n${stderr.trim()}`));
      else resolve(res);
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // a command that exits without reading must not crash the test run
      child.stdin.end(opts.input);
    }
  });
}

const SEND_PY = `
import socket, sys
ifname, count = sys.argv[1], int(sys.argv[2])
frames = [bytes.fromhex(h) for h in sys.argv[3:]]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for _ in range(count):
    for f in frames:
        s.send(f)
`;

const CAPTURE_PY = `
import socket, sys, time, select
ifname, count, timeout, etype = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
print("ready", flush=True)
deadline = time.monotonic() + timeout
seen = 0
while seen < count:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        break
    data, addr = s.recvfrom(65536)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    if etype >= 0 and int.from_bytes(data[12:14], "big") != etype:
        continue
    print(data.hex(), flush=True)
    seen += 1
`;

function makeNetns(name: string): Netns {
  const path = `/run/netns/${name}`;
  const exec = (cmd: string, args: string[], opts?: ExecOptions) => run('ip', ['netns', 'exec', name, cmd, ...args], opts);
  return {
    name,
    path,
    exec,
    async sendRawFrames(ifname, hexFrames, count = 1) {
      await exec('python3', ['-c', SEND_PY, ifname, String(count), ...hexFrames]);
    },
    capture(ifname, opts = {}) {
      const count = opts.count ?? 1;
      const timeoutMs = opts.timeoutMs ?? 5000;
      const child = spawn('ip', [
        'netns', 'exec', name, 'python3', '-c', CAPTURE_PY,
        ifname, String(count), String(timeoutMs / 1000), String(opts.etherType ?? -1),
      ]);
      let out = '';
      let err = '';
      let readyResolve!: () => void;
      let readyReject!: (e: Error) => void;
      const ready = new Promise<void>((res, rej) => ((readyResolve = res), (readyReject = rej)));
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.startsWith('ready\n')) readyResolve();
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const frames = new Promise<string[]>((resolve, reject) => {
        child.on('error', (e) => {
          clearTimeout(killer);
          readyReject(e);
          reject(e);
        });
        child.on('close', (code) => {
          clearTimeout(killer);
          const e = new Error(`capture on ${ifname} in ${name} exited ${code}: ${err.trim()}`);
          readyReject(e); // no-op once ready resolved
          if (code !== 0) reject(e);
          else resolve(out.split('\n').filter((l) => l && l !== 'ready'));
        });
      });
      // Callers that only await `frames` must not see an unhandled rejection from `ready`.
      ready.catch(() => {});
      return { ready, frames };
    },
    async linkStats(ifname) {
      const r = await exec('ip', ['-s', '-j', 'link', 'show', 'dev', ifname]);
      const j = JSON.parse(r.stdout) as Array<{ stats64?: { rx: Record<string, number>; tx: Record<string, number> } }>;
      const s = j[0]?.stats64;
      if (!s) throw new Error(`no stats64 for ${ifname} in ${name}: ${r.stdout}`);
      return {
        rxPackets: s.rx.packets, rxBytes: s.rx.bytes, rxDropped: s.rx.dropped,
        txPackets: s.tx.packets, txBytes: s.tx.bytes, txDropped: s.tx.dropped,
      };
    },
    async hasLink(ifname) {
      const r = await exec('ip', ['-j', 'link', 'show', 'dev', ifname], { allowFail: true });
      return r.code === 0;
    },
  };
}

/**
 * Run `fn` with a fresh private network namespace (loopback up), and delete
 * the namespace afterwards whatever happens. Devices opened in it must be
 * closed by `fn` (an open TAP fd keeps the namespace alive after deletion).
 */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>): Promise<T> {
  const name = newName();
  await run('ip', ['netns', 'add', name]);
  try {
    const ns = makeNetns(name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return await fn(ns);
  } finally {
    await run('ip', ['netns', 'del', name], { allowFail: true });
  }
}
