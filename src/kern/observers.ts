/** A list of observers: subscribe with add() (which returns the unsubscribe function), notify with emit(). */
export class Observers<T> {
  private list: ((ev: T) => void)[] = [];

  add(fn: (ev: T) => void): () => void {
    this.list.push(fn);
    return () => {
      this.list = this.list.filter((f) => f !== fn);
    };
  }

  get size(): number {
    return this.list.length;
  }

  emit(ev: T): void {
    for (const fn of this.list) fn(ev);
  }
}
