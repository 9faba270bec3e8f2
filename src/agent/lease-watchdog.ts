/**
 * The agent's half of fencing: notices that this process did not run for
 * longer than its leases may survive (SIGSTOP, a suspended VM, a starved
 * host), measured on its own monotonic clock, so a frozen-then-resumed agent
 * kills its attempts before it reports anything or starts new work.
 *
 * Why a gap and not "no contact with the server": the server renews a lease
 * when it reads a heartbeat, and expires it `leaseMs` later. An agent that
 * was not running for `leaseMs - heartbeatIntervalMs` may have missed the
 * heartbeat that would have renewed its lease in time, so the server may have
 * recorded the attempt lost and leased a retry elsewhere: the agent must
 * assume so and kill its copy. An agent that runs but cannot reach the server
 * (a server restart) keeps its attempts instead: a restarted server re-grants
 * the leases of the attempts it adopts, and the agent's heartbeats, listing
 * what it runs, renew them when it reconnects.
 *
 * What this does not cover, and what then guarantees "one at a time": the
 * stage's own processes are not frozen with the agent (they are their own
 * process group), so they run on while the agent is stopped; they are killed
 * on resume, before the agent reports or starts anything. A network
 * partition of a running agent longer than the lease is not fenced here
 * either. Both are bounded by the server: a heartbeat listing an attempt the
 * agent no longer holds is answered with a cancel, and the agent gets no new
 * work until its heartbeat is clean (src/engine/agent-fencing.ts).
 */
import { performance } from "node:perf_hooks";

export class LeaseWatchdog {
  private lastTick = performance.now();
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param toleranceMs the longest this process may stand still without
   *   fencing: the lease minus one heartbeat interval
   * @param onLapse kills the attempts, called once per gap
   */
  constructor(
    private readonly toleranceMs: number,
    private readonly onLapse: (stoodStillMs: number) => void,
    /** Called on every check that found no gap: pets the stage groups' watchdog. */
    private readonly onAlive: () => void = () => undefined,
  ) {}

  start(): void {
    if (this.timer) return;
    this.lastTick = performance.now();
    const every = Math.max(20, Math.min(1_000, Math.floor(this.toleranceMs / 4)));
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Call before anything that reports or starts work: after a resume the
   * event loop may deliver I/O before the watchdog's own timer runs.
   */
  check(): void {
    const now = performance.now();
    const stoodStill = now - this.lastTick;
    this.lastTick = now;
    if (!this.timer) return;
    if (stoodStill > this.toleranceMs) this.onLapse(stoodStill);
    else this.onAlive();
  }
}
