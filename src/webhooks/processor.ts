/**
 * Works off stored deliveries after the forge has its answer. Wakes on the
 * NOTIFY the intake sends (a latency hint), at start, and whenever claims
 * whose owner stopped renewing them are re-queued. A claim names this
 * server (`owner`) and holds for `claimMs`; it is renewed while the delivery
 * is held here, so several servers share one queue and none takes a live
 * claim. At most `maxInFlight` deliveries are held at once: processing never
 * grows without bound under a burst, and leaves the store to the intake. Deliveries of one
 * repository are handled one at a time in arrival order, so a pull request's
 * `synchronize` never overtakes its `opened`; repositories run in parallel.
 */
import { recordVisibilityFromPayload } from "../access/repo-visibility.js";
import { storeUnavailableReason } from "../store/store-unavailable.js";
import { KeyedQueue } from "../engine/keyed-queue.js";
import type { Database, Unlisten } from "../store/database.js";
import { claimDeliveries, finishDelivery, releaseLapsedClaims, renewClaims, type DeliveryKey, type StoredDelivery } from "./delivery-store.js";
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
  /** This server's node identity: whose claims are whose. */
  owner: string;
  /** How long a claim holds without renewal (default 60 s); renewed every third of it. */
  claimMs?: number;
  /** Deliveries claimed and not yet finished, at most (default 16). */
  maxInFlight?: number;
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
  /** Claimed here and not finished, by delivery key: what renewal keeps alive. */
  private readonly held = new Map<string, StoredDelivery>();
  /** Held deliveries whose outcome is being written: a renewal that misses them lost nothing. */
  private readonly finishing = new Set<string>();
  private interval: NodeJS.Timeout | null = null;

  constructor(private readonly options: DeliveryProcessorOptions) {}

  /**
   * Re-queues claims that lapsed and those an earlier process under this
   * identity left half-done, listens for new deliveries, and drains; then
   * renews its own claims and frees lapsed ones periodically.
   */
  async start(): Promise<{ recovered: number }> {
    const recovered = await releaseLapsedClaims(this.options.db, this.now(), this.options.owner);
    this.unlisten = await this.options.db.listen(DELIVERY_CHANNEL, () => this.wake());
    this.wake();
    let ticks = 0;
    this.interval = setInterval(() => {
      // Renew every third of the claim's time, sweep every other time.
      void this.renew().then(() => (++ticks % 2 === 0 ? this.sweep() : 0));
    }, Math.max(10, Math.floor(this.claimMs() / 3)));
    this.interval.unref();
    return { recovered };
  }

  /** Moves the expiry of every claim held here; one this server lost meanwhile is reported. */
  async renew(): Promise<void> {
    const keys: DeliveryKey[] = [...this.held.values()].map((d) => ({ forge: d.forge, deliveryId: d.deliveryId }));
    if (keys.length === 0) return;
    try {
      const kept = new Set((await renewClaims(this.options.db, this.options.owner, keys, this.expiry())).map(keyOf));
      for (const k of keys) {
        const d = this.held.get(keyOf(k));
        if (d && !kept.has(keyOf(k)) && !this.finishing.has(keyOf(k))) this.report(new ClaimLostError(k, this.options.owner), d);
      }
    } catch (error) {
      if (!this.stopped) this.report(error, null);
    }
  }

  /** Re-queues claims (anyone's) whose expiry lapsed, and works them off. */
  async sweep(): Promise<number> {
    try {
      const released = await releaseLapsedClaims(this.options.db, this.now());
      if (released > 0) this.wake();
      return released;
    } catch (error) {
      if (!this.stopped) this.report(error, null);
      return 0;
    }
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
    if (this.interval) clearInterval(this.interval);
    for (const t of this.timers) clearTimeout(t);
    await this.unlisten?.();
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (;;) {
      const room = Math.min(20, (this.options.maxInFlight ?? 16) - this.held.size);
      if (room <= 0) return;
      let batch: StoredDelivery[];
      try {
        const at = this.now();
        batch = await claimDeliveries(this.options.db, room, { owner: this.options.owner, at, expiresAt: this.expiry(at) });
      } catch (error) {
        if (!this.stopped) this.report(error, null);
        return;
      }
      if (batch.length === 0) return;
      for (const d of batch) {
        this.held.set(keyOf(d), d);
        void this.queue.run(repoKey(d), () => this.process(d)).finally(() => {
          this.held.delete(keyOf(d));
          this.finishing.delete(keyOf(d));
          // Room again for a claim: pick up what waited.
          this.wake();
        });
      }
      if (this.stopped) return;
    }
  }

  private async process(d: StoredDelivery): Promise<void> {
    const key = { forge: d.forge, deliveryId: d.deliveryId };
    try {
      const result = await this.options.handle(d);
      // Which repositories are public, for HODEI_PUBLIC_READ; never a reason to process the delivery again.
      await recordVisibilityFromPayload(this.options.db, d.forge, d.payload, this.now()).catch((e: unknown) => this.report(e, d));
      this.finishing.add(keyOf(d));
      if (!(await finishDelivery(this.options.db, key, this.options.owner, result.status, result.outcome, this.now()))) {
        this.report(new ClaimLostError(key, this.options.owner), d);
      }
    } catch (error) {
      this.report(error, d);
      this.finishing.add(keyOf(d));
      const max = this.options.maxAttempts ?? 3;
      const message = error instanceof Error ? error.message : String(error);
      const retry = d.attempts < max && !this.stopped;
      await finishDelivery(this.options.db, key, this.options.owner, retry ? "pending" : "failed", `attempt ${d.attempts}: ${message}`, this.now()).catch(
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
    else {
      const what = d ? `${d.forge} delivery ${d.deliveryId}` : "claiming deliveries";
      // An unavailable store is one line (deliveries wait in it and are claimed when it answers), not a stack.
      const unavailable = storeUnavailableReason(error);
      if (unavailable) console.error(`hodei webhooks: ${what}: the store is unavailable (${unavailable}); trying again later`);
      else console.error(`hodei webhooks: ${what}:`, error);
    }
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private claimMs(): number {
    return this.options.claimMs ?? 60_000;
  }

  private expiry(at: Date = this.now()): Date {
    return new Date(at.getTime() + this.claimMs());
  }
}

/** A claim this server held lapsed (it did not renew it in time) and was re-queued or taken over. */
export class ClaimLostError extends Error {
  constructor(
    readonly delivery: DeliveryKey,
    readonly owner: string,
  ) {
    super(`the claim of ${owner} on ${delivery.forge} delivery ${delivery.deliveryId} lapsed before it was finished`);
    this.name = "ClaimLostError";
  }
}

function keyOf(k: DeliveryKey): string {
  return `${k.forge}:${k.deliveryId}`;
}

/** Deliveries of one repository are handled in order. */
function repoKey(d: StoredDelivery): string {
  const payload = d.payload as { repository?: { full_name?: unknown } } | null;
  const name = payload?.repository?.full_name;
  return `${d.forge}:${typeof name === "string" ? name : ""}`;
}
