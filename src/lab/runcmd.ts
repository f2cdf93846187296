/**
 * The `taplab run LAB` command: load and check the lab file, refuse what
 * cannot run (virtual time with a kernel, no CAP_NET_ADMIN), run it with
 * runLab, print the timeline as it happens and a summary, and return the
 * exit status. SIGINT/SIGTERM stop the lab and tear it down.
 *
 * Exit status: 0 every check held; 1 a check or a step failed; 64 usage
 * (--virtual-time refused); 65 the lab file is invalid (EX_DATAERR); 66 it
 * cannot be read (EX_NOINPUT); 71 the
 * topology could not be built (EX_OSERR); 77 no CAP_NET_ADMIN for a kernel
 * lab (EX_NOPERM); 130 interrupted.
 */
import { formatTime, loadLabForCommand } from './labfile.js';
import { netAdminStatus } from './netns.js';
import { labNeedsKernel, runLab, virtualTimeRefusal, type LabResult, type TimelineLine } from './runner.js';

export interface RunCommandOptions {
  seed?: number;
  pcap?: string;
  virtualTime?: boolean;
  quiet?: boolean;
  json?: boolean;
  /** A line per step on stderr even when quiet (default: when stderr is a TTY and the timeline is not shown). */
  progress?: boolean;
  out?: (s: string) => void;
  err?: (s: string) => void;
}

export const EX_FAIL = 1;
export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_OSERR = 71;
export const EX_NOPERM = 77;
export const EX_INTERRUPTED = 130;

export async function runLabCommand(file: string, o: RunCommandOptions = {}): Promise<number> {
  const out = o.out ?? ((s: string) => void process.stdout.write(s));
  const err = o.err ?? ((s: string) => void process.stderr.write(s));
  const lab = loadLabForCommand(file, 'taplab run', err);
  if (typeof lab === 'number') return lab;
  if (o.virtualTime) {
    const why = virtualTimeRefusal(lab);
    if (why) {
      err(`taplab run: ${file}: ${why}; run it without --virtual-time\n`);
      return EX_USAGE;
    }
  }
  if (labNeedsKernel(lab)) {
    const st = netAdminStatus();
    if (!st.ok) {
      err(`taplab run: ${file} has kernel hosts or bridges: ${st.reason}\n`);
      return EX_NOPERM;
    }
  }

  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const showTimeline = !o.quiet && !o.json;
  const progress = o.progress ?? (!showTimeline && !!process.stderr.isTTY);
  if (showTimeline) {
    out(`taplab run: ${lab.name} (${file}), seed ${o.seed ?? lab.seed ?? 1}, ${o.virtualTime ? 'virtual time' : 'real time'}\n`);
    if (lab.description) out(`${lab.description.trim().replace(/^/gm, '  ')}\n`);
  }
  let result: LabResult;
  let ended = false;
  try {
    result = await runLab(
      lab,
      {
        seed: o.seed,
        pcapDir: o.pcap,
        virtualTime: o.virtualTime,
        signal: ac.signal,
        onStep: progress ? (i, n, s) => err(`taplab run: step ${i + 1}/${n} at ${formatTime(s.atMs)} (${s.where})\n`) : undefined,
      },
      // Lines that arrive after the lab ended (a kernel capture still draining) would come
      // after the result: they are in result.timeline (--json), not printed.
      showTimeline ? (l: TimelineLine) => void (ended || out(`${l.text}\n`)) : undefined,
    );
  } finally {
    ended = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  // The lab could not be built: its one error line says it all (no empty summary before it).
  const notBuilt = !!result.error && !result.interrupted && result.checks.length === 0 && result.timeline.length === 0;
  if (o.json) {
    out(`${JSON.stringify(jsonResult(result), null, 2)}\n`);
  } else if (!notBuilt) {
    out(summary(result, !!o.quiet));
  }
  if (result.interrupted) return EX_INTERRUPTED;
  if (notBuilt && result.error) {
    err(`taplab run: ${result.error}\n`);
    return result.error.startsWith('EPERM') || result.error.startsWith('EACCES') ? EX_NOPERM : EX_OSERR;
  }
  if (result.error) err(`taplab run: ${result.error}\n`);
  return result.ok ? 0 : EX_FAIL;
}

/** The summary printed after the timeline (with --quiet: failures and the result only). */
export function summary(r: LabResult, quiet: boolean): string {
  const passed = r.checks.filter((c) => c.ok).length;
  let s = quiet ? '' : `summary of ${r.name} at ${formatTime(r.endMs)}:\n`;
  for (const c of r.checks) {
    if (quiet && c.ok) continue;
    s += `  ${c.ok ? '✓' : '✗'} ${c.label}: ${c.seen.replace(/\n/g, '\n      ')}  (${c.where})\n`;
  }
  const verdict = r.ok ? 'PASS' : 'FAIL';
  s += `${verdict}: ${passed} of ${r.checks.length} check${r.checks.length === 1 ? '' : 's'} held${r.error ? `; ${r.error}` : ''} (${r.name}, seed ${r.seed}, ${r.clock} time)\n`;
  return s;
}

/** The --json document: the result with the timeline's messages as data. */
export function jsonResult(r: LabResult): object {
  return {
    name: r.name,
    file: r.file,
    ok: r.ok,
    seed: r.seed,
    clock: r.clock,
    endMs: r.endMs,
    ...(r.error ? { error: r.error } : {}),
    ...(r.interrupted ? { interrupted: true } : {}),
    timeline: r.timeline.map((l) => ({ timeMs: l.timeMs, kind: l.kind, text: l.text.trim(), ...(l.event ? { event: l.event } : {}) })),
    checks: r.checks,
  };
}
