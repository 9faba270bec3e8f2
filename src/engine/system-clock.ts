/** The real clock: wall-clock time and Node timers (unref'd: they never keep a process alive). */
import type { Clock } from "./ports.js";

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
