/**
 * Deferred transmit start, in the spirit of netisr and NAPI: while a batch of
 * received frames is being processed, interfaces that want to transmit are
 * remembered and started once, when the batch ends, so the device gets
 * everything produced by one batch in one write call.
 */
export interface Startable {
  startDeferred(): void;
}

export class Netisr {
  private depth = 0;
  private pending: Startable[] = [];
  private readonly marked = new Set<Startable>();

  /** True while a batch is being processed. */
  get inBatch(): boolean {
    return this.depth > 0;
  }

  enter(): void {
    this.depth++;
  }

  /** Leave a batch; the outermost exit starts every interface marked during it. */
  exit(): void {
    if (--this.depth > 0) return;
    this.depth = 0;
    // Starting may mark more interfaces (a loopback echo); run until quiet.
    while (this.pending.length) {
      const list = this.pending;
      this.pending = [];
      for (const s of list) {
        this.marked.delete(s);
        s.startDeferred();
      }
    }
  }

  /** Ask for `s` to be started at the end of the current batch. */
  defer(s: Startable): void {
    if (this.marked.has(s)) return;
    this.marked.add(s);
    this.pending.push(s);
  }

  /** Run `fn` as a batch. */
  batch<T>(fn: () => T): T {
    this.enter();
    try {
      return fn();
    } finally {
      this.exit();
    }
  }
}
