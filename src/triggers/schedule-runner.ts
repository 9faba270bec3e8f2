/**
 * Fires the slots of the recorded schedules (`on.schedule`, table
 * `pipeline_schedules`; recorded by the run starter when it plans a push to
 * the schedule's branch).
 *
 * A pass reads every schedule and, for each, the newest slot at or before
 * now; if that slot is after the schedule was first recorded and newer than
 * the schedule's newest fired slot, it claims it (schedule-store.ts:
 * `claimSlot`, one insert ... on conflict do nothing) and stores its delivery.
 * So a slot fires once however many servers share the store and however
 * often they restart, and after downtime only the newest missed slot fires,
 * not one run per missed slot. Passes run at the next slot of any schedule,
 * and at least every `pollMs` (to see schedules other servers recorded), and
 * when `wake` is called (this server recorded some).
 *
 * It starts nothing itself: the delivery processor hands the slot's delivery
 * to the trigger service, which starts a run of the recorded head with event
 * `schedule` through the run starter, reported to the forge like a push.
 * Time comes from the Clock port only.
 */
import { newestSlotAtOrBefore, nextSlotAfter } from "../pipeline-parser/cron.js";
import type { Clock } from "../engine/ports.js";
import type { Database } from "../store/database.js";
import { passFailureLine } from "../store/store-unavailable.js";
import { DELIVERY_CHANNEL } from "../webhooks/routes.js";
import { scheduleDelivery } from "../webhooks/schedule-events.js";
import { claimSlot, recordedSchedules } from "./schedule-store.js";

export interface ScheduleRunnerOptions {
  db: Database;
  /** This server's node identity, recorded with its claims. */
  owner: string;
  clock: Clock;
  /** The longest wait between passes (HODEI_SCHEDULE_POLL_MS); 0: no passes at all. */
  pollMs: number;
  log?: (message: string) => void;
}

export interface FiredSlot {
  repo: string;
  branch: string;
  cron: string;
  slot: Date;
  deliveryId: string;
}

export interface SchedulePass {
  /** Slots this pass claimed (and stored deliveries for). */
  fired: FiredSlot[];
  /** When the next pass is due: the next slot of any schedule, or a poll. */
  nextAt: Date;
}

export class ScheduleRunner {
  private cancelTimer: (() => void) | null = null;
  private running: Promise<SchedulePass> | null = null;
  private queued: Promise<SchedulePass> | null = null;
  private stopped = false;
  /** The last pass failed because the store was unavailable: said once per outage. */
  private storeDown = false;
  private armed = 0;

  constructor(private readonly options: ScheduleRunnerOptions) {}

  /** The first pass at once; nothing when `pollMs` is 0. */
  start(): void {
    if (this.options.pollMs > 0) this.arm(0);
  }

  /** Schedules changed: a pass now, to fire or time what is new. */
  wake(): void {
    if (this.options.pollMs > 0 && !this.stopped) this.arm(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    await this.queued?.catch(() => undefined);
    await this.running?.catch(() => undefined);
  }

  /** Resolves when no pass is under way. */
  async idle(): Promise<void> {
    await this.queued?.catch(() => undefined);
    await this.running?.catch(() => undefined);
  }

  /** A pass that reads the store after this call: joins one not yet started, else follows the one under way. */
  pass(): Promise<SchedulePass> {
    if (this.queued) return this.queued;
    const begin = (): Promise<SchedulePass> => {
      const p = this.runPass().finally(() => {
        if (this.running === p) this.running = null;
      });
      this.running = p;
      return p;
    };
    if (!this.running) return begin();
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return begin();
      });
    return this.queued;
  }

  /** One timer at a time: a pass re-arms only if nothing armed a newer one (`wake`) while it ran. */
  private arm(ms: number): void {
    this.cancelTimer?.();
    const generation = ++this.armed;
    const again = (next: number): void => {
      if (!this.stopped && generation === this.armed) this.arm(next);
    };
    this.cancelTimer = this.options.clock.setTimer(() => {
      this.cancelTimer = null;
      void this.pass().then(
        (r) => {
          this.storeDown = false;
          again(r.nextAt.getTime() - this.options.clock.now().getTime());
        },
        (error: unknown) => {
          const failure = passFailureLine(error, this.storeDown);
          if (failure.line) this.log(failure.line);
          this.storeDown = failure.storeDown;
          again(this.options.pollMs);
        },
      );
    }, Math.max(0, ms));
  }

  private async runPass(): Promise<SchedulePass> {
    const { db, clock, owner, pollMs } = this.options;
    const now = clock.now();
    let wakeAt = now.getTime() + pollMs;
    const fired: FiredSlot[] = [];
    for (const s of await recordedSchedules(db)) {
      if (this.stopped) break;
      try {
        const slot = newestSlotAtOrBefore(s, now);
        if (slot && slot > s.since && (s.lastSlot === null || slot > s.lastSlot)) {
          const delivery = scheduleDelivery({ ...s, slot });
          const notify = { channel: DELIVERY_CHANNEL, payload: `${delivery.forge}:${delivery.deliveryId}` };
          if (await claimSlot(db, { ...s, slot }, delivery, { owner, at: now }, notify)) {
            fired.push({ repo: s.repo, branch: s.branch, cron: s.cron, slot, deliveryId: delivery.deliveryId });
            this.log(`${s.forge} ${s.repo}: schedule "${s.cron}" (${s.timezone}) of ${s.branch} fired for ${slot.toISOString()}`);
          }
        }
        const next = nextSlotAfter(s, now);
        if (next) wakeAt = Math.min(wakeAt, next.getTime());
      } catch (error) {
        // One bad row (a cron this croner no longer reads) does not stop the others.
        this.log(`${s.forge} ${s.repo}: schedule "${s.cron}": ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { fired, nextAt: new Date(wakeAt) };
  }

  private log(message: string): void {
    this.options.log?.(`scheduler: ${message}`);
  }
}
