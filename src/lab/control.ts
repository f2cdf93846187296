/**
 * The control socket of `taplab host`: a Unix stream socket (mode 0600) that
 * speaks JSON lines, one request or reply per line (docs/control-protocol.md).
 *
 *   -> {"id":1,"cmd":"ifmcstat","argv":["-v"]}
 *   <- {"id":1,"out":"em0:\n..."}        (any number of out/err chunks)
 *   <- {"id":1,"exit":0}
 *   -> {"id":2,"cmd":"netstat","argv":["-w","1"]}
 *   -> {"id":2,"cancel":true}             (or just disconnect)
 *   <- {"id":2,"exit":130}
 *   -> not json
 *   <- {"id":null,"error":{"errno":"EINVAL","message":"..."}}
 *
 * A connection may run several requests at once; their replies interleave
 * and are told apart by id. Nothing a client sends can hurt the host: bad
 * lines get an error reply, an oversized line is discarded up to its end, a
 * client that stops reading while output piles up is disconnected, and a
 * tool that fails is reported as an error line and exit status.
 *
 * The server side (ControlServer) and the client side (ControlClient, used
 * by `taplab -j` and `taplab hosts`) are both here.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Host } from '../host.js';
import { KernError, kerr, type ErrnoName } from '../kern/errno.js';
import { hostEnv, type SysctlWriter, type Tool } from '../tools/tool.js';

/** The longest request line accepted, in bytes (the newline not counted). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Output a client has not read yet beyond which it is disconnected. */
export const MAX_PENDING_OUTPUT = 8 * 1024 * 1024;
/** The exit status reported for a request that was cancelled (128 + SIGINT, as a shell shows it). */
export const EXIT_CANCELLED = 130;
/** The exit status of a tool that threw an errno error / an unexpected error. */
export const EXIT_OSERR = 71;
export const EXIT_SOFTWARE = 70;

// ---------------------------------------------------------------- where sockets live

/**
 * The directory of control sockets: $TAPLAB_RUNTIME_DIR, else
 * $XDG_RUNTIME_DIR/taplab, else /run/taplab.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TAPLAB_RUNTIME_DIR) return env.TAPLAB_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'taplab');
  return '/run/taplab';
}

/** Host names as Host accepts them: they become file names, so nothing else is allowed. */
export function checkHostName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name))
    throw kerr('EINVAL', `host name ${JSON.stringify(name)} must start with a letter and use at most 32 letters, digits, '-' or '_'`);
}

/** The control socket of host `name`. */
export function controlSocketPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  checkHostName(name);
  return join(runtimeDir(env), `${name}.sock`);
}

export type ProbeResult = 'absent' | 'alive' | 'stale';

/**
 * Whether something answers at `path`: 'alive' when a connect succeeds,
 * 'stale' when the socket file is there but nobody listens (ECONNREFUSED),
 * 'absent' when there is no file. Other errors (EACCES...) throw.
 */
export function probeSocket(path: string, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let done = false;
    const finish = (r: ProbeResult | Error) => {
      if (done) return;
      done = true;
      s.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    // A listener that never accepts (a hung host) still counts as alive: the name is taken.
    s.setTimeout(timeoutMs, () => finish('alive'));
    s.once('connect', () => finish('alive'));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') finish('absent');
      else if (e.code === 'ECONNREFUSED') finish('stale');
      else finish(kerr(errnoOf(e.code), `control socket ${path}: ${e.message}`));
    });
  });
}

function errnoOf(code: string | undefined): ErrnoName {
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'EADDRINUSE') return code;
  return 'EIO';
}

// ---------------------------------------------------------------- the server

export interface ControlServerOptions {
  host: Host;
  /** The host's tree (a SysctlTree): tools read and write it. */
  tree: SysctlWriter;
  /** The commands by name (TOOLS from the registry). */
  tools: ReadonlyMap<string, Tool>;
  /** Where to listen; default controlSocketPath(host.name). */
  path?: string;
  /** What the built-in `info` command prints (one line); default the host's name. */
  info?: () => string;
}

type ReqId = number | string | null;

/** A reply line. */
export type Reply =
  | { id: ReqId; out: string }
  | { id: ReqId; err: string }
  | { id: ReqId; exit: number }
  | { id: ReqId; error: { errno: ErrnoName; message: string } };

export class ControlServer {
  private readonly conns = new Set<Connection>();
  private closed = false;
  /** The inode of our socket file, so close() never removes another host's. */
  private ino = -1;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    readonly opts: ControlServerOptions,
  ) {}

  /**
   * Listen at the host's socket path: create the directory (0700) if needed,
   * refuse when another host answers there (EADDRINUSE), replace a stale
   * socket file, and make the socket 0600.
   */
  static async start(opts: ControlServerOptions): Promise<ControlServer> {
    const path = opts.path ?? controlSocketPath(opts.host.name);
    const dir = join(path, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await claimPath(path, opts.host.name);
    // Half-open: a client may send its requests and shut down its side (`printf ... | socat`); it still gets the replies.
    const server = createServer({ allowHalfOpen: true });
    const cs = new ControlServer(path, server, opts);
    server.on('connection', (s) => cs.accept(s));
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: NodeJS.ErrnoException) => {
        server.off('listening', onOk);
        if (e.code === 'EADDRINUSE')
          reject(kerr('EADDRINUSE', `a taplab host named ${opts.host.name} is already running (another process bound ${path} just now)`));
        else reject(kerr(errnoOf(e.code), `control socket ${path}: ${e.message}`));
      };
      const onOk = () => {
        server.off('error', onErr);
        resolve();
      };
      server.once('error', onErr);
      server.once('listening', onOk);
      server.listen(path);
    });
    // The directory is 0700 already; the socket itself is the owner's only as well.
    chmodSync(path, 0o600);
    cs.ino = lstatSync(path).ino;
    server.on('error', () => {
      /* a failed accept must not take the host down */
    });
    return cs;
  }

  /** Requests running now, over all connections. */
  get running(): number {
    let n = 0;
    for (const c of this.conns) n += c.running;
    return n;
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Stop listening, cancel every request, drop every connection, and remove the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    await new Promise<void>((r) => this.server.close(() => r()));
    try {
      // libuv removes the socket file when the server closes; make sure, but only if it is still ours.
      if (lstatSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  private accept(s: Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    const c = new Connection(s, this);
    this.conns.add(c);
    s.on('close', () => {
      c.abortAll();
      this.conns.delete(c);
    });
  }

  /** The `help` text: every command with its summary. */
  helpText(): string {
    const rows: [string, string][] = [
      ['help', 'list the commands (help COMMAND: that command\'s usage)'],
      ['info', 'one line about this host (name, pid, interfaces)'],
      ...[...this.opts.tools.values()].map((t): [string, string] => [t.name, t.summary]),
    ];
    const w = Math.max(...rows.map(([n]) => n.length));
    return `commands of taplab host ${this.opts.host.name}:\n${rows.map(([n, s]) => `  ${n.padEnd(w)}  ${s}`).join('\n')}\n`;
  }
}

/** Make `path` free for this host: EADDRINUSE when a live host holds it, remove it when stale. */
async function claimPath(path: string, name: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw kerr('EEXIST', `${path} exists and is not a socket; remove it or choose another host name`);
  const r = await probeSocket(path);
  if (r === 'alive')
    throw kerr('EADDRINUSE', `a taplab host named ${name} is already running (its control socket ${path} answers); stop it or choose another name`);
  if (r === 'stale') unlinkSync(path);
}

/** One client connection: line framing, request dispatch, cancellation. */
class Connection {
  private buf: Buffer[] = [];
  private bufLen = 0;
  /** Discarding the rest of an oversized line. */
  private discarding = false;
  private readonly active = new Map<string, AbortController>();
  private dead = false;
  private inputEnded = false;

  constructor(
    private readonly sock: Socket,
    private readonly server: ControlServer,
  ) {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => this.destroy());
    sock.on('end', () => {
      // The client has sent everything: answer what runs, then close our side.
      this.inputEnded = true;
      if (this.active.size === 0) this.sock.end();
    });
  }

  get running(): number {
    return this.active.size;
  }

  destroy(): void {
    this.abortAll();
    this.dead = true;
    this.sock.destroy();
  }

  abortAll(): void {
    for (const ac of this.active.values()) ac.abort(new Error('the client disconnected'));
  }

  private send(r: Reply): void {
    if (this.dead || this.sock.destroyed || !this.sock.writable) return;
    this.sock.write(`${JSON.stringify(r)}\n`);
    if (this.sock.writableLength > MAX_PENDING_OUTPUT) this.destroy();
  }

  private error(id: ReqId, errno: ErrnoName, message: string): void {
    this.send({ id, error: { errno, message } });
  }

  private onData(d: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = d.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = d.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      if (this.bufLen + piece.length > MAX_REQUEST_BYTES) {
        this.tooLong();
        this.buf = [];
        this.bufLen = 0;
        continue;
      }
      const line = this.bufLen ? Buffer.concat([...this.buf, piece]) : piece;
      this.buf = [];
      this.bufLen = 0;
      this.line(line.toString('utf8'));
    }
    const rest = d.subarray(start);
    if (!rest.length || this.discarding) return;
    if (this.bufLen + rest.length > MAX_REQUEST_BYTES) {
      this.tooLong();
      this.buf = [];
      this.bufLen = 0;
      this.discarding = true;
      return;
    }
    this.buf.push(Buffer.from(rest));
    this.bufLen += rest.length;
  }

  private tooLong(): void {
    this.error(null, 'EINVAL', `request line longer than ${MAX_REQUEST_BYTES} bytes; it was discarded up to its newline`);
  }

  private line(text: string): void {
    const t = text.replace(/\r$/, '');
    if (!t.trim()) return;
    let req: unknown;
    try {
      req = JSON.parse(t);
    } catch (e) {
      return this.error(null, 'EINVAL', `request is not JSON (${(e as Error).message}); send one JSON object per line, like {"id":1,"cmd":"help"}`);
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req))
      return this.error(null, 'EINVAL', 'request must be a JSON object, like {"id":1,"cmd":"ifmcstat","argv":["-v"]}');
    const r = req as Record<string, unknown>;
    const rawId = r.id;
    if (rawId !== undefined && rawId !== null && !(typeof rawId === 'string' && rawId.length <= 128) && !(typeof rawId === 'number' && Number.isFinite(rawId)))
      return this.error(null, 'EINVAL', 'request "id" must be a number or a string of at most 128 characters');
    const id: ReqId = (rawId as ReqId | undefined) ?? null;
    const key = JSON.stringify(id);
    if (r.cancel !== undefined) {
      if (r.cancel !== true) return this.error(id, 'EINVAL', '"cancel" must be true');
      const ac = this.active.get(key);
      if (!ac) return this.error(id, 'EINVAL', `no request with id ${key} is running on this connection`);
      ac.abort(new Error('cancelled by the client'));
      return;
    }
    if (typeof r.cmd !== 'string' || !r.cmd) return this.error(id, 'EINVAL', 'request lacks "cmd" (a command name; {"cmd":"help"} lists them)');
    const argv = r.argv ?? [];
    if (!Array.isArray(argv) || argv.some((a) => typeof a !== 'string'))
      return this.error(id, 'EINVAL', `"argv" of ${r.cmd} must be an array of strings`);
    const extra = Object.keys(r).filter((k) => k !== 'id' && k !== 'cmd' && k !== 'argv');
    if (extra.length) return this.error(id, 'EINVAL', `request has unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
    if (this.active.has(key)) return this.error(id, 'EINVAL', `a request with id ${key} is already running on this connection`);
    this.run(id, key, r.cmd, argv as string[]);
  }

  private run(id: ReqId, key: string, cmd: string, argv: string[]): void {
    const opts = this.server.opts;
    if (cmd === 'help' || cmd === 'info') {
      if (cmd === 'info') this.send({ id, out: `${opts.info?.() ?? opts.host.name}\n` });
      else if (argv.length && opts.tools.has(argv[0])) return this.run(id, key, argv[0], ['--help']);
      else if (argv.length) return this.error(id, 'EINVAL', `no command named ${JSON.stringify(argv[0])} on host ${opts.host.name}`);
      else this.send({ id, out: this.server.helpText() });
      this.send({ id, exit: 0 });
      return;
    }
    const tool = opts.tools.get(cmd);
    if (!tool) return this.error(id, 'EINVAL', `no command named ${JSON.stringify(cmd)} (taplab -j ${opts.host.name} help lists them)`);
    const ac = new AbortController();
    this.active.set(key, ac);
    const env = hostEnv(opts.host, opts.tree, {
      out: (s) => void (s && !ac.signal.aborted && this.send({ id, out: s })),
      err: (s) => void (s && !ac.signal.aborted && this.send({ id, err: s })),
      signal: ac.signal,
    });
    const finish = (code: number) => {
      if (this.active.get(key) === ac) this.active.delete(key);
      this.send({ id, exit: ac.signal.aborted ? EXIT_CANCELLED : code });
      if (this.inputEnded && this.active.size === 0 && !this.dead) this.sock.end();
    };
    new Promise<number>((resolve) => resolve(tool.run(env, argv))).then(
      (code) => finish(Number.isInteger(code) ? code : EXIT_SOFTWARE),
      (e: unknown) => {
        if (ac.signal.aborted) return finish(EXIT_CANCELLED);
        if (e instanceof KernError) {
          this.send({ id, err: `${cmd}: ${e.message}\n` });
          return finish(EXIT_OSERR);
        }
        this.send({ id, err: `${cmd}: internal error: ${e instanceof Error ? e.message : String(e)}\n` });
        finish(EXIT_SOFTWARE);
      },
    );
  }
}

// ---------------------------------------------------------------- the client

/** Why a client could not talk to a host. */
export class ControlUnavailable extends Error {
  constructor(
    readonly kind: 'absent' | 'stale' | 'denied' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

export interface RequestHandlers {
  out(s: string): void;
  err(s: string): void;
}

/** How a request ended: an exit status, or an error reply (the request never ran). */
export type RequestEnd = { exit: number } | { error: { errno: string; message: string } };

/** A connection to a host's control socket. */
export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<string, { h: RequestHandlers; resolve(r: RequestEnd): void; reject(e: Error): void }>();
  private buf = '';
  private closedErr: Error | undefined;

  private constructor(
    private readonly sock: Socket,
    readonly path: string,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    const gone = () => {
      this.closedErr ??= new ControlUnavailable('closed', `the host closed its control connection (${path})`);
      for (const p of this.pending.values()) p.reject(this.closedErr);
      this.pending.clear();
    };
    sock.on('error', (e) => {
      this.closedErr = new ControlUnavailable('closed', `control connection to ${path} failed: ${e.message}`);
      gone();
    });
    sock.on('close', gone);
  }

  /** Connect to the socket at `path`; ControlUnavailable says why not (absent, stale, denied). */
  static connect(path: string, hostName = path): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(new ControlClient(s, path));
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.destroy();
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') reject(new ControlUnavailable('absent', `no host named ${hostName} (no control socket at ${path}; taplab -j reaches taplab hosts, from taplab host NAME or a running lab)`));
        else if (e.code === 'ECONNREFUSED') reject(new ControlUnavailable('stale', `host ${hostName} is not running (stale control socket at ${path})`));
        else if (e.code === 'EACCES' || e.code === 'EPERM')
          reject(new ControlUnavailable('denied', `permission denied on the control socket of host ${hostName} at ${path} (it is mode 0600: run as the host's user)`));
        else reject(new ControlUnavailable('closed', `cannot connect to host ${hostName} at ${path}: ${e.message}`));
      });
    });
  }

  /** Run `cmd argv` on the host, streaming its output; resolves with its exit status or the error reply. */
  request(cmd: string, argv: string[], h: RequestHandlers): { id: number; done: Promise<RequestEnd> } {
    const id = this.nextId++;
    const done = new Promise<RequestEnd>((resolve, reject) => {
      if (this.closedErr) return reject(this.closedErr);
      this.pending.set(JSON.stringify(id), { h, resolve, reject });
      this.sock.write(`${JSON.stringify({ id, cmd, argv })}\n`);
    });
    return { id, done };
  }

  /** Give up when the host says nothing for `ms` (a socket idle timeout, not a timer of ours). */
  setIdleTimeout(ms: number): void {
    this.sock.setTimeout(ms, () => {
      this.closedErr = new ControlUnavailable('closed', `host at ${this.path} did not answer within ${ms} ms`);
      this.sock.destroy();
    });
  }

  /** Ask the host to stop request `id` (it still answers with its exit). */
  cancel(id: number): void {
    if (!this.closedErr && !this.sock.destroyed) this.sock.write(`${JSON.stringify({ id, cancel: true })}\n`);
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const p = this.pending.get(JSON.stringify(r.id ?? null));
      if (!p) continue;
      if (typeof r.out === 'string') p.h.out(r.out);
      else if (typeof r.err === 'string') p.h.err(r.err);
      else if (typeof r.exit === 'number') {
        this.pending.delete(JSON.stringify(r.id));
        p.resolve({ exit: r.exit });
      } else if (r.error && typeof r.error === 'object') {
        this.pending.delete(JSON.stringify(r.id ?? null));
        p.resolve({ error: r.error as { errno: string; message: string } });
      }
    }
  }
}

/** The running hosts: sockets in the runtime directory that answer, with their `info` line. */
export async function listHosts(dir = runtimeDir()): Promise<{ name: string; path: string; state: ProbeResult; info: string }[]> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.sock')).sort();
  } catch {
    return [];
  }
  const out: { name: string; path: string; state: ProbeResult; info: string }[] = [];
  for (const f of names) {
    const path = join(dir, f);
    const name = f.slice(0, -'.sock'.length);
    let state: ProbeResult;
    try {
      state = await probeSocket(path);
    } catch {
      continue;
    }
    let info = '';
    if (state === 'alive') {
      try {
        const c = await ControlClient.connect(path, name);
        c.setIdleTimeout(2000);
        let text = '';
        const r = c.request('info', [], { out: (s) => void (text += s), err: () => {} });
        await r.done;
        c.close();
        info = text.trim();
      } catch {
        info = '';
      }
    }
    out.push({ name, path, state, info });
  }
  return out;
}
