/**
 * The agent: registers with the control plane, holds one stream to it, runs
 * what it is assigned and reports back. It only ever dials out.
 *
 * Reports wait in an outbox until the server acknowledges them, so a stream
 * that breaks mid-stage loses nothing: the agent reconnects with backoff and
 * re-sends, and the server drops what it already has (by log seq and by the
 * attempt's state). The outbox is bounded: when an attempt's unacknowledged
 * log bytes pass `maxUnackedLogBytes`, the stage's output pipes are paused
 * until acknowledgements come (flow control), so a stage printing without
 * end cannot exhaust the agent's memory, connected or not.
 *
 * Identity: with `caPem`, registration runs over TLS that checks the server
 * against that CA, and sends a CSR for a key made here; every later call is
 * mutual TLS with the certificate the server returns.
 */
import { hostname } from "node:os";
import * as grpc from "@grpc/grpc-js";
import {
  AGENT_ID_METADATA_KEY,
  SESSION_METADATA_KEY,
  protocolMetadata,
  type AgentMessage,
  type AgentServiceClient,
  type AssignmentMessage,
  type AttemptRefMessage,
  type PeerMessage,
  type RegisterResponse,
  type ServerMessage,
} from "../grpc/protocol.js";
import { createKeyAndCsr } from "../pki/csr.js";
import { runAttempt } from "./attempt.js";
import { GroupWatchdog } from "./group-watchdog.js";
import { LeaseWatchdog } from "./lease-watchdog.js";
import { LogBatcher } from "./log-batcher.js";
import { ATTEMPT_LABEL } from "../engine/agent-pool.js";
import { RunFilesCache } from "./run-files-cache.js";
import { serverClient, type ClientIdentity } from "./server-channel.js";
import { baseEnvironment, type StageResult } from "./stage-process.js";
import { WarmShells } from "./warm-shell.js";

/** How long a stage runs before the agent reports its start; one that ends sooner reports only its result. */
export const STARTED_REPORT_DELAY_MS = 10;
/** How long a stage's first output waits for more, or for the stage's end, before it is sent. */
export const FIRST_OUTPUT_DELAY_MS = 5;

export interface AgentOptions {
  server: string;
  token: string;
  labels?: Record<string, string>;
  capacity?: number;
  /** The server's CA (PEM): TLS and then mTLS. Without it, plaintext (only for servers without TLS). */
  caPem?: string;
  log?: (message: string) => void;
  /** Flow control bound per attempt (default 1 MiB). */
  maxUnackedLogBytes?: number;
  /** How long a draining agent tries to deliver its reports before it exits anyway (default 60 s). */
  drainPatienceMs?: number;
}

/** The server refused the agent for good (bad token, wrong protocol): retrying cannot help. */
export class AgentRefusedError extends Error {
  readonly retryable = false;
  constructor(
    readonly code: grpc.status,
    details: string,
  ) {
    super(details);
    this.name = "AgentRefusedError";
  }
}

interface RunningAttempt {
  ref: AttemptRefMessage;
  abort: AbortController;
  /** Reports not yet acknowledged, in the order they were made. */
  outbox: AgentMessage[];
  /** Bytes of log data in the outbox. */
  unackedBytes: number;
  /** Called when acknowledgements free room in the outbox. */
  wakers: (() => void)[];
  done: Promise<void>;
  /** Killed by the self-fencing deadline: reports nothing more, its lease lapses on the server. */
  fenced: boolean;
}

const DEFAULT_DRAIN_PATIENCE_MS = 60_000;

const key = (r: AttemptRefMessage) => `${r.runId}/${r.stageId}/${r.attempt}`;

export class Agent {
  /** Server-authenticated only: for Register. */
  private readonly registrar: AgentServiceClient;
  /** Mutual TLS with the issued certificate, once registered. */
  private client: AgentServiceClient | null = null;
  private readonly log: (message: string) => void;
  private readonly maxUnacked: number;
  private readonly drainPatienceMs: number;
  private readonly attempts = new Map<string, RunningAttempt>();
  /** None for an agent provisioned for one attempt: a copy of what it fetches once would only cost. */
  private readonly files: RunFilesCache | null;
  private readonly shells = new WarmShells(() => baseEnvironment());
  private session: RegisterResponse | null = null;
  private stream: grpc.ClientDuplexStream<AgentMessage, ServerMessage> | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private watchdog: LeaseWatchdog | null = null;
  private groups: GroupWatchdog | null = null;
  private stopping = false;
  private draining = false;
  private drainingSince = 0;
  /** When the current stream was opened (0: none): a draining agent's idle exit waits on it (stopWhenIdle). */
  private streamOpenSince = 0;
  /** A server gave this agent an id once: attempts may be leased to it. */
  private registered = false;
  /** The key and certificate of this agent's registration, for every server it dials. */
  private identity: ClientIdentity | null = null;
  /** The other control planes sharing its server's store, as the server said (fail-over). */
  private peers: PeerMessage[] = [];
  /** Which server the client dials: 0 is `options.server`, n is peers[n - 1]. */
  private target = 0;
  /** Since when no server could be reached (0: connected, or never tried). */
  private unreachableSince = 0;

  constructor(private readonly options: AgentOptions) {
    this.registrar = serverClient(options.server, options.caPem ?? null);
    this.log = options.log ?? ((m) => console.error(`hodei agent: ${m}`));
    this.maxUnacked = options.maxUnackedLogBytes ?? 1024 * 1024;
    this.drainPatienceMs = options.drainPatienceMs ?? DEFAULT_DRAIN_PATIENCE_MS;
    this.files = options.labels?.[ATTEMPT_LABEL] === undefined ? new RunFilesCache() : null;
  }

  /** Runs until `stop()`; rejects with AgentRefusedError when the server will never accept it. */
  async run(): Promise<void> {
    let backoff = 100;
    while (!this.stopping) {
      try {
        this.session ??= await this.register();
        this.registered = true;
        await this.connectOnce(() => {
          backoff = 100;
          this.unreachableSince = 0;
        });
      } catch (error) {
        if (error instanceof AgentRefusedError) throw error;
        const e = error as grpc.ServiceError;
        // A server that restarted no longer knows this session: register again
        // (with its own server only: a peer never takes a registration token of it).
        if (e.code === grpc.status.UNAUTHENTICATED && this.target === 0) this.session = null;
        this.unreachableSince ||= Date.now();
        this.failOver();
        if (this.stopping) break;
        // A draining agent whose server never comes back cannot deliver anything: give up.
        if (this.drainedOut()) {
          this.log("draining, and the server has not come back; exiting");
          await this.stop();
          break;
        }
        this.log(`connection lost (${e.details ?? e.message}); retrying in ${backoff} ms`);
      }
      if (this.stopping) break;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  /**
   * Stops once every running attempt has finished and its reports have been
   * acknowledged, and no server re-sends it anything (stopWhenIdle); until
   * then it keeps reconnecting to deliver them.
   */
  drain(): Promise<void> {
    if (this.draining) return Promise.resolve();
    this.draining = true;
    this.drainingSince = Date.now();
    // Whatever the connection does (a call that never answers included), a
    // draining agent is gone once its patience is over.
    setTimeout(() => {
      if (this.stopping) return;
      this.log(`draining for ${this.drainPatienceMs / 1000} s, its patience; exiting`);
      void this.stop();
    }, this.drainPatienceMs + 1_000).unref();
    return this.stopWhenIdle();
  }

  /**
   * A draining agent with nothing to run leaves once a server has had it
   * connected for a whole lease period without re-sending anything: an
   * attempt its dead server leased to it but never pushed (a crash between
   * storing the lease and sending it) is re-sent by the next server when the
   * agent connects or when it adopts the run, and would be recorded lost if
   * the agent had left at once.
   */
  private async stopWhenIdle(): Promise<void> {
    if (this.attempts.size > 0 || this.stopping) return;
    // One that never registered holds no lease: nothing can come for it.
    if (!this.registered) return this.stop();
    const stream = this.stream;
    const settle = this.session?.leaseMs;
    // Counted on a stream opened since the drain began: the one to the server that died does not count.
    const since = Math.max(this.streamOpenSince, this.drainingSince);
    if (settle === undefined || !stream || !this.streamOpenSince || Date.now() - since < settle) return;
    this.log(`draining: connected for ${settle / 1000} s with nothing to run; exiting`);
    await this.stop();
  }

  /** Cancels running attempts, waits for their reports to be sent, and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.shells.stop();
    for (const a of this.attempts.values()) a.abort.abort("agent stopping");
    await Promise.all([...this.attempts.values()].map((a) => a.done));
    // Cancel rather than half-close: a server that never ends its side must not keep us alive.
    this.stream?.cancel();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.watchdog?.stop();
    this.groups?.stop();
    this.client?.close();
    this.registrar.close();
    await this.files?.dispose();
  }

  private async register(): Promise<RegisterResponse> {
    const { keyPem, csrPem } = createKeyAndCsr(hostname());
    const response = await new Promise<RegisterResponse>((resolve, reject) => {
      this.registrar.register(
        {
          token: this.options.token,
          hostname: hostname(),
          labels: this.options.labels ?? {},
          capacity: this.options.capacity ?? 1,
          csrPem,
        },
        protocolMetadata(),
        (error, response) => {
          if (error) {
            const fatal = error.code === grpc.status.UNAUTHENTICATED || error.code === grpc.status.FAILED_PRECONDITION;
            return reject(fatal ? new AgentRefusedError(error.code, error.details) : error);
          }
          resolve(response!);
        },
      );
    });
    this.identity = { keyPem, certificatePem: response.certificatePem };
    this.target = 0;
    this.dial();
    return response;
  }

  /** (Re)creates the client for the current target, with this agent's identity. */
  private dial(): void {
    const peer = this.target > 0 ? this.peers[this.target - 1] : undefined;
    const address = peer?.address ?? this.options.server;
    const caPem = peer ? peer.caPem : (this.options.caPem ?? null);
    this.client?.close();
    this.client = serverClient(address, caPem, this.identity ?? undefined);
  }

  /**
   * Fail-over: its server cannot be reached, so the agent tries the next of
   * the peers its server told it of (and its own server again after them).
   * A draining agent's server is gone for sure: it moves on at once. Any
   * other waits a lease period first: a server that is only restarting
   * comes back at the same address, and until then it, not a peer, holds
   * the leases of what this agent runs.
   */
  private failOver(): void {
    if (this.peers.length === 0 || !this.identity) return;
    const patience = this.draining ? 0 : (this.session?.leaseMs ?? 15_000);
    if (this.target === 0 && Date.now() - this.unreachableSince < patience) return;
    this.target = (this.target + 1) % (this.peers.length + 1);
    const to = this.target > 0 ? this.peers[this.target - 1]!.address : this.options.server;
    this.log(`server unreachable; trying ${to}`);
    this.dial();
  }

  private metadata(): grpc.Metadata {
    const session = this.session;
    return protocolMetadata(session ? { [AGENT_ID_METADATA_KEY]: session.agentId, [SESSION_METADATA_KEY]: session.sessionSecret } : {});
  }

  private connected(): AgentServiceClient {
    if (!this.client) throw new Error("the agent is not registered");
    return this.client;
  }

  private connectOnce(onOpen: () => void): Promise<void> {
    const session = this.session!;
    return new Promise((resolve, reject) => {
      const stream = this.connected().connect(this.metadata());
      this.stream = stream;
      this.streamOpenSince = Date.now();
      stream.on("metadata", () => {
        onOpen();
        this.shells.refill();
      });
      stream.on("data", (message: ServerMessage) => this.onServerMessage(message));
      stream.on("error", (error) => {
        this.stream = null;
        this.streamOpenSince = 0;
        reject(error);
      });
      stream.on("end", () => {
        this.stream = null;
        this.streamOpenSince = 0;
        resolve();
      });
      // Both once, with the first session's lease: a reconnect must neither
      // forget a gap nor end the watchdog that holds the running stages.
      if (!this.watchdog) {
        const tolerance = Math.max(1, session.leaseMs - session.heartbeatIntervalMs);
        const groups = new GroupWatchdog(tolerance);
        groups.start();
        this.groups = groups;
        this.watchdog = new LeaseWatchdog(tolerance, (ms) => this.fence(ms), () => groups.pet());
        this.watchdog.start();
      }
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.beat(), session.heartbeatIntervalMs);
      this.heartbeat.unref();
      // Re-send whatever the previous stream did not get acknowledged.
      this.beat();
      for (const a of this.attempts.values()) for (const m of a.outbox) this.send(m);
    });
  }

  /**
   * The self-fencing deadline passed (this process stood still longer than
   * its leases may last): kill every attempt and report nothing more of
   * them; the server has recorded them lost or will, and retries them.
   */
  private fence(stoodStillMs: number): void {
    if (this.attempts.size === 0) return;
    this.log(`stood still for ${Math.round(stoodStillMs)} ms, longer than its leases may last: killing ${this.attempts.size} attempt(s)`);
    for (const a of this.attempts.values()) {
      a.fenced = true;
      a.outbox = [];
      a.unackedBytes = 0;
      a.abort.abort("the agent's lease lapsed while it was stopped");
      this.wake(a);
    }
  }

  private onServerMessage(message: ServerMessage): void {
    this.watchdog?.check();
    if (message.assignment) this.start(message.assignment);
    else if (message.cancel) this.attempts.get(key(message.cancel.ref))?.abort.abort(message.cancel.reason || "cancelled");
    else if (message.ack) this.acknowledge(message.ack);
    else if (message.peers) this.learnPeers(message.peers.peers);
  }

  /** The peers as the server it is connected to knows them; one it dials now stays where it is. */
  private learnPeers(peers: readonly PeerMessage[]): void {
    const current = this.target > 0 ? this.peers[this.target - 1] : undefined;
    // The server that sent them is not among them: keep a peer it dials as one.
    const next = peers.filter((p) => p.address !== current?.address);
    this.peers = current ? [current, ...next] : [...next];
    if (current) this.target = 1;
  }

  private acknowledge(ack: NonNullable<ServerMessage["ack"]>): void {
    const attempt = this.attempts.get(key(ack.ref));
    if (!attempt) return;
    if (ack.refused) {
      // The attempt is not ours any more (lease lapsed, run cancelled): stop it.
      this.log(`server refused a report for ${ack.ref.stageId}#${ack.ref.attempt}: ${ack.refused}`);
      attempt.outbox = [];
      attempt.abort.abort(ack.refused);
      this.wake(attempt);
      return;
    }
    attempt.outbox = attempt.outbox.filter((m) => {
      if (m.logs) {
        const keep = m.logs.chunks.some((c) => c.seq > ack.logsThrough);
        if (!keep) attempt.unackedBytes -= logBytes(m);
        return keep;
      }
      if (m.finished) {
        if (ack.finished) attempt.unackedBytes -= logBytes(m);
        return !ack.finished;
      }
      if (m.started) return false;
      return true;
    });
    if (attempt.unackedBytes < this.maxUnacked) this.wake(attempt);
  }

  private wake(attempt: RunningAttempt): void {
    for (const w of attempt.wakers.splice(0)) w();
  }

  private start(assignment: AssignmentMessage): void {
    const ref = assignment.ref;
    if (this.attempts.has(key(ref))) return; // re-delivered after a reconnect
    // A draining agent is an orphan to the server it reaches (no capacity for
    // new work): what it is sent is an attempt already leased to it, whose
    // assignment its dead server stored and never pushed. It runs it.
    if (this.drainedOut()) {
      this.log(`draining for longer than its patience: not starting ${ref.stageId}#${ref.attempt}; its lease will lapse`);
      return;
    }
    if (this.draining) this.log(`draining: taking ${ref.stageId}#${ref.attempt}, leased to this agent before its server died`);
    const attempt: RunningAttempt = {
      ref,
      abort: new AbortController(),
      outbox: [],
      unackedBytes: 0,
      wakers: [],
      done: Promise.resolve(),
      fenced: false,
    };
    this.attempts.set(key(ref), attempt);
    // The next assignment may come before this stage ends: the spare this one takes is replaced now, not after its result.
    if (this.attempts.size > 1) setImmediate(() => this.shells.refill());
    attempt.done = this.execute(assignment, attempt)
      .catch((error: unknown) => this.log(`attempt ${key(ref)} crashed: ${String(error)}`))
      .finally(() => {
        this.attempts.delete(key(ref));
        if (this.draining) void this.stopWhenIdle();
      });
  }

  private async execute(assignment: AssignmentMessage, attempt: RunningAttempt): Promise<void> {
    const ref = assignment.ref;
    // A stage that ends sooner reports only its result, with its output: one
    // message instead of three (protocol 3; a result implies the start).
    const startReport = setTimeout(() => this.report(attempt, { started: { ref } }), STARTED_REPORT_DELAY_MS);
    const batcher = new LogBatcher({
      firstMaxAgeMs: FIRST_OUTPUT_DELAY_MS,
      onChunk: (chunk) => this.report(attempt, { logs: { ref, chunks: [chunk] } }),
    });
    const maxUnacked = this.maxUnacked;
    const afterResult: (() => Promise<void>)[] = [];
    let result: StageResult;
    try {
      result = await runAttempt(assignment, {
        client: () => this.connected(),
        metadata: () => this.metadata(),
        output: (text) => batcher.push(text),
        signal: attempt.abort.signal,
        files: this.files,
        shells: this.shells,
        groups: this.groups ?? undefined,
        afterResult: (task) => afterResult.push(task),
        gate: {
          get open() {
            return attempt.unackedBytes < maxUnacked || attempt.abort.signal.aborted;
          },
          whenOpen: () => new Promise<void>((resolve) => attempt.wakers.push(resolve)),
        },
      });
    } finally {
      clearTimeout(startReport);
    }
    const tail = batcher.take();
    this.report(attempt, {
      finished: { ref, outcome: result.outcome, exitCode: result.exitCode ?? -1, reason: result.reason ?? "", logs: tail ? [tail] : [] },
    });
    // After the result is on its way, not while the stage runs: the start of
    // the next spare blocks this loop for as long as a fork and an exec take,
    // which would delay noticing the stage's end.
    setImmediate(() => this.shells.refill());
    for (const task of afterResult) await task().catch((error: unknown) => this.log(`cleaning up after ${key(ref)}: ${String(error)}`));
    await this.drained(attempt);
  }

  private report(attempt: RunningAttempt, message: AgentMessage): void {
    this.watchdog?.check();
    if (attempt.fenced) return;
    attempt.outbox.push(message);
    attempt.unackedBytes += logBytes(message);
    this.send(message);
  }

  private send(message: AgentMessage): void {
    this.watchdog?.check();
    const stream = this.stream;
    if (stream && !stream.writableEnded && !stream.destroyed) stream.write(message);
  }

  /** Resolves when the server has acknowledged every report of the attempt (or the agent stops). */
  private async drained(attempt: RunningAttempt): Promise<void> {
    while (attempt.outbox.length > 0 && !(this.stopping && !this.stream) && !this.drainedOut()) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Draining, and for longer than the server had to come back. */
  private drainedOut(): boolean {
    return this.draining && Date.now() - this.drainingSince > this.drainPatienceMs;
  }

  /** A heartbeat: the attempts this agent runs, checked against the self-fencing deadline first. */
  private beat(): void {
    this.watchdog?.check();
    if (this.draining) void this.stopWhenIdle();
    this.send({ heartbeat: { running: this.runningRefs() } });
  }

  private runningRefs(): AttemptRefMessage[] {
    return [...this.attempts.values()].filter((a) => !a.fenced).map((a) => a.ref);
  }
}

function logBytes(m: AgentMessage): number {
  const chunks = m.logs?.chunks ?? m.finished?.logs ?? [];
  return chunks.reduce((n, c) => n + c.data.length, 0);
}
