/**
 * Webhooks in, reports out, wired together for the control plane: the git
 * sources (the engine's resolveSource), the forge adapters, the reporter
 * (an engine listener), the triggers and the delivery processor.
 */
import path from "node:path";
import type { Engine } from "../engine/engine.js";
import type { Forge, ForgeKind } from "../forge/forge.js";
import { GiteaForge, type GiteaForgeOptions } from "../forge/gitea.js";
import { GithubForge, type GithubForgeOptions } from "../forge/github.js";
import { postStageCheck } from "../forge/check-post.js";
import { OutboxWorker } from "../forge/outbox-worker.js";
import type { ReportBackoff } from "../forge/report-backoff.js";
import { ForgeReporter, target } from "../forge/reporter.js";
import type { RetryPolicy } from "../forge/retry.js";
import { GitMirrors, type GitTimeouts } from "../git/mirror.js";
import { startSpawnHelper } from "../git/spawn-helper.js";
import type { Tracing } from "../observability/tracing.js";
import type { Database } from "../store/database.js";
import { RunRepository } from "../store/run-repository.js";
import { DeliveryProcessor } from "../webhooks/processor.js";
import type { Clock } from "../engine/ports.js";
import { systemClock } from "../engine/system-clock.js";
import { PushReconciler } from "./push-reconciler.js";
import { ScheduleRunner } from "./schedule-runner.js";
import { GitSources } from "./git-sources.js";
import { runTrigger } from "./run-index.js";
import { TriggerService } from "./trigger-service.js";

export interface ForgeSettings {
  /** Base of the links posted to forges (HODEI_PUBLIC_URL). */
  publicUrl: string;
  allowFileRepos: boolean;
  github?: GithubForgeOptions;
  gitea?: GiteaForgeOptions;
  /** Retries of the one-off `validate` check of a pipeline file that does not validate. */
  retry?: RetryPolicy;
  /** Backoff of a stage check the forge did not take (cap: HODEI_FORGE_REPORT_MAX_BACKOFF_MS). */
  reportBackoff?: ReportBackoff;
  /** How often the outbox is reconciled with the runs' history (HODEI_FORGE_RECONCILE_MS). */
  reconcileMs?: number;
  /** How long a webhook delivery's claim holds unless its server renews it (HODEI_WEBHOOK_CLAIM_MS). */
  webhookClaimMs?: number;
  /** Time limits of git processes (HODEI_GIT_TIMEOUT_MS, HODEI_GIT_LOCAL_TIMEOUT_MS). */
  gitTimeouts?: GitTimeouts;
  /** The push reconciler (push-reconciler.ts); off when absent (`hodei server` passes HODEI_RECONCILE_*). */
  reconcile?: ReconcileSettings;
  /** The scheduler of `on.schedule` (schedule-runner.ts); on, polling every minute, when absent. */
  schedules?: ScheduleSettings;
}

export interface ScheduleSettings {
  /** HODEI_SCHEDULE_POLL_MS: the longest wait between passes; 0 turns schedules off. */
  pollMs: number;
  /** Its timers and time (default: the system clock). */
  clock?: Clock;
}

export interface ReconcileSettings {
  /** HODEI_RECONCILE_INTERVAL_MS; 0 turns the reconciler off. */
  intervalMs: number;
  /** HODEI_RECONCILE_WINDOW_MS. */
  windowMs: number;
  /** HODEI_RECONCILE_MAX_REPOS. */
  maxRepos: number;
  /** Its timers and time (default: the system clock). */
  clock?: Clock;
}

/** Mirrors and per-run checkouts under the data directory. */
export function createGitSources(dataDir: string, allowFileRepos: boolean, timeouts?: GitTimeouts): GitSources {
  return new GitSources(new GitMirrors({ root: path.join(dataDir, "mirrors"), allowFileRepos, timeouts }), path.join(dataDir, "checkouts"));
}

export class ForgeIntegration {
  private processor: DeliveryProcessor | null = null;

  private constructor(
    readonly reporter: ForgeReporter,
    readonly outbox: OutboxWorker,
    private readonly startProcessor: () => DeliveryProcessor,
    private readonly log: (m: string) => void,
    /** Finds heads whose webhook never came (push-reconciler.ts). */
    readonly reconciler: PushReconciler,
    /** Fires the slots of `on.schedule` (schedule-runner.ts). */
    readonly scheduler: ScheduleRunner,
    private readonly unsubscribe: (() => void)[],
  ) {}

  /**
   * The forges, the reporter and the outbox, the reporter and the git
   * sources subscribed to the engine: call before the engine resumes runs,
   * so no event of a resumed run is missed. Nothing runs until `start`.
   */
  static create(args: {
    db: Database;
    engine: Engine;
    sources: GitSources;
    settings: ForgeSettings;
    log: (m: string) => void;
    /** This server's node identity, the owner of its webhook claims and outbox claims. */
    owner: string;
    tracing?: Pick<Tracing, "spans" | "deliveryHandler">;
  }): ForgeIntegration {
    const { db, engine, sources, settings, log, owner, tracing } = args;
    const forges: Partial<Record<ForgeKind, Forge>> = {};
    if (settings.github) forges.github = new GithubForge(settings.github);
    if (settings.gitea) forges.gitea = new GiteaForge(settings.gitea);
    const onError = (error: unknown, context: string) => log(`forge: ${context}: ${error instanceof Error ? error.message : String(error)}`);
    const runs = new RunRepository(db);
    const outbox = new OutboxWorker({
      db,
      owner,
      forges: Object.keys(forges) as ForgeKind[],
      loadRun: (runId) => runs.load(runId),
      post: (state, stageId) => postStageCheck({ db, forges, publicUrl: settings.publicUrl }, state, stageId),
      backoff: settings.reportBackoff,
      reconcileMs: settings.reconcileMs,
      log,
    });
    const reporter = new ForgeReporter({ db, forges, publicUrl: settings.publicUrl, retry: settings.retry, onError, onRecorded: () => outbox.wake() });
    const unsubscribe = [engine.subscribe(reporter), engine.subscribe(sources)];
    // Fetch credentials from the run's own trigger (its history), asked for when a fetch needs them.
    sources.useAuth(async (runId) => {
      const trigger = await runTrigger(db, runId);
      const forge = trigger ? forges[trigger.forge] : undefined;
      return trigger && forge ? forge.cloneAuth(target(trigger)) : null;
    });
    const schedules = settings.schedules ?? { pollMs: 60_000 };
    const scheduler = new ScheduleRunner({ db, owner, clock: schedules.clock ?? systemClock, pollMs: schedules.pollMs, log });
    const startProcessor = () => {
      const triggers = new TriggerService({ db, engine, sources, reporter, forges, spans: tracing?.spans, onSchedules: () => scheduler.wake() });
      return new DeliveryProcessor({
        db,
        owner,
        claimMs: settings.webhookClaimMs,
        handle: tracing ? tracing.deliveryHandler(triggers.handle) : triggers.handle,
        onError: (error, d) => onError(error, `${d.forge} delivery ${d.deliveryId} (${d.event})`),
      });
    };
    const reconcile = settings.reconcile ?? { intervalMs: 0, windowMs: 0, maxRepos: 0 };
    const reconciler = new PushReconciler({ db, forges, owner, clock: reconcile.clock ?? systemClock, ...reconcile, log });
    return new ForgeIntegration(reporter, outbox, startProcessor, log, reconciler, scheduler, unsubscribe);
  }

  /** Starts the outbox (reconciled first) and the webhook processing; after the engine started. */
  async start(): Promise<void> {
    // Webhooks mean git processes per push: the helper that starts them is started now, not on the first push.
    startSpawnHelper();
    await this.outbox.start();
    this.processor = this.startProcessor();
    const { recovered } = await this.processor.start();
    if (recovered > 0) this.log(`Re-queued ${recovered} webhook delivery(ies) whose claim lapsed or was this server's before it restarted`);
    // After the processor listens: what the reconciler and the scheduler store is picked up at once.
    this.reconciler.start();
    this.scheduler.start();
  }

  /** Resolves when no scheduler pass is under way, no delivery is being handled and no report is pending. */
  async idle(): Promise<void> {
    await this.scheduler.idle();
    await this.processor?.idle();
    await this.reporter.idle();
    await this.outbox.idle();
  }

  async stop(): Promise<void> {
    await this.scheduler.stop();
    await this.reconciler.stop();
    await this.processor?.stop();
    for (const u of this.unsubscribe) u();
    await this.reporter.stop();
    await this.outbox.stop();
  }
}
