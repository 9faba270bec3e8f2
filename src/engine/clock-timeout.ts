/**
 * `work`, or the error `timedOut` makes if it has not settled `ms` after the
 * call: the timer is the Clock port's (or any `setTimer` of that shape), so
 * a virtual clock drives it in tests. The work itself is not cancelled.
 */
import type { Clock } from "./ports.js";

export function withClockTimeout<T>(work: Promise<T>, ms: number, setTimer: Clock["setTimer"], timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = setTimer(() => reject(timedOut()), ms);
    work.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
