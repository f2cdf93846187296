/**
 * The kernel message buffer (FreeBSD's msgbuf, what log(9) writes and
 * dmesg(8) reads through sysctl kern.msgbuf): the last lines the stack had
 * to say to its operator, such as a warning that an older querier is on a
 * link. Bounded: the oldest lines go first. Observers see each line as it is
 * written (the lab timeline, `taplab host` on its standard error).
 */
import type { Scheduler } from './clock.js';
import { Observers } from './observers.js';

export interface MsgbufLine {
  /** Scheduler time of the line, milliseconds. */
  timeMs: number;
  text: string;
}

/** Lines kept (FreeBSD keeps bytes, 96 KiB by default; lines are what taplab's tools show). */
export const MSGBUF_LINES = 256;

export class Msgbuf {
  private readonly lines: MsgbufLine[] = [];
  private readonly taps = new Observers<MsgbufLine>();

  constructor(private readonly sched: Scheduler) {}

  /** log(9): add a line. */
  log(text: string): void {
    const line = { timeMs: this.sched.now(), text };
    this.lines.push(line);
    if (this.lines.length > MSGBUF_LINES) this.lines.shift();
    this.taps.emit(line);
  }

  /** The lines kept, oldest first. */
  read(): readonly MsgbufLine[] {
    return this.lines;
  }

  /** kern.msgbuf: the text dmesg prints, one line each. */
  text(): string {
    return this.lines.map((l) => `${l.text}\n`).join('');
  }

  clear(): void {
    this.lines.length = 0;
  }

  /** Watch lines as they are written. Returns the unsubscribe function. */
  observe(fn: (line: MsgbufLine) => void): () => void {
    return this.taps.add(fn);
  }
}
