/**
 * Fail-over's directory: this control plane announces itself in the store's
 * node registry (where its agents dial it, its CA) and renews that while it
 * lives; it reads the live peers back, trusts their CAs for agents' client
 * certificates (an agent of a peer that died fails over here), and hands the
 * peers to its agents, to dial when this process is gone.
 */
import { storeUnavailableReason } from "../store/store-unavailable.js";
import type { PeerMessage } from "../grpc/protocol.js";
import type { TrustedCas } from "../grpc/tls.js";
import { NodeRegistry, type ControlPlaneNode } from "../store/node-registry.js";
import type { Queryable } from "../store/database.js";

export interface ClusterPeersOptions {
  /** This process as it announces itself (its address is known once its listener is up). */
  self: () => ControlPlaneNode;
  /** How long an announcement lasts unless renewed (renewed three times as often). */
  ttlMs: number;
  trusted: TrustedCas;
  log: (message: string) => void;
}

export class ClusterPeers {
  private readonly registry: NodeRegistry;
  private current: PeerMessage[] = [];
  private readonly listeners = new Set<(peers: readonly PeerMessage[]) => void>();
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    db: Queryable,
    private readonly options: ClusterPeersOptions,
  ) {
    this.registry = new NodeRegistry(db);
  }

  /** Announces this process and reads its peers once, then keeps both up to date. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), Math.max(100, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  /** The live peers, as agents are told them. */
  get peers(): readonly PeerMessage[] {
    return this.current;
  }

  onChange(listener: (peers: readonly PeerMessage[]) => void): void {
    this.listeners.add(listener);
  }

  private async refresh(): Promise<void> {
    try {
      const self = this.options.self();
      await this.registry.announce(self, this.options.ttlMs);
      const live = await this.registry.livePeers(self.nodeId);
      this.options.trusted.setPeers(await this.registry.caCertificates());
      const next = live.map((p) => ({ address: p.agentAddress, caPem: p.caCertPem }));
      if (this.failing) this.options.log("the node registry answers again");
      this.failing = false;
      if (JSON.stringify(next) === JSON.stringify(this.current)) return;
      this.current = next;
      for (const listener of this.listeners) listener(next);
    } catch (error) {
      // The store is away: the last peers stand; the engine says what waits for it.
      if (!this.failing) this.options.log(`could not renew this node in the node registry: ${storeUnavailableReason(error) ?? (error as Error).message}`);
      this.failing = true;
    }
  }
}
