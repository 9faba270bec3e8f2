/**
 * A Clock (src/engine/ports.ts) on virtual time: it stands still until a
 * test moves it with `advance`, which fires the timers that fall due, each
 * with the clock set to its due time, in due order.
 */
import type { Clock } from "../../src/engine/ports.js";

interface Timer {
  at: number;
  order: number;
  fn: () => void;
}

export class VirtualClock implements Clock {
  private time: number;
  private order = 0;
  private timers: Timer[] = [];

  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.time = start;
  }

  now(): Date {
    return new Date(this.time);
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.time + Math.max(0, ms), order: this.order++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /**
   * Moves time `ms` forward, firing due timers in order; after each, lets
   * real I/O and promises settle (`settle`), as the engine's work behind a
   * timer goes through a real store.
   */
  async advance(ms: number, settle: () => Promise<void> = settleBriefly): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at); // a jump may have passed it: it fires late
      next.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }

  /** Jumps time forward without firing anything: the process was not running (SIGSTOP). */
  jump(ms: number): void {
    this.time += ms;
  }
}

/** A few real milliseconds: enough for a local store's append and what follows it. */
export function settleBriefly(): Promise<void> {
  return new Promise((r) => setTimeout(r, 30));
}
