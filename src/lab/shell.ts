/**
 * `taplab shell LAB` (and `taplab run LAB --shell`): an interactive prompt on
 * a running lab, in the spirit of Mininet's CLI.
 *
 *   taplab> h1 join 239.1.1.1            a taplab tool on a taplab host (the registry's tools)
 *   taplab> r1 querier -v
 *   taplab> k1 ip maddr show dev eth0    a command in a kernel host's namespace
 *   taplab> steps / step / run / expect  the lab's own timeline and checks
 *   taplab> wait 2s / time               the lab's clock
 *
 * The lab is built through LabSession (runner.ts) and nothing of its
 * timeline runs until asked. Each taplab host also serves a control socket
 * named after it (control.ts, as `taplab host` does), so `taplab -j h1 ...`
 * reaches it from another terminal. Everything goes when the shell ends
 * (exit, end of input, Ctrl-C twice at the prompt, SIGTERM/SIGHUP, an
 * error): the control sockets first, then the session (hosts, TAPs,
 * namespaces).
 *
 * Programs and tests drive it with streams:
 *
 *   const sh = await LabShell.open(lab, { virtualTime: true, input, output });
 *   const code = await sh.run();   // resolves when the input ends or `exit`, after teardown
 */
import * as readline from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { VirtualScheduler } from '../kern/clock.js';
import { KernError, kerr } from '../kern/errno.js';
import { TOOLS, sysctlTreeOf } from '../tools/registry.js';
import { hostEnv } from '../tools/tool.js';
import { ControlServer, controlSocketPath, probeSocket } from './control.js';
import { formatTime, loadLabForCommand, parseDuration, splitWords, type Lab, type StepSpec } from './labfile.js';
import { netAdminStatus } from './netns.js';
import { LabSession, labNeedsKernel, virtualTimeRefusal, type CheckResult, type TimelineLine } from './runner.js';
import { SHELL_COMMANDS, shellCommandsHelp } from './shellhelp.js';

export interface ShellOptions {
  seed?: number;
  pcapDir?: string;
  virtualTime?: boolean;
  /** Where commands come from (default process.stdin). */
  input?: NodeJS.ReadableStream;
  /** Where everything is printed (default process.stdout). */
  output?: NodeJS.WritableStream;
  /** Treat the streams as a terminal (line editing, completion on Tab); default: output is a TTY. */
  terminal?: boolean;
  /** Serve a control socket per taplab host (default true). */
  controlSockets?: boolean;
  /** Keep the history in this file; default ~/.taplab_history on a terminal, none otherwise. */
  historyFile?: string | null;
  /** Catch SIGINT/SIGTERM/SIGHUP of the process (default true). */
  handleSignals?: boolean;
}

/** Exit statuses: 0 exit/end of input, 130 Ctrl-C twice, 128+N a signal, 70 an internal error. */
export const SHELL_EXIT_SIGINT = 130;
const SHELL_EXIT_SOFTWARE = 70;

/** Commands offered after a kernel host's name (anything else works too). */
const KERNEL_COMPLETIONS = ['bridge', 'cat', 'ip', 'join', 'leave', 'ping', 'send', 'ss', 'sysctl'];
const SHELL_NAMES = [...SHELL_COMMANDS.map(([n]) => n).filter((n) => n !== 'HOST'), 'quit'];

export class LabShell {
  private readonly out: NodeJS.WritableStream;
  private readonly input: NodeJS.ReadableStream;
  private readonly terminal: boolean;
  private rl: readline.Interface | undefined;
  private rlClosed = false;
  private readonly queue: string[] = [];
  private busy = false;
  private eof = false;
  private finishing: Promise<void> | undefined;
  private exitCode: number | undefined;
  private resolveRun: ((code: number) => void) | undefined;
  /** The running command's cancel (Ctrl-C). */
  private current: AbortController | undefined;
  private interrupts = 0;
  private showMessages = true;
  private nextStep = 0;
  private readonly results: CheckResult[] = [];
  private readonly unsubscribe: () => void;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  /** Exit status of the last host command. */
  lastStatus = 0;

  private constructor(
    readonly lab: Lab,
    readonly session: LabSession,
    private readonly labAbort: AbortController,
    readonly servers: ControlServer[],
    private readonly opts: ShellOptions,
  ) {
    this.out = opts.output ?? process.stdout;
    this.input = opts.input ?? process.stdin;
    this.terminal = opts.terminal ?? !!(this.out as NodeJS.WriteStream).isTTY;
    this.unsubscribe = session.onLine((l) => this.timelineLine(l));
  }

  /**
   * Build the lab and claim a control socket per taplab host. Refuses
   * (EADDRINUSE) before building anything when a host of the same name is
   * running; throws KernError when the lab cannot be built (torn down already).
   * `warn` gets a line for a control socket that could not be made for another reason.
   */
  static async open(lab: Lab, opts: ShellOptions = {}, warn: (line: string) => void = () => {}): Promise<LabShell> {
    const taplabHosts = lab.hosts.filter((h) => h.kind === 'taplab').map((h) => h.name);
    const sockets = opts.controlSockets ?? true;
    if (sockets)
      for (const name of taplabHosts) {
        const path = controlSocketPath(name);
        let state: string;
        try {
          state = await probeSocket(path);
        } catch {
          continue; // not ours to judge here: the server start below says what is wrong
        }
        if (state === 'alive') throw kerr('EADDRINUSE', `a taplab host named ${name} is already running (control socket ${path}); stop it, or rename ${name} in ${lab.file}`);
      }
    const labAbort = new AbortController();
    const session = await LabSession.start(lab, { seed: opts.seed, pcapDir: opts.pcapDir, virtualTime: opts.virtualTime, signal: labAbort.signal });
    const servers: ControlServer[] = [];
    try {
      if (sockets)
        for (const name of taplabHosts) {
          const th = session.taplab.get(name)!;
          try {
            servers.push(
              await ControlServer.start({
                host: th.host,
                tree: sysctlTreeOf(th.host),
                tools: TOOLS,
                path: controlSocketPath(name),
                info: () => `${name} pid ${process.pid} in lab ${lab.name} (taplab shell) ${th.ifs.map((i) => `${i.ifp.if_xname} ${i.spec.inet.concat(i.spec.inet6).join(' ') || '(no address)'}`).join(', ')}`,
              }),
            );
          } catch (e) {
            if (e instanceof KernError && e.code === 'EADDRINUSE') throw e;
            warn(`${name} is not reachable with taplab -j: ${(e as Error).message} (set TAPLAB_RUNTIME_DIR to a directory you can write)`);
          }
        }
    } catch (e) {
      for (const s of servers) await s.close();
      await session.close();
      throw e;
    }
    return new LabShell(lab, session, labAbort, servers, opts);
  }

  // ------------------------------------------------------------ output

  private write(s: string): void {
    this.out.write(s);
  }

  private say(line: string): void {
    this.write(`${line}\n`);
  }

  /** A line that arrives on its own (the lab's clock runs in real time): above the prompt, which is redrawn. */
  private asyncLine(text: string): void {
    if (this.terminal && !this.busy && this.rl && !this.rlClosed) {
      readline.clearLine(this.out as NodeJS.WriteStream, 0);
      readline.cursorTo(this.out as NodeJS.WriteStream, 0);
      this.write(`${text}\n`);
      this.rl.prompt(true);
    } else this.write(`${text}\n`);
  }

  private timelineLine(l: TimelineLine): void {
    if (l.kind === 'message' && !this.showMessages) return;
    this.asyncLine(l.text);
  }

  // ------------------------------------------------------------ completion

  /** Tab completion: host names and shell commands first, then a host's tools, then interface names. */
  complete(line: string): [string[], string] {
    const partial = /(\S*)$/.exec(line)![1];
    const before = line.slice(0, line.length - partial.length).trim();
    const words = before ? before.split(/\s+/) : [];
    const hostNames = this.lab.hosts.map((h) => h.name);
    let cands: string[];
    if (words.length === 0) cands = [...hostNames, ...SHELL_NAMES];
    else {
      const spec = this.lab.hosts.find((h) => h.name === words[0]);
      if (spec) {
        if (words.length === 1) cands = spec.kind === 'taplab' ? [...TOOLS.keys()] : KERNEL_COMPLETIONS;
        else cands = spec.interfaces.map((i) => i.name);
      } else if (words[0] === 'help' && words.length === 1) cands = [...SHELL_NAMES, ...TOOLS.keys()];
      else if (words[0] === 'timeline' && words.length === 1) cands = ['on', 'off'];
      else cands = [];
    }
    const hits = [...new Set(cands.filter((c) => c.startsWith(partial)))].sort();
    return [hits, partial];
  }

  // ------------------------------------------------------------ the loop

  /** Read commands until exit or the end of input, then tear everything down. Resolves with the exit status. */
  run(): Promise<number> {
    const history = this.loadHistory();
    const rl = readline.createInterface({
      input: this.input,
      output: this.out,
      terminal: this.terminal,
      completer: (l: string) => this.complete(l),
      historySize: 1000,
      removeHistoryDuplicates: true,
      // A prompt for a person; none when commands come from a pipe and go to one.
      prompt: this.terminal || (this.input as NodeJS.ReadStream).isTTY ? 'taplab> ' : '',
      ...(history ? { history } : {}),
    });
    this.rl = rl;
    rl.on('SIGINT', () => this.interrupt());
    rl.on('line', (l) => {
      this.queue.push(l);
      void this.pump();
    });
    rl.on('close', () => {
      this.rlClosed = true;
      this.eof = true;
      void this.pump();
    });
    if (this.opts.handleSignals ?? true) {
      const on = (sig: NodeJS.Signals, fn: () => void) => {
        process.on(sig, fn);
        this.signalHandlers.push([sig, fn]);
      };
      on('SIGINT', () => this.interrupt());
      on('SIGTERM', () => void this.finish(143));
      on('SIGHUP', () => void this.finish(129));
    }
    return new Promise<number>((resolve) => {
      this.resolveRun = resolve;
      rl.prompt();
    });
  }

  /** Run the lab's remaining steps and checks before the prompt (taplab run --shell). */
  async runFirst(): Promise<void> {
    this.busy = true;
    try {
      await this.execute('run');
    } finally {
      this.busy = false;
    }
  }

  private async pump(): Promise<void> {
    if (this.busy || this.finishing) return;
    this.busy = true;
    try {
      while (this.queue.length && this.exitCode === undefined && !this.finishing) {
        const line = this.queue.shift()!;
        this.interrupts = 0;
        try {
          await this.execute(line);
        } catch (e) {
          this.say(`taplab shell: ${e instanceof Error ? e.message : String(e)}; tearing the lab down`);
          this.exitCode = e instanceof KernError ? 71 : SHELL_EXIT_SOFTWARE;
        }
      }
    } finally {
      this.busy = false;
    }
    if (this.finishing) return;
    if (this.exitCode !== undefined || (this.eof && !this.queue.length)) {
      if (this.eof && this.exitCode === undefined && this.terminal) this.write('\n');
      void this.finish(this.exitCode ?? 0);
    } else if (!this.queue.length && !this.rlClosed) this.rl?.prompt();
  }

  /** Ctrl-C: stop the running command; at the prompt clear the line, and leave on the second. */
  interrupt(): void {
    if (this.finishing) return;
    if (this.current) {
      this.current.abort();
      this.write('^C\n');
      return;
    }
    if (this.busy) return;
    if (++this.interrupts >= 2) {
      this.write('^C\n');
      void this.finish(SHELL_EXIT_SIGINT);
      return;
    }
    if (this.terminal && this.rl && !this.rlClosed) {
      this.rl.write(null, { ctrl: true, name: 'e' });
      this.rl.write(null, { ctrl: true, name: 'u' });
    }
    this.write('^C\n(Ctrl-C again, Ctrl-D or exit to tear the lab down and leave)\n');
    if (this.rl && !this.rlClosed) this.rl.prompt();
  }

  /** Tear down: stop the command, close the prompt, the control sockets, the lab. */
  finish(code: number): Promise<void> {
    if (this.finishing) return this.finishing;
    this.exitCode ??= code;
    this.finishing = (async () => {
      this.current?.abort();
      this.labAbort.abort();
      for (const [sig, fn] of this.signalHandlers) process.off(sig, fn);
      if (this.rl && !this.rlClosed) {
        this.rlClosed = true;
        this.rl.close();
      }
      this.saveHistory();
      await this.close();
      this.resolveRun?.(this.exitCode ?? code);
    })();
    return this.finishing;
  }

  /** Close the control sockets and the session (idempotent; run() does it at the end). */
  async close(): Promise<void> {
    this.unsubscribe();
    const errors: string[] = [];
    for (const s of this.servers) {
      try {
        await s.close();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    try {
      await this.session.close();
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (errors.length) this.say(`taplab shell: while tearing down: ${errors.join('; ')}`);
  }

  // ------------------------------------------------------------ history

  private historyPath(): string | undefined {
    if (this.opts.historyFile === null) return undefined;
    if (this.opts.historyFile !== undefined) return this.opts.historyFile;
    if (!this.terminal) return undefined;
    return process.env.TAPLAB_HISTORY ?? pathJoin(homedir(), '.taplab_history');
  }

  private loadHistory(): string[] | undefined {
    const p = this.historyPath();
    if (!p) return undefined;
    try {
      return readFileSync(p, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000);
    } catch {
      return undefined; // no history yet
    }
  }

  private saveHistory(): void {
    const p = this.historyPath();
    const h = (this.rl as (readline.Interface & { history?: string[] }) | undefined)?.history;
    if (!p || !h) return;
    try {
      writeFileSync(p, `${[...h].reverse().join('\n')}\n`, { mode: 0o600 });
    } catch {
      /* a history that cannot be kept is not worth an error */
    }
  }

  // ------------------------------------------------------------ commands

  /** Run one command line. Errors in the line are printed; only a broken lab throws. */
  async execute(line: string): Promise<void> {
    const argv = splitWords(line.trim());
    if (!argv) return this.say(`unbalanced quote in: ${line.trim()}`);
    if (!argv.length) return;
    const [cmd, ...args] = argv;
    if (this.lab.hosts.some((h) => h.name === cmd)) return this.hostCommand(cmd, args);
    switch (cmd) {
      case 'help':
      case '?':
        return this.help(args[0]);
      case 'exit':
      case 'quit':
        this.exitCode = 0;
        return;
      case 'hosts':
      case 'nodes':
        return this.hosts();
      case 'steps':
        return this.steps();
      case 'step': {
        const n = args[0] === undefined ? 1 : /^\d+$/.test(args[0]) ? Number(args[0]) : NaN;
        if (!(n >= 1)) return this.say(`step: ${JSON.stringify(args[0])} is not a number of steps (step, or step N)`);
        return this.step(n);
      }
      case 'run':
        return this.runRest();
      case 'expect':
        return this.expect();
      case 'wait': {
        const ms = parseDuration(args[0]);
        if (args.length !== 1 || ms === undefined) return this.say(`wait: expected one duration, like wait 2s, wait 500ms or wait 1m30s`);
        await this.withCancel((signal) => this.waitUntil(this.session.now() + ms, signal));
        return this.say(`lab time ${formatTime(this.session.now())}`);
      }
      case 'time':
        return this.time();
      case 'timeline':
        if (args[0] !== 'on' && args[0] !== 'off') return this.say(`timeline: expected on or off (the membership messages are ${this.showMessages ? 'shown' : 'hidden'})`);
        this.showMessages = args[0] === 'on';
        return;
      default: {
        const hosts = this.lab.hosts.map((h) => h.name).join(', ');
        const tool = TOOLS.has(cmd) ? `; to run ${cmd}, name the host first, e.g. ${this.lab.hosts[0]?.name ?? 'h1'} ${cmd}` : '';
        return this.say(`${cmd}: no such host or command (hosts: ${hosts || 'none'}; help lists the commands)${tool}`);
      }
    }
  }

  private async hostCommand(name: string, args: string[]): Promise<void> {
    const th = this.session.taplab.get(name);
    const tools = [...TOOLS.keys()].join(', ');
    if (!args.length) return this.say(th ? `${name}: which command? e.g. ${name} ifmcstat (tools: ${tools})` : `${name}: which command? e.g. ${name} ip addr`);
    if (th) {
      const tool = TOOLS.get(args[0]);
      if (!tool) {
        this.lastStatus = 64;
        return this.say(`${name}: ${args[0]}: no such taplab tool (tools: ${tools})`);
      }
      await this.withCancel(async (signal) => {
        const env = hostEnv(th.host, sysctlTreeOf(th.host), { out: (s) => this.write(s), err: (s) => this.write(s), signal });
        try {
          this.lastStatus = await tool.run(env, args.slice(1));
        } catch (e) {
          if (signal.aborted) this.lastStatus = SHELL_EXIT_SIGINT;
          else if (e instanceof KernError) {
            this.say(`${name} ${tool.name}: ${e.message}`);
            this.lastStatus = 71;
          } else {
            this.say(`${name} ${tool.name}: internal error: ${e instanceof Error ? e.message : String(e)}`);
            this.lastStatus = SHELL_EXIT_SOFTWARE;
          }
        }
      });
      // Virtual time: what the command set off for "now" (a report, a frame on a segment without delay) happens now.
      if (this.session.sched instanceof VirtualScheduler) this.session.sched.advance(0);
      return;
    }
    const r = await this.session.command(name, args);
    if (r.stdout) this.write(r.stdout);
    if (r.stderr) this.write(r.stderr);
    this.lastStatus = r.code;
  }

  /** Run fn with a cancel that Ctrl-C fires; returns once fn settles. */
  private async withCancel<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    this.current = ac;
    try {
      return await fn(ac.signal);
    } finally {
      this.current = undefined;
    }
  }

  /** Let the lab's clock reach `ms` (virtual: advance it; real: wait, cancellably). Returns false when cancelled. */
  private waitUntil(ms: number, signal: AbortSignal): Promise<boolean> {
    const s = this.session;
    if (s.sched instanceof VirtualScheduler) {
      return s.advanceTo(ms).then(() => true);
    }
    const left = ms - s.now();
    if (left <= 0) return Promise.resolve(true);
    if (signal.aborted || this.labAbort.signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const c = s.sched.callout(left, () => done(true), 'shell wait');
      const onAbort = () => {
        c.stop();
        done(false);
      };
      function done(ok: boolean) {
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      }
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private describeStep(st: StepSpec): string {
    const a = st.action;
    switch (a.kind) {
      case 'command':
        return `${a.host}: ${a.line}`;
      case 'pause':
        return `pause ${formatTime(a.ms)}`;
      case 'link':
        return `link ${a.iface.host}.${a.iface.ifname} ${a.up ? 'up' : 'down'}`;
      case 'version':
        return `version ${a.iface.host}.${a.iface.ifname}${a.igmp !== undefined ? ` igmp ${a.igmp}` : ''}${a.mld !== undefined ? ` mld ${a.mld}` : ''}`;
      case 'bridge':
        return `bridge ${a.segment} settings`;
      case 'expect':
        return `expect: ${a.checks.map((c) => c.label).join('; ')}`;
      case 'note':
        return `# ${st.note ?? ''}`;
    }
  }

  private steps(): void {
    const steps = this.lab.steps;
    if (!steps.length) return this.say(`${this.lab.name} has no steps`);
    const w = String(steps.length).length;
    steps.forEach((st, i) => {
      const mark = i === this.nextStep ? '>' : ' ';
      const done = i < this.nextStep ? '  (done)' : '';
      this.say(`${mark} ${String(i + 1).padStart(w)}  ${formatTime(st.atMs).padStart(8)}  ${this.describeStep(st)}${st.note && st.action.kind !== 'note' ? `  # ${st.note}` : ''}${done}`);
    });
    if (this.nextStep >= steps.length) this.say(`every step has run; the lab's timeline ends at ${formatTime(this.lab.endMs)}`);
  }

  private async step(n: number): Promise<void> {
    for (let k = 0; k < n; k++) {
      if (this.nextStep >= this.lab.steps.length) {
        this.say(`no more steps (the lab's timeline ends at ${formatTime(this.lab.endMs)}; expect checks its expectations)`);
        return;
      }
      const st = this.lab.steps[this.nextStep];
      const reached = await this.withCancel((signal) => this.waitUntil(st.atMs, signal));
      if (!reached) {
        this.say(`step ${this.nextStep + 1} not run (interrupted at ${formatTime(this.session.now())})`);
        return;
      }
      this.nextStep++;
      this.results.push(...(await this.session.runStep(st)));
    }
  }

  private async runRest(): Promise<void> {
    const left = this.lab.steps.length - this.nextStep;
    if (left > 0) await this.step(left);
    if (this.nextStep < this.lab.steps.length) return;
    const reached = await this.withCancel((signal) => this.waitUntil(this.lab.endMs, signal));
    if (!reached) return this.say(`interrupted at ${formatTime(this.session.now())}, before the lab's end (${formatTime(this.lab.endMs)})`);
    await this.expect();
    const failedSteps = this.results.filter((r) => !r.ok);
    if (failedSteps.length) this.say(`${failedSteps.length} check${failedSteps.length === 1 ? '' : 's'} of the steps failed so far`);
  }

  private async expect(): Promise<void> {
    const checks = this.lab.expect;
    if (!checks.length) return this.say(`${this.lab.name} has no expectations (its steps may have checks of their own)`);
    let held = 0;
    let notDue = 0;
    for (const c of checks) {
      if (this.labAbort.signal.aborted) return;
      // A packets check whose window has not opened yet cannot fail (or hold) now.
      if (c.kind === 'packets' && c.fromMs > this.session.now()) {
        notDue++;
        this.say(`  · ${c.label}: not due yet (its window opens at ${formatTime(c.fromMs)})`);
        continue;
      }
      const r = await this.session.check(c);
      if (r.ok) held++;
      else if (r.seen.includes('\n')) this.say(r.seen.split('\n').slice(1).join('\n').replace(/^/gm, '      ')); // the check's line showed the first
    }
    const failed = checks.length - held - notDue;
    const verdict = failed ? 'FAIL' : notDue ? 'SO FAR' : 'PASS';
    this.say(
      `${verdict}: ${held} of ${checks.length} expectation${checks.length === 1 ? '' : 's'} held at ${formatTime(this.session.now())}` +
        (notDue ? `, ${notDue} not due yet` : ''),
    );
  }

  private time(): void {
    const s = this.session;
    const clock = s.sched instanceof VirtualScheduler ? 'virtual time' : 'real time';
    const st = this.lab.steps[this.nextStep];
    const now = s.now();
    const next = st ? `next: step ${this.nextStep + 1} at ${formatTime(st.atMs)}${st.atMs <= now ? ' (due)' : ` (in ${formatTime(st.atMs - now)})`}` : 'every step has run';
    this.say(`lab time ${formatTime(now)} (${clock}); ${next}; the lab's timeline ends at ${formatTime(this.lab.endMs)}`);
  }

  private hosts(): void {
    const w = Math.max(...this.lab.hosts.map((h) => h.name.length));
    for (const h of this.lab.hosts) {
      const ifs = h.interfaces.map((i) => {
        const seg = this.lab.segments.find((s) => s.name === i.segment);
        const addrs = [...i.inet, ...i.inet6];
        return `${i.name}${addrs.length ? ` ${addrs.join(' ')}` : ''} on ${i.segment} (${seg?.type ?? '?'})`;
      });
      const server = this.servers.find((s) => s.opts.host.name === h.name);
      const reach = h.kind === 'taplab' ? (server ? `; taplab -j ${h.name} (${server.path})` : '; no control socket') : '';
      const querier = h.interfaces.some((i) => i.querier) ? ', querier' : '';
      this.say(`${h.name.padEnd(w)}  ${h.kind}${querier}: ${ifs.join(', ')}${reach}`);
    }
  }

  private help(topic: string | undefined): void {
    if (topic === undefined) {
      this.say(`commands (HOST is one of ${this.lab.hosts.map((h) => h.name).join(', ')}):\n${shellCommandsHelp()}`);
      this.say(`taplab tools on taplab hosts: ${[...TOOLS.keys()].join(', ')} (HOST TOOL --help for a tool's options)`);
      return;
    }
    const row = SHELL_COMMANDS.find(([n]) => n === topic) ?? (topic === 'quit' ? SHELL_COMMANDS.find(([n]) => n === 'exit') : undefined);
    if (row) return this.say(`${row[0]}${row[1] ? ` ${row[1]}` : ''}: ${row[2]}`);
    const tool = TOOLS.get(topic);
    if (tool) return this.say(`${tool.name}: ${tool.summary} (HOST ${tool.name} --help for its options)`);
    this.say(`help: no command named ${topic} (help lists them)`);
  }
}

// ---------------------------------------------------------------- the command

export interface ShellCommandOptions {
  seed?: number;
  pcap?: string;
  virtualTime?: boolean;
  /** taplab run LAB --shell: run the steps and checks first. */
  runFirst?: boolean;
  out?: (s: string) => void;
  err?: (s: string) => void;
  /** For tests: the streams and switches of the shell itself. */
  shell?: ShellOptions;
}

/**
 * `taplab shell LAB`: load the lab, refuse what cannot run, build it, and
 * run the prompt until it ends. Exit status: 0 (exit, end of input), 64
 * usage, 65 invalid lab file, 71 the lab could not be built or a host of
 * the same name runs already, 77 no CAP_NET_ADMIN, 130 Ctrl-C twice.
 */
export async function runShellCommand(file: string, o: ShellCommandOptions = {}): Promise<number> {
  const out = o.out ?? ((s: string) => void process.stdout.write(s));
  const err = o.err ?? ((s: string) => void process.stderr.write(s));
  const me = o.runFirst ? 'taplab run --shell' : 'taplab shell';
  const lab = loadLabForCommand(file, me, err);
  if (typeof lab === 'number') return lab;
  if (o.virtualTime) {
    const why = virtualTimeRefusal(lab);
    if (why) {
      err(`${me}: ${file}: ${why}; run it without --virtual-time\n`);
      return 64;
    }
  }
  if (labNeedsKernel(lab)) {
    const st = netAdminStatus();
    if (!st.ok) {
      err(`${me}: ${file} has kernel hosts or bridges: ${st.reason}\n`);
      return 77;
    }
  }
  let sh: LabShell;
  try {
    sh = await LabShell.open(lab, { seed: o.seed, pcapDir: o.pcap, virtualTime: o.virtualTime, ...o.shell }, (l) => err(`${me}: warning: ${l}\n`));
  } catch (e) {
    if (e instanceof KernError) {
      err(`${me}: ${e.message}\n`);
      return e.code === 'EPERM' || e.code === 'EACCES' ? 77 : 71;
    }
    throw e;
  }
  const virtual = sh.session.sched instanceof VirtualScheduler;
  out(`taplab shell: ${lab.name} (${file}), seed ${sh.session.seed}, ${virtual ? 'virtual time: the clock moves only with step, run, wait and expect' : 'real time'}\n`);
  if (lab.description) out(`${lab.description.trim().replace(/^/gm, '  ')}\n`);
  const reach = sh.servers.map((s) => s.opts.host.name);
  out(`hosts: ${lab.hosts.map((h) => `${h.name} (${h.kind})`).join(', ')}; ${lab.steps.length} step${lab.steps.length === 1 ? '' : 's'}${reach.length ? `; from another terminal: taplab -j ${reach[0]} COMMAND` : ''}; help lists the commands\n`);
  for (const l of sh.session.lines) out(`${l.text}\n`);
  if (o.runFirst) {
    try {
      await sh.runFirst();
    } catch (e) {
      err(`${me}: ${e instanceof Error ? e.message : String(e)}; tearing the lab down\n`);
      await sh.close();
      return e instanceof KernError ? 71 : SHELL_EXIT_SOFTWARE;
    }
  }
  return sh.run();
}
