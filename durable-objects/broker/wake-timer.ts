/**
 * One timer per trigger that wakes the broker's pump for it at the earliest time asked for (flow control's
 * next window, the end of an activator hold). In memory: the broker's safety alarm covers a timer lost to
 * an eviction.
 */
export class WakeTimer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private at = 0;
  private readonly wake: () => void;

  constructor(wake: () => void) {
    this.wake = wake;
  }

  /** Wake at `at` (epoch ms), unless an earlier wake-up is already set. */
  wakeAt(at: number, now: number): void {
    if (this.timer && this.at <= at) return;
    this.clear();
    this.at = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.wake();
      },
      Math.max(0, at - now),
    );
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
