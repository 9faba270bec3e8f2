/**
 * What the per-attempt provisioners (docker, kubernetes) share: the attempts
 * this process brought up an agent for, each with the handle of what runs it
 * (a container id, a pod name); the deadline for its agent to connect; ending
 * an attempt once, with a reason; and what to do with what the listing of
 * this store's containers or pods finds (`reconcile`): at start-up, re-adopt
 * this control plane's own whose attempt is still leased or running and
 * remove its others; at any time, remove those whose attempt is over. What
 * another live control plane of the store provisioned for an attempt that is
 * not over is left alone.
 */
import { attemptLabel } from "../engine/agent-pool.js";
import type { AttemptRef } from "../engine/ports.js";
import type { ProvisionerHooks } from "./provider.js";

export interface ProvisionedAttempt<H> {
  readonly ref: AttemptRef;
  /** What runs the agent, once it exists. */
  handle: H | null;
  released: boolean;
  timer: NodeJS.Timeout | null;
}

/** A container or pod a listing found. */
export interface FoundObject<H> {
  handle: H;
  /** From its labels; null when they are incomplete (it is removed). */
  ref: AttemptRef | null;
  /** Provisioned by this control plane (label hodei.owner). */
  mine: boolean;
  /** Its agent can still be running (container running, pod phase Running). */
  running: boolean;
}

export interface ProvisionedAttemptsOptions<H> {
  provider: string;
  hooks: ProvisionerHooks;
  provisionTimeoutMs: number;
  /** Removes what runs an agent (and what else its attempt `ref` has, such as services); one that is gone already is not an error. */
  destroy(handle: H, ref: AttemptRef | null): Promise<void>;
  /** Appended to the reason when the agent did not connect in time (its output, the pod's name). */
  silentDetail(t: ProvisionedAttempt<H>): Promise<string>;
  /** Starts watching what an earlier process left and this one re-adopted. */
  watchAdopted(t: ProvisionedAttempt<H>): void;
}

export class ProvisionedAttempts<H> {
  private readonly byAttempt = new Map<string, ProvisionedAttempt<H>>();
  private stopping = false;

  constructor(private readonly options: ProvisionedAttemptsOptions<H>) {}

  get stopped(): boolean {
    return this.stopping;
  }

  /**
   * Tracks a new attempt and starts its connection deadline; null when it is
   * tracked already (re-adopted after a restart) or the provider is stopping.
   */
  begin(ref: AttemptRef): ProvisionedAttempt<H> | null {
    const key = attemptLabel(ref);
    if (this.byAttempt.has(key) || this.stopping) return null;
    const t: ProvisionedAttempt<H> = { ref, handle: null, released: false, timer: null };
    this.byAttempt.set(key, t);
    const timeoutMs = this.options.provisionTimeoutMs;
    t.timer = setTimeout(() => void this.checkConnected(t, timeoutMs), timeoutMs);
    t.timer.unref();
    return t;
  }

  /**
   * Starts the connection deadline again, `extraMs` later than usual: what
   * comes before the agent's start (services getting ready) does not count
   * against it.
   */
  restartDeadline(t: ProvisionedAttempt<H>, extraMs = 0): void {
    if (t.released || t.timer === null) return;
    clearTimeout(t.timer);
    const timeoutMs = this.options.provisionTimeoutMs;
    t.timer = setTimeout(() => void this.checkConnected(t, timeoutMs), timeoutMs + extraMs);
    t.timer.unref();
  }

  get(ref: AttemptRef): ProvisionedAttempt<H> | undefined {
    return this.byAttempt.get(attemptLabel(ref));
  }

  release(ref: AttemptRef): void {
    const t = this.get(ref);
    if (t) void this.remove(t);
  }

  /** Ends the attempt with `reason` (once) and removes what runs it. */
  fail(t: ProvisionedAttempt<H>, reason: string): void {
    if (t.released) return;
    this.log(`${attemptLabel(t.ref)}: ${reason}`);
    void this.remove(t);
    this.options.hooks.failed(t.ref, this.options.provider, reason);
  }

  async remove(t: ProvisionedAttempt<H>): Promise<void> {
    t.released = true;
    if (t.timer) clearTimeout(t.timer);
    t.timer = null;
    if (this.byAttempt.get(attemptLabel(t.ref)) === t) this.byAttempt.delete(attemptLabel(t.ref));
    if (t.handle !== null) await this.options.destroy(t.handle, t.ref);
  }

  /** Removes everything tracked. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.byAttempt.values()].map((t) => this.remove(t)));
  }

  /** Forgets everything tracked without removing it: what a process that dies leaves behind (tests). */
  detach(): void {
    this.stopping = true;
    for (const t of this.byAttempt.values()) if (t.timer) clearTimeout(t.timer);
    this.byAttempt.clear();
  }

  /** Re-adopts, removes or leaves alone each object found (see the module comment). */
  async reconcile(found: readonly FoundObject<H>[], startup: boolean): Promise<{ adopted: number; removed: number }> {
    let adopted = 0;
    let removed = 0;
    for (const o of found) {
      const tracked = o.ref ? this.get(o.ref) : undefined;
      const status = o.ref ? await this.options.hooks.attemptStatus(o.ref) : "over";
      if (tracked && tracked.handle === o.handle) {
        if (status === "over") await this.remove(tracked);
        continue;
      }
      if (o.ref && startup && o.mine && status === "taken" && o.running && !tracked && !this.stopping) {
        const t: ProvisionedAttempt<H> = { ref: o.ref, handle: o.handle, released: false, timer: null };
        this.byAttempt.set(attemptLabel(o.ref), t);
        this.options.watchAdopted(t);
        adopted++;
      } else if (status === "over" || (startup && o.mine)) {
        await this.options.destroy(o.handle, o.ref);
        removed++;
      }
    }
    return { adopted, removed };
  }

  private async checkConnected(t: ProvisionedAttempt<H>, timeoutMs: number): Promise<void> {
    t.timer = null;
    if (t.released || (await this.options.hooks.attemptStatus(t.ref)) !== "waiting") return;
    this.fail(t, `the agent did not connect within ${Math.round(timeoutMs / 1000)} s of provisioning${await this.options.silentDetail(t)}`);
  }

  private log(message: string): void {
    this.options.hooks.log(`${this.options.provider} provider: ${message}`);
  }
}
