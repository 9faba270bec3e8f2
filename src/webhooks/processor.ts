/**
 * Works off stored deliveries after the forge has its answer. Wakes on the
 * NOTIFY the intake sends (a latency hint) and at start, when deliveries a
 * crashed process left behind are picked up again. Deliveries of one
 * repository are handled one at a time in arrival order, so a pull request's
 * `synchronize` never overtakes its `opened`; repositories run in parallel.
 */
import { KeyedQueue } from "../engine/keyed-queue.js";
import type { Database, Unlisten } from "../store/database.js";
import { claimDeliveries, finishDelivery, releaseAbandoned, type StoredDelivery } from "./delivery-store.js";
import { DELIVERY_CHANNEL } from "./routes.js";

export interface DeliveryResult {
  status: "done" | "ignored";
  /** What came of it, for the record: "started run X", "ignored: tag deleted". */
  outcome: string;
}

export type DeliveryHandler = (delivery: StoredDelivery) => Promise<DeliveryResult>;

export interface DeliveryProcessorOptions {
  db: Database;
  handle: DeliveryHandler;
  /** Attempts before a delivery whose handling keeps throwing is marked failed. */
  maxAttempts?: number;
  /** Delay before a failed attempt is tried again, times the attempt number. */
  retryDelayMs?: number;
  now?: () => Date;
  onError?: (error: unknown, delivery: StoredDelivery) => void;
}

export class DeliveryProcessor {
  private readonly queue = new KeyedQueue();
  private unlisten: Unlisten | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: DeliveryProcessorOptions) {}

  /** Re-queues deliveries a previous process left half-done, listens for new ones, and drains. */
  async start(): Promise<{ recovered: number }> {
    const recovered = await releaseAbandoned(this.options.db);
    this.unlisten = await this.options.db.listen(DELIVERY_CHANNEL, () => this.wake());
    this.wake();
    return { recovered };
  }

  wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves when nothing is claimed or being handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
    await this.queue.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await this.unlisten?.();
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (;;) {
      let batch: StoredDelivery[];
      try {
        batch = await claimDeliveries(this.options.db, 20, this.now());
      } catch (error) {
        if (!this.stopped) this.report(error, null);
        return;
      }
      if (batch.length === 0) return;
      for (const d of batch) void this.queue.run(repoKey(d), () => this.process(d));
      if (this.stopped) return;
    }
  }

  private async process(d: StoredDelivery): Promise<void> {
    const key = { forge: d.forge, deliveryId: d.deliveryId };
    try {
      const result = await this.options.handle(d);
      await finishDelivery(this.options.db, key, result.status, result.outcome, this.now());
    } catch (error) {
      this.report(error, d);
      const max = this.options.maxAttempts ?? 3;
      const message = error instanceof Error ? error.message : String(error);
      const retry = d.attempts < max && !this.stopped;
      await finishDelivery(this.options.db, key, retry ? "pending" : "failed", `attempt ${d.attempts}: ${message}`, this.now()).catch(
        (e: unknown) => this.report(e, d),
      );
      if (retry) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.wake();
        }, (this.options.retryDelayMs ?? 1000) * d.attempts);
        timer.unref();
        this.timers.add(timer);
      }
    }
  }

  private report(error: unknown, d: StoredDelivery | null): void {
    if (d && this.options.onError) this.options.onError(error, d);
    else console.error(`hodei webhooks: ${d ? `${d.forge} delivery ${d.deliveryId}` : "claiming deliveries"}:`, error);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** Deliveries of one repository are handled in order. */
function repoKey(d: StoredDelivery): string {
  const payload = d.payload as { repository?: { full_name?: unknown } } | null;
  const name = payload?.repository?.full_name;
  return `${d.forge}:${typeof name === "string" ? name : ""}`;
}
