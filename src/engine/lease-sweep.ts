/**
 * The lease sweeper: every `everyMs` on the engine's clock, ends the leases
 * that lapsed. A lease measures how long the server has gone without hearing
 * from an agent, so it may only count time in which the server could hear:
 *
 * - A tick that runs much later than it was due means this process did not
 *   run in between (SIGSTOP, a suspended VM or container, the event loop
 *   blocked). Whatever the agents sent in that gap is still unread in the
 *   sockets, so the gap is not held against them: every lease is extended by
 *   it. Lateness of less than one tick is ordinary scheduling jitter and is
 *   not counted (else leases would creep longer on a busy machine).
 * - Even then, the tick itself runs in the event loop's timer phase, before
 *   the poll phase reads the sockets. Expiry waits for `setImmediate` (the
 *   check phase, after the poll phase), so a heartbeat that had already
 *   arrived when the tick fired is read, and renews its lease, first.
 * - While `holdWhile()` is true (the store is unavailable: agents' reports and
 *   the heartbeats queued behind them wait for it), no lease lapses; when it
 *   turns false every lease gets at least one whole period from then, as if
 *   each agent had just been heard.
 */
import type { Lease, LeaseBook } from "./lease-book.js";
import type { Clock } from "./ports.js";

export class LeaseSweeper {
  private cancel: (() => void) | null = null;
  private dueAt = 0;

  constructor(
    private readonly leases: LeaseBook,
    private readonly clock: Clock,
    private readonly everyMs: number,
    private readonly onExpired: (expired: Lease[]) => void,
    private readonly holdWhile: () => boolean = () => false,
  ) {}

  private held = false;

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(): void {
    this.dueAt = this.clock.now().getTime() + this.everyMs;
    this.cancel = this.clock.setTimer(() => this.tick(), this.everyMs);
  }

  private tick(): void {
    const late = this.clock.now().getTime() - this.dueAt;
    if (late > this.everyMs) this.leases.extendAll(late);
    if (this.holdWhile()) {
      this.held = true;
      this.leases.extendAll(this.everyMs + Math.max(0, late));
      this.schedule();
      return;
    }
    if (this.held) {
      this.held = false;
      this.leases.renewAll();
    }
    setImmediate(() => {
      if (!this.cancel) return; // stopped meanwhile
      const expired = this.leases.takeExpired();
      if (expired.length > 0) this.onExpired(expired);
      this.schedule();
    });
  }
}
